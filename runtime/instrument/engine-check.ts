/** V8's own validation of the original bytes, shared by `instrument()` and `compile()`. */
import { ValidationError } from '../errors.ts';

/** A module V8 rejects is never ours to rewrite or run: a coded ValidationError with V8's reason. */
export function checkWithEngine(wasm: Uint8Array): void {
  if (WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>)) return;
  let detail = 'invalid module';
  try {
    new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
  } catch (e) {
    detail = (e as Error).message.replace(/^WebAssembly\.Module\(\): /, '');
  }
  throw new ValidationError('DL_ERR_MODULE_INVALID', `module failed WebAssembly validation: ${detail}`, {});
}

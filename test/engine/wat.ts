/** Test helper: WebAssembly text → binary through wabt (features of Wasm 2.0 enabled). */
import wabtInit from 'wabt';

const wabt = await wabtInit();

export function wat(text: string): Uint8Array {
  const mod = wabt.parseWat('test.wat', text, {
    simd: true,
    reference_types: true,
    bulk_memory: true,
    multi_value: true,
    sign_extension: true,
    sat_float_to_int: true,
  });
  try {
    mod.resolveNames();
    mod.validate();
    return new Uint8Array(mod.toBinary({ write_debug_names: true }).buffer);
  } finally {
    mod.destroy();
  }
}

/**
 * The boundary adapter: a tiny (uninstrumented) module that imports one wasm function and exports
 * it with every f32 as i32 bits, f64 as i64 bits and v128 as two i64 halves (low, high), both ways.
 * JS cannot pass v128 at all and turns float NaN payloads into JS numbers (quietening signalling
 * NaNs), so every call whose signature holds such a type goes through one of these. Adapter
 * modules are compiled once per signature and instantiated once per target function.
 *
 *   (func (param <adapted params>) (result <adapted results>)
 *     <each param, rebuilt: f32.reinterpret_i32 | f64.reinterpret_i64 | i64x2.splat + replace_lane 1>
 *     call $target
 *     <results parked in locals, then pushed back split: i32.reinterpret_f32 | i64.reinterpret_f64 |
 *      i64x2.extract_lane 0, 1>)
 */
import { Writer } from '../../../runtime/instrument/bytes.ts';
import { VT } from './values.ts';

function adapted(types: Uint8Array): number[] {
  const out: number[] = [];
  for (const t of types) {
    if (t === VT.f32) out.push(VT.i32);
    else if (t === VT.f64 || t === VT.v128) out.push(VT.i64);
    else out.push(t);
    if (t === VT.v128) out.push(VT.i64);
  }
  return out;
}

function section(w: Writer, id: number, content: Writer): void {
  w.u8(id).sized(content.finish());
}

/** The adapter module's bytes for a target of type (params) → (results). */
export function adapterBytes(params: Uint8Array, results: Uint8Array): Uint8Array {
  const w = new Writer(256);
  w.bytes(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00));
  const ap = adapted(params);
  const ar = adapted(results);

  const types = new Writer();
  types.u32(2);
  types.u8(0x60).u32(params.length).bytes(params).u32(results.length).bytes(results);
  types.u8(0x60).u32(ap.length).bytes(Uint8Array.from(ap)).u32(ar.length).bytes(Uint8Array.from(ar));
  section(w, 1, types);

  const imports = new Writer();
  imports.u32(1).name('t').name('f').u8(0x00).u32(0);
  section(w, 2, imports);

  const funcs = new Writer();
  funcs.u32(1).u32(1);
  section(w, 3, funcs);

  const exports = new Writer();
  exports.u32(1).name('f').u8(0x00).u32(1);
  section(w, 7, exports);

  const body = new Writer();
  // One local per original result, to reorder the results on the way out.
  body.u32(results.length);
  for (const t of results) body.u32(1).u8(t);
  let p = 0;
  for (const t of params) {
    body.u8(0x20).u32(p++); // local.get
    if (t === VT.f32)
      body.u8(0xbe); // f32.reinterpret_i32
    else if (t === VT.f64)
      body.u8(0xbf); // f64.reinterpret_i64
    else if (t === VT.v128) {
      body.u8(0xfd).u32(18); // i64x2.splat
      body.u8(0x20).u32(p++);
      body.u8(0xfd).u32(30).u8(1); // i64x2.replace_lane 1
    }
  }
  body.u8(0x10).u32(0); // call $target
  const base = ap.length;
  for (let i = results.length - 1; i >= 0; i--) body.u8(0x21).u32(base + i); // local.set
  for (let i = 0; i < results.length; i++) {
    const t = results[i]!;
    body.u8(0x20).u32(base + i);
    if (t === VT.f32)
      body.u8(0xbc); // i32.reinterpret_f32
    else if (t === VT.f64)
      body.u8(0xbd); // i64.reinterpret_f64
    else if (t === VT.v128) {
      body.u8(0xfd).u32(29).u8(0); // i64x2.extract_lane 0
      body.u8(0x20).u32(base + i);
      body.u8(0xfd).u32(29).u8(1);
    }
  }
  body.u8(0x0b);
  const code = new Writer();
  code.u32(1).sized(body.finish());
  section(w, 10, code);
  return w.finish();
}

const modules = new Map<string, WebAssembly.Module>();
const adapters = new WeakMap<object, (...args: unknown[]) => unknown>();

/** The adapted form of `target` (a wasm function of the given type). */
export function adapt(target: object, params: Uint8Array, results: Uint8Array): (...args: unknown[]) => unknown {
  let f = adapters.get(target);
  if (f !== undefined) return f;
  const key = `${params.join(',')}>${results.join(',')}`;
  let mod = modules.get(key);
  if (mod === undefined) {
    mod = new WebAssembly.Module(adapterBytes(params, results) as Uint8Array<ArrayBuffer>);
    modules.set(key, mod);
  }
  const inst = new WebAssembly.Instance(mod, { t: { f: target as WebAssembly.ImportValue } });
  f = inst.exports.f as (...args: unknown[]) => unknown;
  adapters.set(target, f);
  return f;
}

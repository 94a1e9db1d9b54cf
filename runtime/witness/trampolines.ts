/**
 * Host-call trampolines: a small generated wasm module between the guest and docklock's host
 * functions that captures, inside wasm, what the witness needs from the guest's side of a call
 * (spec: witness.md#H4).
 *
 * For each wrapped import it exports a function of the import's own type which
 *   1. stores the fuel used so far (an i64, read through `call_indirect` from the instance's fuel
 *      helper, `Instance.fuelUsedFunction`) at `SCRATCH_FUEL`,
 *   2. stores the arguments as raw words at `SCRATCH_ARGS` (an i32 in one word, an i64 in two,
 *      low first: the argument layout of a witness log record, runtime/witness/log.ts),
 *   3. calls the JavaScript host function with the same arguments.
 *
 * Reading the fuel from JavaScript costs a JS → wasm call per host call, and sorting JavaScript
 * values into kinds a type check per value. The JavaScript side (`HostCalls`) copies the words
 * into the log after the call and adds the result and the writes.
 *
 * Only i32 and i64 parameters and results are captured here (every docklock and WASI import), at
 * most 15 parameters; an import of any other type keeps the plain JavaScript path.
 * The trampolines observe and forward values and run no guest code, so they change nothing a guest
 * can observe: a run gives the same witness with or without them (test/cage/trampolines.test.ts).
 *
 * @module
 */
import { Writer } from '../instrument/bytes.ts';
import { VALTYPE } from '../instrument/opcodes.ts';
import type { FuncType } from '../instrument/module.ts';

const I32 = VALTYPE.i32;
const I64 = VALTYPE.i64;
/** Most parameters a captured import may have. */
export const TRAMPOLINE_MAX_PARAMS = 15;
/** Scratch layout, in bytes (little-endian, as wasm memory always is). */
export const SCRATCH_FUEL = 8;
export const SCRATCH_ARGS = 16;

/** Whether an import of type `t` can go through a trampoline. */
export function trampolinable(t: FuncType): boolean {
  if (t.params.length > TRAMPOLINE_MAX_PARAMS || t.results.length > 1) return false;
  for (const p of t.params) if (p !== I32 && p !== I64) return false;
  for (const r of t.results) if (r !== I32 && r !== I64) return false;
  return true;
}

const OP = {
  end: 0x0b,
  call: 0x10,
  call_indirect: 0x11,
  local_get: 0x20,
  i32_store: 0x36,
  i64_store: 0x37,
  i32_const: 0x41,
  i64_const: 0x42,
} as const;

function section(out: Writer, id: number, body: Writer): void {
  out.u8(id).sizedFrom(body);
}

function funcType(w: Writer, params: readonly number[], results: readonly number[]): void {
  w.u8(0x60).u32(params.length);
  for (const p of params) w.u8(p);
  w.u32(results.length);
  for (const r of results) w.u8(r);
}

function body(code: Writer, emit: (c: Writer) => void): void {
  const c = new Writer(256);
  c.u32(0); // no locals
  emit(c);
  c.u8(OP.end);
  code.sizedFrom(c);
}

/**
 * The trampoline module for imports of the given types (each `trampolinable`). Imports `h.f<k>`
 * (the JavaScript host functions, in order) and `h.scratch` (a memory of exactly one page);
 * exports `t<k>` (the trampolines) and `fuel` (a one-slot funcref table holding the `() -> i64`
 * fuel reader, initially a function returning 0, as the witness records fuel before an instance
 * exists).
 */
export function trampolineModuleBytes(types: readonly FuncType[]): Uint8Array {
  const n = types.length;
  // Type indices: 0 = () -> i64, 1 + k = import k.
  const typeSec = new Writer();
  typeSec.u32(1 + n);
  funcType(typeSec, [], [I64]);
  for (const t of types) funcType(typeSec, [...t.params], [...t.results]);
  const importSec = new Writer();
  importSec.u32(n + 1);
  for (let k = 0; k < n; k++) {
    importSec.name('h');
    importSec.name(`f${k}`);
    importSec.u8(0x00).u32(1 + k);
  }
  // The scratch memory: one page, made by the caller so the host functions can hold views of it.
  importSec.name('h');
  importSec.name('scratch');
  importSec.u8(0x02).u8(0x01).u32(1).u32(1);
  // Function indices: imports 0..n-1, then $zero = n, trampolines n+1+k.
  const ZERO = n;
  const funcSec = new Writer();
  funcSec.u32(1 + n).u32(0);
  for (let k = 0; k < n; k++) funcSec.u32(1 + k);
  const tableSec = new Writer().u32(1).u8(0x70).u8(0x01).u32(1).u32(1);
  const exportSec = new Writer();
  exportSec.u32(n + 1);
  exportSec.name('fuel');
  exportSec.u8(0x01).u32(0);
  for (let k = 0; k < n; k++) {
    exportSec.name(`t${k}`);
    exportSec.u8(0x00).u32(n + 1 + k);
  }
  // Active element segment: table 0, offset 0, [$zero].
  const elemSec = new Writer().u32(1).u32(0).u8(OP.i32_const).s32(0).u8(OP.end).u32(1).u32(ZERO);
  const code = new Writer();
  code.u32(1 + n);
  body(code, (c) => c.u8(OP.i64_const).s64n(0));
  for (let k = 0; k < n; k++) {
    const params = types[k].params;
    body(code, (c) => {
      // scratch[FUEL] = fuel used
      c.u8(OP.i32_const).s32(SCRATCH_FUEL);
      c.u8(OP.i32_const).s32(0).u8(OP.call_indirect).u32(0).u32(0);
      c.u8(OP.i64_store).u32(3).u32(0);
      // scratch[ARGS + 4·word] = each argument
      let word = 0;
      params.forEach((t, j) => {
        c.u8(OP.i32_const).s32(0).u8(OP.local_get).u32(j);
        if (t === I64)
          c.u8(OP.i64_store)
            .u32(2)
            .u32(SCRATCH_ARGS + 4 * word);
        else
          c.u8(OP.i32_store)
            .u32(2)
            .u32(SCRATCH_ARGS + 4 * word);
        word += t === I64 ? 2 : 1;
      });
      params.forEach((_, j) => c.u8(OP.local_get).u32(j));
      c.u8(OP.call).u32(k);
    });
  }
  const out = new Writer(1024);
  out.bytes(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00));
  section(out, 1, typeSec);
  section(out, 2, importSec);
  section(out, 3, funcSec);
  section(out, 4, tableSec);
  section(out, 7, exportSec);
  section(out, 9, elemSec);
  section(out, 10, code);
  return out.finish();
}

const MODULE_CACHE_MAX = 64;
const moduleCache = new Map<string, WebAssembly.Module>();

const typeKeys = new WeakMap<FuncType, string>();

/** A function type as text, for comparing and caching types (kept per type object: a compiled module's types are reused by every run). */
export function funcTypeKey(t: FuncType): string {
  let key = typeKeys.get(t);
  if (key === undefined) {
    key = `${String.fromCharCode(...t.params)}>${String.fromCharCode(...t.results)}`;
    typeKeys.set(t, key);
  }
  return key;
}

/** The compiled trampoline module for these import types (compiled once per type list). */
export function trampolineModule(types: readonly FuncType[]): WebAssembly.Module {
  const key = types.map(funcTypeKey).join(';');
  let m = moduleCache.get(key);
  if (m === undefined) {
    m = new WebAssembly.Module(trampolineModuleBytes(types) as BufferSource);
    if (moduleCache.size >= MODULE_CACHE_MAX) moduleCache.delete(moduleCache.keys().next().value!);
    moduleCache.set(key, m);
  }
  return m;
}

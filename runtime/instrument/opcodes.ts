/**
 * Opcode tables for the WebAssembly 2.0 core instruction set (core spec §5.4): the immediate
 * layout of each opcode and its static operand-stack effect. Opcodes whose effect depends on a
 * type (calls, blocks, select with types) are marked `DYNAMIC` and handled by the analysis.
 * Opcodes outside docklock's feature set are marked with the proposal that owns them, so the
 * validator can name it in its error.
 */

export const Imm = {
  None: 0,
  BlockType: 1,
  Label: 2,
  BrTable: 3,
  Func: 4,
  CallIndirect: 5,
  Local: 6,
  Global: 7,
  Table: 8,
  MemArg: 9,
  MemIdx: 10,
  I32: 11,
  I64: 12,
  F32: 13,
  F64: 14,
  SelectT: 15,
  RefType: 16,
  PrefixFC: 17,
  PrefixFD: 18,
  Unsupported: 19,
} as const;
export type Imm = (typeof Imm)[keyof typeof Imm];

/** Marks a pops/pushes entry whose value the analysis derives from types. */
export const DYNAMIC = -1;

const imm = new Uint8Array(256).fill(Imm.Unsupported);
const pops = new Int8Array(256).fill(DYNAMIC);
const pushes = new Int8Array(256).fill(DYNAMIC);
/** Which proposal an unsupported single-byte opcode belongs to, for error messages. */
export const UNSUPPORTED_PROPOSAL: Record<number, string> = {};

function def(op: number, kind: Imm, p: number, q: number): void {
  imm[op] = kind;
  pops[op] = p;
  pushes[op] = q;
}
function range(from: number, to: number, kind: Imm, p: number, q: number): void {
  for (let op = from; op <= to; op++) def(op, kind, p, q);
}

// Control (§5.4.1).
def(0x00, Imm.None, 0, 0); // unreachable
def(0x01, Imm.None, 0, 0); // nop
def(0x02, Imm.BlockType, DYNAMIC, DYNAMIC);
def(0x03, Imm.BlockType, DYNAMIC, DYNAMIC);
def(0x04, Imm.BlockType, DYNAMIC, DYNAMIC);
def(0x05, Imm.None, DYNAMIC, DYNAMIC); // else
def(0x0b, Imm.None, DYNAMIC, DYNAMIC); // end
def(0x0c, Imm.Label, DYNAMIC, DYNAMIC);
def(0x0d, Imm.Label, 1, 0); // br_if: the condition; the label's values stay
def(0x0e, Imm.BrTable, DYNAMIC, DYNAMIC);
def(0x0f, Imm.None, DYNAMIC, DYNAMIC); // return
def(0x10, Imm.Func, DYNAMIC, DYNAMIC);
def(0x11, Imm.CallIndirect, DYNAMIC, DYNAMIC);
for (const op of [0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f]) UNSUPPORTED_PROPOSAL[op] = 'exception-handling';
for (const op of [0x12, 0x13]) UNSUPPORTED_PROPOSAL[op] = 'tail-call';
for (const op of [0x14, 0x15, 0xd3, 0xd4, 0xd5, 0xd6]) UNSUPPORTED_PROPOSAL[op] = 'function-references/gc';
UNSUPPORTED_PROPOSAL[0xfb] = 'gc';
UNSUPPORTED_PROPOSAL[0xfe] = 'threads (atomics)';

// Parametric (§5.4.2).
def(0x1a, Imm.None, 1, 0); // drop
def(0x1b, Imm.None, 3, 1); // select
def(0x1c, Imm.SelectT, 3, 1);

// Variable (§5.4.3).
def(0x20, Imm.Local, 0, 1);
def(0x21, Imm.Local, 1, 0);
def(0x22, Imm.Local, 1, 1);
def(0x23, Imm.Global, 0, 1);
def(0x24, Imm.Global, 1, 0);

// Table (§5.4.4).
def(0x25, Imm.Table, 1, 1);
def(0x26, Imm.Table, 2, 0);

// Memory (§5.4.5).
range(0x28, 0x35, Imm.MemArg, 1, 1); // loads
range(0x36, 0x3e, Imm.MemArg, 2, 0); // stores
def(0x3f, Imm.MemIdx, 0, 1); // memory.size
def(0x40, Imm.MemIdx, 1, 1); // memory.grow

// Numeric (§5.4.7).
def(0x41, Imm.I32, 0, 1);
def(0x42, Imm.I64, 0, 1);
def(0x43, Imm.F32, 0, 1);
def(0x44, Imm.F64, 0, 1);
def(0x45, Imm.None, 1, 1); // i32.eqz
range(0x46, 0x4f, Imm.None, 2, 1);
def(0x50, Imm.None, 1, 1); // i64.eqz
range(0x51, 0x66, Imm.None, 2, 1); // i64/f32/f64 comparisons
range(0x67, 0x69, Imm.None, 1, 1);
range(0x6a, 0x78, Imm.None, 2, 1);
range(0x79, 0x7b, Imm.None, 1, 1);
range(0x7c, 0x8a, Imm.None, 2, 1);
range(0x8b, 0x91, Imm.None, 1, 1);
range(0x92, 0x98, Imm.None, 2, 1);
range(0x99, 0x9f, Imm.None, 1, 1);
range(0xa0, 0xa6, Imm.None, 2, 1);
range(0xa7, 0xc4, Imm.None, 1, 1); // conversions, reinterpretations, sign extension

// Reference (§5.4.6).
def(0xd0, Imm.RefType, 0, 1);
def(0xd1, Imm.None, 1, 1);
def(0xd2, Imm.Func, 0, 1);

def(0xfc, Imm.PrefixFC, DYNAMIC, DYNAMIC);
def(0xfd, Imm.PrefixFD, DYNAMIC, DYNAMIC);

export const OP_IMM: Readonly<Uint8Array> = imm;
export const OP_POPS: Readonly<Int8Array> = pops;
export const OP_PUSHES: Readonly<Int8Array> = pushes;

/** 0xFC sub-opcodes (saturating truncation, bulk memory, reference types tables). */
export const FC_LAST = 17;
export const FC_POPS = /* @__PURE__ */ Int8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 3, 3, 3, 0, 3, 2, 0, 3]);
export const FC_PUSHES = /* @__PURE__ */ Int8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0]);

/** 0xFD (SIMD) sub-opcodes: immediate layout. */
export const SimdImm = {
  None: 0,
  MemArg: 1,
  MemArgLane: 2,
  V128: 3,
  Lane: 4,
  Reserved: 5,
} as const;
export type SimdImm = (typeof SimdImm)[keyof typeof SimdImm];

const simdImm = new Uint8Array(256).fill(SimdImm.None);
const simdPops = new Int8Array(256).fill(1);
const simdPushes = new Int8Array(256).fill(1);
function simd(from: number, to: number, kind: SimdImm, p: number, q: number): void {
  for (let op = from; op <= to; op++) {
    simdImm[op] = kind;
    simdPops[op] = p;
    simdPushes[op] = q;
  }
}
simd(0, 10, SimdImm.MemArg, 1, 1); // v128 loads
simd(11, 11, SimdImm.MemArg, 2, 0); // v128.store
simd(12, 12, SimdImm.V128, 0, 1); // v128.const
simd(13, 13, SimdImm.V128, 2, 1); // i8x16.shuffle (16 lane bytes)
simd(14, 14, SimdImm.None, 2, 1); // swizzle
simd(15, 20, SimdImm.None, 1, 1); // splats
for (const op of [21, 22, 24, 25, 27, 29, 31, 33]) simd(op, op, SimdImm.Lane, 1, 1); // extract_lane
for (const op of [23, 26, 28, 30, 32, 34]) simd(op, op, SimdImm.Lane, 2, 1); // replace_lane
simd(35, 76, SimdImm.None, 2, 1); // comparisons
simd(77, 77, SimdImm.None, 1, 1); // v128.not
simd(78, 81, SimdImm.None, 2, 1); // and andnot or xor
simd(82, 82, SimdImm.None, 3, 1); // bitselect
simd(83, 83, SimdImm.None, 1, 1); // any_true
simd(84, 87, SimdImm.MemArgLane, 2, 1); // load lane
simd(88, 91, SimdImm.MemArgLane, 2, 0); // store lane
simd(92, 93, SimdImm.MemArg, 1, 1); // load zero
// 94..255: unary ops default to 1→1; binary ones listed here (shifts take v128 + i32).
for (const op of [
  101, 102, 107, 108, 109, 110, 111, 112, 113, 114, 115, 118, 119, 120, 121, 123, 130, 133, 134, 139, 140, 141, 142,
  143, 144, 145, 146, 147, 149, 150, 151, 152, 153, 155, 156, 157, 158, 159, 171, 172, 173, 174, 177, 181, 182, 183,
  184, 185, 186, 188, 189, 190, 191, 203, 204, 205, 206, 209, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223,
  228, 229, 230, 231, 232, 233, 234, 235, 240, 241, 242, 243, 244, 245, 246, 247,
]) {
  simd(op, op, SimdImm.None, 2, 1);
}
for (const op of [154, 162, 165, 166, 175, 176, 178, 179, 180, 187, 194, 197, 198, 207, 208, 210, 211, 212, 226, 238]) {
  simd(op, op, SimdImm.Reserved, 0, 0);
}

export const SIMD_IMM: Readonly<Uint8Array> = simdImm;
export const SIMD_POPS: Readonly<Int8Array> = simdPops;
export const SIMD_PUSHES: Readonly<Int8Array> = simdPushes;
/** Relaxed SIMD occupies 0xFD 0x100–0x113: non-deterministic across CPUs by design, so rejected. */
export const SIMD_RELAXED_FIRST = 0x100;

/**
 * Float operations whose NaN results differ across hardware, as canonicalised by Cranelift:
 * add, sub, mul, div, min, max, sqrt, ceil, floor, trunc, nearest, promote, demote.
 * Value: 1 = f32 result, 2 = f64 result.
 */
export const NAN_SCALAR: Readonly<Uint8Array> = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  for (const op of [0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0xb6]) t[op] = 1;
  for (const op of [0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xbb]) t[op] = 2;
  return t;
})();

/** SIMD counterparts: 3 = f32x4 result, 4 = f64x2 result. */
export const NAN_SIMD: Readonly<Uint8Array> = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  for (const op of [94, 103, 104, 105, 106, 227, 228, 229, 230, 231, 232, 233]) t[op] = 3;
  for (const op of [95, 116, 117, 122, 148, 239, 240, 241, 242, 243, 244, 245]) t[op] = 4;
  return t;
})();

/** Value type bytes (§5.3.1). */
export const VALTYPE = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
  funcref: 0x70,
  externref: 0x6f,
} as const;

export function isValType(b: number): boolean {
  return b === 0x7f || b === 0x7e || b === 0x7d || b === 0x7c || b === 0x7b || b === 0x70 || b === 0x6f;
}

/**
 * Operators that consume the value on top of the stack without letting its NaN payload through:
 * canonicalised arithmetic (their own result is canonicalised), comparisons and float→int
 * conversions (which see only whether it is a NaN), and `drop`. When such an operator directly
 * follows a NaN-producing one, the first canonicalisation is redundant (spec: nan.md#N4).
 * Value: 1 = consumes an f32, 2 = an f64, 3 = either (drop).
 */
export const NAN_BLIND_CONSUMER: Readonly<Uint8Array> = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  for (let op = 0x5b; op <= 0x60; op++) t[op] = 1; // f32 comparisons
  for (let op = 0x61; op <= 0x66; op++) t[op] = 2; // f64 comparisons
  for (let op = 0x8d; op <= 0x97; op++) t[op] = 1; // f32 ceil..max
  for (let op = 0x9b; op <= 0xa5; op++) t[op] = 2; // f64 ceil..max
  for (const op of [0xa8, 0xa9, 0xae, 0xaf, 0xbb]) t[op] = 1; // i32/i64.trunc_f32_s/u, f64.promote_f32
  for (const op of [0xaa, 0xab, 0xb0, 0xb1, 0xb6]) t[op] = 2; // i32/i64.trunc_f64_s/u, f32.demote_f64
  t[0x1a] = 3; // drop
  return t;
})();

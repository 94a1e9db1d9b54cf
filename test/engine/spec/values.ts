/**
 * Spec-test values: turning wast2json arguments into what crosses the JS boundary, turning results
 * back into exact bit patterns, and checking them against the script's expectations.
 *
 * Floats and v128 never cross the boundary as JS numbers (that would quieten signalling NaNs and
 * v128 cannot cross at all): calls with such types go through an adapter module (adapter.ts) that
 * passes f32 as i32 bits, f64 as i64 bits and v128 as two i64 halves. So every comparison here is
 * on exact bits.
 */
import type { SpecValue } from './script.ts';

/** A result as exact bits (integers and floats as unsigned bigints), or a reference as is. */
export type Val =
  | { t: 'i32' | 'i64' | 'f32' | 'f64'; bits: bigint }
  | { t: 'v128'; lo: bigint; hi: bigint }
  | { t: 'ref'; ref: unknown };

export const VT = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b, funcref: 0x70, externref: 0x6f } as const;

/** Whether a signature needs the adapter (anything a JS number or nothing at all would carry inexactly). */
export function needsAdapter(types: Uint8Array): boolean {
  for (const t of types) if (t === VT.f32 || t === VT.f64 || t === VT.v128) return true;
  return false;
}

const hostRefs = new Map<number, object>();

/** The host reference `ref.extern n`: one frozen object per number, shared by both worlds. */
export function hostRef(n: number): object {
  let r = hostRefs.get(n);
  if (r === undefined) {
    r = Object.freeze({ hostRef: n });
    hostRefs.set(n, r);
  }
  return r;
}

const LANES: Record<string, { bytes: number; count: number }> = {
  i8: { bytes: 1, count: 16 },
  i16: { bytes: 2, count: 8 },
  i32: { bytes: 4, count: 4 },
  f32: { bytes: 4, count: 4 },
  i64: { bytes: 8, count: 2 },
  f64: { bytes: 8, count: 2 },
};

function lanesOf(v: SpecValue): string[] {
  if (!Array.isArray(v.value)) throw new Error(`v128 value without lanes: ${JSON.stringify(v)}`);
  return v.value;
}

/** A v128 constant as its two little-endian 64-bit halves. */
function v128Halves(v: SpecValue): [bigint, bigint] {
  const shape = LANES[v.lane_type ?? ''];
  if (shape === undefined) throw new Error(`unknown v128 lane type ${String(v.lane_type)}`);
  let acc = 0n;
  const lanes = lanesOf(v);
  for (let i = 0; i < shape.count; i++) {
    const bits = BigInt.asUintN(shape.bytes * 8, BigInt(lanes[i]!));
    acc |= bits << BigInt(i * shape.bytes * 8);
  }
  return [BigInt.asUintN(64, acc), acc >> 64n];
}

/** The arguments of an invoke as JS values; `adapted` selects the adapter's bit-carrying encoding. */
export function argsToJs(args: readonly SpecValue[], adapted: boolean): unknown[] {
  const out: unknown[] = [];
  for (const a of args) {
    const v = typeof a.value === 'string' ? a.value : '';
    switch (a.type) {
      case 'i32':
        out.push(Number(v) | 0);
        break;
      case 'i64':
        out.push(BigInt.asIntN(64, BigInt(v)));
        break;
      case 'f32':
        if (!adapted) throw new Error('f32 argument outside the adapter');
        out.push(Number(v) | 0);
        break;
      case 'f64':
        if (!adapted) throw new Error('f64 argument outside the adapter');
        out.push(BigInt.asIntN(64, BigInt(v)));
        break;
      case 'v128': {
        if (!adapted) throw new Error('v128 argument outside the adapter');
        const [lo, hi] = v128Halves(a);
        out.push(BigInt.asIntN(64, lo), BigInt.asIntN(64, hi));
        break;
      }
      case 'externref':
        out.push(v === 'null' ? null : hostRef(Number(v)));
        break;
      case 'funcref':
        if (v !== 'null') throw new Error(`funcref argument ${v} cannot be built from JS`);
        out.push(null);
        break;
      default:
        throw new Error(`unknown argument type ${a.type}`);
    }
  }
  return out;
}

function asInt(x: unknown): bigint {
  if (typeof x === 'bigint') return x;
  if (typeof x === 'number' && Number.isInteger(x)) return BigInt(x);
  throw new Error(`expected an integer from the boundary, got ${typeof x} ${String(x)}`);
}

/**
 * A call's JS result as exact values. `types` are the function's original result types; with
 * `adapted`, floats arrive as integer bits and each v128 as two i64 halves.
 */
export function resultsFromJs(ret: unknown, types: Uint8Array, adapted: boolean): Val[] {
  let atomCount = 0;
  for (const t of types) atomCount += adapted && t === VT.v128 ? 2 : 1;
  const atoms: unknown[] = atomCount === 0 ? [] : atomCount === 1 ? [ret] : Array.from(ret as Iterable<unknown>);
  if (atoms.length !== atomCount) throw new Error(`expected ${atomCount} result values, got ${atoms.length}`);
  const out: Val[] = [];
  let k = 0;
  for (const t of types) {
    switch (t) {
      case VT.i32:
        out.push({ t: 'i32', bits: BigInt.asUintN(32, asInt(atoms[k++])) });
        break;
      case VT.i64:
        out.push({ t: 'i64', bits: BigInt.asUintN(64, asInt(atoms[k++])) });
        break;
      case VT.f32:
        out.push({ t: 'f32', bits: BigInt.asUintN(32, asInt(atoms[k++])) });
        break;
      case VT.f64:
        out.push({ t: 'f64', bits: BigInt.asUintN(64, asInt(atoms[k++])) });
        break;
      case VT.v128: {
        const lo = BigInt.asUintN(64, asInt(atoms[k++]));
        const hi = BigInt.asUintN(64, asInt(atoms[k++]));
        out.push({ t: 'v128', lo, hi });
        break;
      }
      default:
        out.push({ t: 'ref', ref: atoms[k++] });
    }
  }
  return out;
}

/** An exported global's value as exact bits (globals in the suite are read as i32/i64/f32/f64/refs). */
export function globalValue(g: WebAssembly.Global, type: number): Val {
  const v: unknown = g.value;
  const dv = new DataView(new ArrayBuffer(8));
  switch (type) {
    case VT.i32:
      return { t: 'i32', bits: BigInt.asUintN(32, asInt(v)) };
    case VT.i64:
      return { t: 'i64', bits: BigInt.asUintN(64, asInt(v)) };
    case VT.f32:
      dv.setFloat32(0, v as number, true);
      return { t: 'f32', bits: BigInt(dv.getUint32(0, true)) };
    case VT.f64:
      dv.setFloat64(0, v as number, true);
      return { t: 'f64', bits: dv.getBigUint64(0, true) };
    case VT.funcref:
    case VT.externref:
      return { t: 'ref', ref: v };
    default:
      throw new Error(`cannot read a global of type 0x${type.toString(16)} from JS`);
  }
}

/**
 * How NaN classes are judged: the spec's rules (plain V8), or docklock's contract, under which every
 * NaN an arithmetic op produces is canonical, so `nan:arithmetic` must be canonical too. (The sign
 * is free: docklock's canonical NaN is positive, but `neg`/`copysign` of it are bit operations the
 * spec leaves alone.)
 */
export type NanRule = 'spec' | 'canonical';

const F32 = { canon: 0x7fc00000n, abs: 0x7fffffffn };
const F64 = { canon: 0x7ff8000000000000n, abs: 0x7fffffffffffffffn };

function nanMatches(cls: string, bits: bigint, width: 32 | 64, rule: NanRule): boolean {
  const k = width === 32 ? F32 : F64;
  if (cls === 'nan:canonical' || rule === 'canonical') return (bits & k.abs) === k.canon;
  if (cls === 'nan:arithmetic') return (bits & k.canon) === k.canon;
  throw new Error(`unknown NaN class ${cls}`);
}

function hex(bits: bigint, width: number): string {
  return '0x' + bits.toString(16).padStart(width / 4, '0');
}

/** Checks one float or integer lane / scalar; returns a description of the difference, or undefined. */
function checkBits(
  expected: string,
  bits: bigint,
  width: 32 | 64 | 16 | 8,
  float: boolean,
  rule: NanRule,
): string | undefined {
  if (expected.startsWith('nan:')) {
    if (!float || (width !== 32 && width !== 64)) return `NaN class ${expected} on an integer`;
    return nanMatches(expected, bits, width, rule)
      ? undefined
      : `expected ${expected}${rule === 'canonical' ? ' (docklock: canonical)' : ''}, got ${hex(bits, width)}`;
  }
  const want = BigInt.asUintN(width, BigInt(expected));
  return want === bits ? undefined : `expected ${hex(want, width)}, got ${hex(bits, width)}`;
}

/** Whether a result satisfies the script's expectation; returns what differs, or undefined. */
export function checkValue(exp: SpecValue, got: Val, rule: NanRule): string | undefined {
  const v = exp.value;
  switch (exp.type) {
    case 'i32':
    case 'i64':
    case 'f32':
    case 'f64': {
      if (got.t !== exp.type) return `expected ${exp.type}, got ${got.t}`;
      const width = exp.type.endsWith('32') ? 32 : 64;
      return checkBits(String(v), got.bits, width, exp.type[0] === 'f', rule);
    }
    case 'v128': {
      if (got.t !== 'v128') return `expected v128, got ${got.t}`;
      const shape = LANES[exp.lane_type ?? '']!;
      const all = got.lo | (got.hi << 64n);
      const lanes = lanesOf(exp);
      const diffs: string[] = [];
      for (let i = 0; i < shape.count; i++) {
        const width = (shape.bytes * 8) as 8 | 16 | 32 | 64;
        const bits = BigInt.asUintN(width, all >> BigInt(i * width));
        const d = checkBits(lanes[i]!, bits, width, exp.lane_type![0] === 'f', rule);
        if (d !== undefined) diffs.push(`lane ${i}: ${d}`);
      }
      return diffs.length === 0 ? undefined : `${exp.lane_type}x${shape.count} ${diffs.join('; ')}`;
    }
    case 'externref': {
      if (got.t !== 'ref') return `expected externref, got ${got.t}`;
      const want = v === 'null' ? null : hostRef(Number(v));
      return got.ref === want ? undefined : `expected ref.extern ${String(v)}, got ${describeRef(got.ref)}`;
    }
    case 'funcref': {
      if (got.t !== 'ref') return `expected funcref, got ${got.t}`;
      if (v === 'null') return got.ref === null ? undefined : `expected ref.null func, got ${describeRef(got.ref)}`;
      return typeof got.ref === 'function' ? undefined : `expected a function reference, got ${describeRef(got.ref)}`;
    }
    default:
      return `unknown expected type ${exp.type}`;
  }
}

function describeRef(r: unknown): string {
  if (r === null) return 'null';
  if (typeof r === 'function') return 'a function';
  if (typeof r === 'object' && r !== null && 'hostRef' in r)
    return `ref.extern ${String((r as { hostRef: unknown }).hostRef)}`;
  return typeof r;
}

/** Checks a whole result list. */
export function checkResults(expected: readonly SpecValue[], got: readonly Val[], rule: NanRule): string | undefined {
  if (expected.length !== got.length) return `expected ${expected.length} results, got ${got.length}`;
  const diffs: string[] = [];
  expected.forEach((e, i) => {
    const d = checkValue(e, got[i]!, rule);
    if (d !== undefined) diffs.push(expected.length > 1 ? `result ${i}: ${d}` : d);
  });
  return diffs.length === 0 ? undefined : diffs.join(' | ');
}

/**
 * Pass 1 of the rewriter: one linear decode of a function body that
 *   - rejects opcodes outside docklock's feature set (naming the proposal and the offset),
 *   - splits the body into merged basic blocks ("segments") and sums each one's fuel cost,
 *   - computes the maximum operand-stack height (for the frame weight),
 *   - lists the points the emitter must patch (charges, returns, NaN sites, bulk operations).
 * It allocates nothing per instruction: patches go into three parallel number arrays.
 * The emitter (emit-body.ts) consumes the result; analysis and emission stay apart (fw `src/gas`).
 *
 * Segment rule (spec: spec/fuel.md#F3): a new segment starts at the function entry and right after
 * `loop`, `if`, `else`, `end`, `br`, `br_if`, `br_table`, `return` and `unreachable`. `block` does not
 * split a segment: control can only enter it by falling through, so its charge merges with the code
 * before it. Loop headers and the function entry also check the counter.
 */
import { Reader } from './bytes.ts';
import type { CostTable } from './cost-table.ts';
import type { FuncType, ParsedModule } from './module.ts';
import { unsupported } from './module.ts';
import {
  DYNAMIC,
  FC_LAST,
  FC_POPS,
  FC_PUSHES,
  Imm,
  NAN_SCALAR,
  NAN_SIMD,
  OP_IMM,
  OP_POPS,
  OP_PUSHES,
  SIMD_IMM,
  SIMD_POPS,
  SIMD_PUSHES,
  SIMD_RELAXED_FIRST,
  SimdImm,
  UNSUPPORTED_PROPOSAL,
  isValType,
  NAN_BLIND_CONSUMER,
} from './opcodes.ts';
import { foldSmallSegments } from './fold-segments.ts';
import { elideNans, LOCAL_OBSERVED, OBSERVED } from './nan-elision.ts';

export const Patch = {
  /** Charge `arg` fuel (no check). Inserted at `offset`. */
  Charge: 0,
  /** Charge `arg` fuel and check the counter (loop headers, function entry). */
  ChargeCheck: 1,
  /** Replace the 1-byte `return` at `offset` with `br arg`. */
  Return: 2,
  /** Canonicalise the NaN just produced; `arg` 1 f32, 2 f64, 3 f32x4, 4 f64x2. */
  Nan: 3,
  /** Before a bulk memory op: charge for the i32 length on top of the stack. */
  BulkMemory: 4,
  /** Before a table op with a length: charge for the i32 length on top of the stack. */
  BulkTable: 5,
  /** Before `memory.grow`: charge for the requested pages (clamped to the limit). */
  GrowMemory: 6,
  /** Replace the function's final `end` at `offset`. */
  FuncEnd: 7,
  /** Rewrite the local index immediate at `offset` (the original LEB) to `arg` (spec: stack.md#S7). */
  LocalIndex: 8,
  /** Before a `call` of a depth-passing function: push the callee's depth, caller's + `arg` (spec: stack.md#S7). */
  CallDepthArg: 9,
  /**
   * Before the first call of depth-passing functions in a segment: check the fuel counter and that
   * the caller's depth plus `arg` (the heaviest callee's weight) fits (spec: stack.md#S7).
   */
  CallSiteCheck: 10,
} as const;

export interface BodyAnalysis {
  /** Patch offsets (absolute, non-decreasing), kinds and arguments. */
  offsets: number[];
  kinds: number[];
  args: number[];
  maxHeight: number;
  /** Whether the body calls anything (a leaf needs no stack accounting). */
  calls: boolean;
  usesV128: boolean;
  nanKinds: number; // bit set of 1<<kind for kinds 1..4
  /** Total instruction count, for statistics. */
  instructions: number;
  /** Direct calls in live code: the charge patch of the segment each sits in, and the callee. */
  callSegs: number[];
  callees: number[];
  /** Functions this body takes a reference to (`ref.func`). */
  refFuncs: number[];
  /** Type indices of the `call_indirect`s in live code. */
  indirectTypes: number[];
  /** Bit set of the dynamic-charge helpers the body needs: 1 bytes, 2 table elements, 4 pages. */
  helpers: number;
  /** Offsets of the live direct calls (parallel to `callees`). */
  callAt: number[];
}

const UNKNOWN = -1;
const LOCAL_ORIGIN = -2;
/** `nanFate` of a NaN patch whose value has gone nowhere yet. */
const NO_FATE = -2;
/** Flags per local: it is a float (only those can hold a NaN), and some read of it is observed. */
const LOCAL_FLOAT = 1;
/** Scratch buffers larger than this are dropped after the body that needed them, not kept for the next. */
const KEEP_MAX = 1 << 20;

// What the main loop needs to know of an opcode, packed in one table so an instruction costs one
// load: its immediate kind, whether it has a case of its own ahead of the decoding by immediate
// kind, and for opcodes with a static stack effect the pops, the push, the NaN kind and whether it
// is a payload-blind consumer (spec: nan.md#N4).
const INFO_KIND = 0x1f;
const INFO_CONTROL = 1 << 5;
const INFO_STATIC = 1 << 6;
const INFO_POPS_SHIFT = 7; // 2 bits
const INFO_PUSHES = 1 << 9;
const INFO_NAN_SHIFT = 10; // 2 bits
const INFO_NAN_BLIND = 1 << 12;
const OP_INFO: Readonly<Int32Array> = /* @__PURE__ */ (() => {
  const t = new Int32Array(256);
  const control = [0x00, 0x02, 0x03, 0x04, 0x05, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x40];
  for (let op = 0; op < 256; op++) {
    let v = OP_IMM[op]!;
    if (control.includes(op)) v |= INFO_CONTROL;
    const p = OP_POPS[op]!;
    if (p !== DYNAMIC) {
      const q = OP_PUSHES[op]!;
      if (p > 3 || q > 1) throw new Error(`opcode 0x${op.toString(16)}: stack effect does not fit the opcode table`);
      v |= INFO_STATIC | (p << INFO_POPS_SHIFT) | (q === 1 ? INFO_PUSHES : 0);
    }
    v |= NAN_SCALAR[op]! << INFO_NAN_SHIFT;
    if (NAN_BLIND_CONSUMER[op] !== 0) v |= INFO_NAN_BLIND;
    t[op] = v;
  }
  return t;
})();

export { FOLD_PARENT_MAX, FOLD_SEGMENT_MAX } from './fold-segments.ts';

/** `a.fill(v, from, to)`, which is a call into the runtime: a loop is faster for the usual few elements. */
function fillU8(a: Uint8Array, v: number, from: number, to: number): void {
  if (to - from > 256) {
    a.fill(v, from, to);
    return;
  }
  for (let i = from; i < to; i++) a[i] = v;
}

function grownI32(a: Int32Array, need: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

function grownU8(a: Uint8Array, need: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/**
 * The analysis's working state. Closures created per body gave every call new function
 * identities, so V8 kept throwing away analyzeBody's optimised code ("wrong call target"); and the
 * per-body stacks and maps were most of the rewriter's garbage. One analyser's buffers serve body
 * after body, growing to the largest seen; only the results are allocated per body.
 */
export class BodyAnalyser {
  // Control stack: operand height at entry (below params), result arity, params, frame kind
  // (0 function, 1 block, 2 loop, 3 if), whether a branch targets it, the segment that was running
  // when the construct began and whether it was dead, and whether any path leaves the construct
  // other than through its end (a branch to an outer label, or return).
  cBase = new Int32Array(64);
  cResults = new Int32Array(64);
  cParams = new Int32Array(64);
  cKind = new Uint8Array(64);
  cTargeted = new Uint8Array(64);
  cStartSeg = new Int32Array(64);
  cStartDead = new Uint8Array(64);
  cEscapes = new Uint8Array(64);
  depth = 0;

  // Patches, and per patch: the segment it may be folded into or -1, the loop depth of a
  // segment's patch, whether the segment is dead, and where a NaN patch's value went (nan.md#N4).
  // The output arrays are plain arrays filled by index and never shortened (so they stay packed),
  // copied out with `slice`: typed arrays cost an off-heap buffer each, which made the results the
  // largest part of the rewriter's garbage collection.
  offsets: number[] = [];
  kinds: number[] = [];
  args: number[] = [];
  foldParent = new Int32Array(256);
  patchLoopDepth = new Int32Array(256);
  patchDead = new Uint8Array(256);
  nanFate = new Int32Array(256);
  patchCount = 0;

  // NaN elision (spec: nan.md#N4). Each operand-stack slot remembers where its value came from:
  // UNKNOWN, a NaN patch (the index of the patch that would canonicalise it), or a local.get
  // (LOCAL_ORIGIN - index). A value consumed by an operator that cannot see a NaN's payload needs
  // no canonicalisation; one that reaches anything else ("observed") does. A value stored in a
  // local needs it only if some read of that local is observed.
  orig = new Int32Array(256);
  locals = new Uint8Array(256);
  /** Highest operand height reached in the helpers (the main loop keeps its own). */
  maxHeight = 0;

  callSegs: number[] = [];
  callees: number[] = [];
  callAt: number[] = [];
  callCount = 0;
  indirectTypes: number[] = [];
  indirectCount = 0;
  refFuncs: number[] = [];
  refCount = 0;

  // The current segment: index of its charge patch and its accumulated cost. Code after
  // br/br_table/return/unreachable is dead until the next else/end: it is never charged.
  segPatch = 0;
  segDead = false;
  loopDepth = 0;
  /** Bit set of the NaN patch kinds left after elision (1 << kind). */
  nanKinds = 0;
  /** Result arity of the block type last decoded by {@link blockParams}. */
  blockResults = 0;

  // Small-segment folding scratch (spec: fuel.md#F8), and the patch renumbering of NaN elision.
  into = new Int32Array(256);
  taken = new Int32Array(256);
  /** Per segment while folding: whether it (or anything folded into it) contains a call. */
  hasCall = new Uint8Array(256);

  /** Whether the body being analysed may have its entry charge moved to its callers (spec: fuel.md#F7). */
  callersMayPay = false;

  analyze(
    m: ParsedModule,
    costs: CostTable,
    funcIndex: number,
    codeStart: number,
    end: number,
    localTotal: number,
    shiftLocalsFrom: number,
    callersMayPay: boolean,
  ): BodyAnalysis {
    this.callersMayPay = callersMayPay;
    const r = new Reader(m.bytes, codeStart, end);
    r.section = 'code';
    const types = m.types;
    const funcCount = m.funcTypes.length;
    const opCost = costs.op;
    this.depth = 0;
    this.pushControl(0, types[m.funcTypes[funcIndex]!]!.results.length, 0, 0);
    // Operand height, its maximum and the current segment's cost live in locals here: the
    // helpers below take and return them.
    let height = 0;
    let maxHeight = 0;
    this.maxHeight = 0;
    this.patchCount = 0;
    this.callCount = 0;
    this.indirectCount = 0;
    this.refCount = 0;
    let calls = false;
    let usesV128 = false;
    let instructions = 0;
    let helpers = 0;
    // Only float locals can hold a NaN, so only their reads are traced (keeps integer code cheap).
    if (this.locals.length < localTotal) this.locals = new Uint8Array(Math.max(localTotal, 256));
    const locals = this.locals;
    fillU8(locals, 0, 0, localTotal);
    {
      const params = types[m.funcTypes[funcIndex]!]!.params;
      let i = 0;
      for (; i < params.length; i++) locals[i] = params[i] === 0x7d || params[i] === 0x7c ? LOCAL_FLOAT : 0;
      const body = m.bodies[funcIndex - m.importedFuncCount];
      if (body !== undefined) {
        const decls = body.localDecls;
        for (let k = 0; k < decls.length; k++) {
          const d = decls[k]!;
          if (d.type === 0x7d || d.type === 0x7c) fillU8(locals, LOCAL_FLOAT, i, Math.min(localTotal, i + d.count));
          i += d.count;
        }
      }
    }

    this.addPatch(codeStart, Patch.ChargeCheck, 0);
    this.segPatch = 0;
    let segCost = 0;
    this.segDead = false;
    this.loopDepth = 0;

    const bytes = m.bytes;
    const opInfo = OP_INFO;
    let base = 0;
    while (r.pos < end) {
      const at = r.pos;
      const op = bytes[at]!;
      r.pos = at + 1;
      instructions++;
      segCost += opCost[op]!;
      const info = opInfo[op]!;
      if ((info & INFO_CONTROL) !== 0)
        switch (op) {
          case 0x00: // unreachable
            height = this.setUnreachable(height);
            segCost = this.startSegment(segCost, r.pos, false, true, -1);
            continue;
          case 0x02: // block
          case 0x03: // loop
          case 0x04: {
            // if
            if (op === 0x04) height = this.popN(height, 1);
            const p = this.blockParams(r, types);
            const q = this.blockResults;
            height = this.popN(height, p);
            this.pushControl(height, q, p, op === 0x02 ? 1 : op === 0x03 ? 2 : 3);
            base = height;
            height = this.pushN(height, p);
            if (op === 0x03) this.loopDepth++;
            if (op !== 0x02)
              segCost = this.startSegment(
                segCost,
                r.pos,
                op === 0x03,
                false,
                op === 0x04 && !this.segDead ? this.segPatch : -1,
              );
            continue;
          }
          case 0x05: {
            // else
            const top = this.depth - 1;
            if (top === 0) r.fail('else without if', at);
            this.observeRange(base, height);
            height = base;
            height = this.pushN(height, this.cParams[top]!);
            segCost = this.startSegment(segCost, r.pos, false, false, this.cStartDead[top] ? -1 : this.cStartSeg[top]!);
            continue;
          }
          case 0x0b: {
            // end
            const top = this.depth - 1;
            if (top === 0) {
              if (r.pos !== end) r.fail('operators remaining after end of function', r.pos);
              segCost = this.closeSegment(segCost);
              this.observeRange(0, height);
              this.addPatch(at, Patch.FuncEnd, 0);
              foldSmallSegments(this);
              elideNans(this);
              return this.result(calls, usesV128, instructions, helpers, Math.max(maxHeight, this.maxHeight));
            }
            this.observeRange(base, height);
            height = base;
            const results = this.cResults[top]!;
            // After an `if` two paths join; after a block only if some branch targets it; after a loop
            // never (branches go to its header). Where nothing joins, the charge carries on (spec: fuel.md#F3).
            const cKindTop = this.cKind[top]!;
            const joins = cKindTop === 3 || (cKindTop === 1 && this.cTargeted[top] !== 0);
            const escapes = this.cEscapes[top] !== 0;
            const startSeg = this.cStartSeg[top]!;
            const startDead = this.cStartDead[top] !== 0;
            this.depth = top;
            base = this.cBase[top - 1]!;
            height = this.pushN(height, results);
            if (cKindTop === 2) {
              // The segment running at a loop's end goes on after the loop. Nothing after its start
              // leads back to the loop header, so it runs at most once per entry into the loop: its
              // parent becomes the segment the loop started in, not one inside the loop.
              this.loopDepth--;
              const sp = this.segPatch;
              this.patchLoopDepth[sp] = this.loopDepth;
              this.foldParent[sp] = !startDead && !this.segDead && this.kinds[sp] === Patch.Charge ? startSeg : -1;
            }
            if (joins) {
              if (escapes) {
                segCost = this.startSegment(segCost, r.pos, false, false, startDead ? -1 : startSeg);
              } else {
                // Every path that entered the construct reaches this point, so what follows is
                // charged with the segment the construct started in (spec: fuel.md#F3).
                segCost = this.closeSegment(segCost);
                this.segPatch = startSeg;
                this.segDead = startDead;
              }
            }
            continue;
          }
          case 0x0c: // br
            this.target(r, r.u32(), at);
            this.observeRange(0, height);
            height = this.setUnreachable(height);
            segCost = this.startSegment(segCost, r.pos, false, true, -1);
            continue;
          case 0x0d: // br_if
            this.target(r, r.u32(), at);
            height = this.popN(height, 1);
            this.observeRange(0, height);
            segCost = this.startSegment(segCost, r.pos, false, this.segDead, this.segPatch);
            continue;
          case 0x0e: {
            // br_table
            const n = r.u32();
            if (n > end - r.pos) r.fail('unexpected end: br_table too long', at);
            for (let i = 0; i <= n; i++) this.target(r, r.u32(), at);
            height = this.popN(height, 1);
            this.observeRange(0, height);
            height = this.setUnreachable(height);
            segCost = this.startSegment(segCost, r.pos, false, true, -1);
            continue;
          }
          case 0x0f: // return
            fillU8(this.cEscapes, 1, 1, this.depth);
            this.observeRange(0, height);
            this.addPatch(at, Patch.Return, this.depth - 1);
            height = this.setUnreachable(height);
            segCost = this.startSegment(segCost, r.pos, false, true, -1);
            continue;
          case 0x10: {
            // call
            const idx = r.u32();
            if (idx >= funcCount) r.fail(`unknown function ${idx}`, at);
            const t = types[m.funcTypes[idx]!]!;
            calls = true;
            if (!this.segDead) this.addCall(idx, at);
            height = this.popN(height, t.params.length);
            height = this.pushN(height, t.results.length);
            continue;
          }
          case 0x11: {
            // call_indirect
            const ti = r.u32();
            const t = types[ti];
            if (t === undefined) r.fail(`unknown type ${ti}`, at);
            const tableAt = r.pos;
            if (r.u32() >= m.tableCount) r.fail('unknown table', tableAt);
            calls = true;
            if (!this.segDead) this.addIndirect(ti);
            height = this.popN(height, t.params.length + 1);
            height = this.pushN(height, t.results.length);
            continue;
          }
          case 0x40: // memory.grow
            if (r.u8() !== 0) throw unsupported('multi-memory', 'memory index in memory.grow', at, 'code', funcIndex);
            this.addPatch(at, Patch.GrowMemory, 0);
            helpers |= 4;
            height = this.popN(height, 1);
            height = this.pushN(height, 1);
            continue;
        }
      // Cases are the Imm values as literals (checked against Imm below the class): a switch over
      // small integer literals becomes a jump table, one over imported constants a chain of compares.
      switch (info & INFO_KIND) {
        case 0: // Imm.None
          break;
        // The common one-byte immediates are decoded here; anything longer, or running past the
        // end, goes to the Reader, which also reports the errors.
        case 6: {
          // Imm.Local
          const lp = r.pos;
          let idx = lp < end ? bytes[lp]! : 0x80;
          if (idx < 0x80) r.pos = lp + 1;
          else idx = r.u32();
          if (idx >= localTotal) r.fail(`unknown local ${idx}`, at);
          if (shiftLocalsFrom >= 0 && idx >= shiftLocalsFrom) this.addPatch(at + 1, Patch.LocalIndex, idx + 1);
          if (op === 0x20) {
            if (height >= this.orig.length) this.orig = grownI32(this.orig, height + 1);
            this.orig[height++] = (locals[idx]! & LOCAL_FLOAT) !== 0 ? LOCAL_ORIGIN - idx : UNKNOWN;
            if (height > maxHeight) maxHeight = height;
            continue;
          }
          let o = UNKNOWN;
          if (height > base) o = this.orig[--height]!;
          if (o >= 0) {
            // A NaN-producing result stored in a local: elidable only if the local is never observed.
            const fate = this.nanFate[o]!;
            this.nanFate[o] = fate === NO_FATE || fate === idx ? idx : OBSERVED;
          } else if (o !== UNKNOWN) {
            this.observe(o); // a copy of another local: keep it simple and treat that local as observed
          }
          if (op === 0x22) height = this.pushOrigin(height, o);
          continue;
        }
        case 7: {
          // Imm.Global
          const gp = r.pos;
          let idx = gp < end ? bytes[gp]! : 0x80;
          if (idx < 0x80) r.pos = gp + 1;
          else idx = r.u32();
          if (idx >= m.globalTypes.length) r.fail(`unknown global ${idx}`, at);
          break;
        }
        case 8: // Imm.Table
          if (r.u32() >= m.tableCount) r.fail('unknown table', at);
          break;
        case 9: {
          // Imm.MemArg
          // An alignment below 0x40 has no memory index (multi-memory) and fits one byte.
          const mp = r.pos;
          if (mp + 1 < end && bytes[mp]! < 0x40 && bytes[mp + 1]! < 0x80) r.pos = mp + 2;
          else memarg(r, funcIndex);
          break;
        }
        case 10: // Imm.MemIdx
          if (r.u8() !== 0) throw unsupported('multi-memory', 'memory index in memory.size', at, 'code', funcIndex);
          break;
        case 11: {
          // Imm.I32
          const ip = r.pos;
          if (ip < end && bytes[ip]! < 0x80) r.pos = ip + 1;
          else r.s32();
          break;
        }
        case 12: {
          // Imm.I64
          const ip = r.pos;
          if (ip < end && bytes[ip]! < 0x80) r.pos = ip + 1;
          else r.skipS64();
          break;
        }
        case 13: // Imm.F32
          if (r.pos + 4 <= end) r.pos += 4;
          else r.skip(4);
          break;
        case 14: // Imm.F64
          if (r.pos + 8 <= end) r.pos += 8;
          else r.skip(8);
          break;
        case 15: {
          // Imm.SelectT
          const n = r.u32();
          if (n !== 1) r.fail('invalid result arity for typed select', at);
          const t = r.u8();
          if (!isValType(t)) r.fail('malformed value type', at);
          if (t === 0x7b) usesV128 = true;
          break;
        }
        case 16: {
          // Imm.RefType
          const t = r.u8();
          if (t !== 0x70 && t !== 0x6f) {
            if (t === 0x6e || t === 0x64 || t === 0x63) throw unsupported('gc', 'heap type', at, 'code', funcIndex);
            r.fail('malformed reference type', at);
          }
          break;
        }
        case 4: {
          // Imm.Func
          const idx = r.u32();
          if (idx >= funcCount) r.fail(`unknown function ${idx}`, at);
          this.addRefFunc(idx);
          break;
        }
        case 17: {
          // Imm.PrefixFC
          const sub = r.u32();
          if (sub > FC_LAST) r.fail(`illegal opcode 0xfc ${sub}`, at);
          segCost += costs.fc[sub]! - opCost[op]!;
          switch (sub) {
            case 8: // memory.init
              r.u32();
              if (r.u8() !== 0) throw unsupported('multi-memory', 'memory index in memory.init', at, 'code', funcIndex);
              this.addPatch(at, Patch.BulkMemory, 0);
              helpers |= 1;
              break;
            case 9: // data.drop
            case 13: // elem.drop
              r.u32();
              break;
            case 10: // memory.copy
              if (r.u8() !== 0 || r.u8() !== 0)
                throw unsupported('multi-memory', 'memory index in memory.copy', at, 'code', funcIndex);
              this.addPatch(at, Patch.BulkMemory, 0);
              helpers |= 1;
              break;
            case 11: // memory.fill
              if (r.u8() !== 0) throw unsupported('multi-memory', 'memory index in memory.fill', at, 'code', funcIndex);
              this.addPatch(at, Patch.BulkMemory, 0);
              helpers |= 1;
              break;
            case 12: // table.init
            case 14: // table.copy
              r.u32();
              r.u32();
              this.addPatch(at, Patch.BulkTable, 0);
              helpers |= 2;
              break;
            case 15: // table.grow
            case 17: // table.fill
              r.u32();
              this.addPatch(at, Patch.BulkTable, 0);
              helpers |= 2;
              break;
            case 16: // table.size
              r.u32();
              break;
          }
          height = this.popN(height, FC_POPS[sub]!);
          height = this.pushN(height, FC_PUSHES[sub]!);
          continue;
        }
        case 18: {
          // Imm.PrefixFD
          const sub = r.u32();
          if (sub >= SIMD_RELAXED_FIRST && sub <= SIMD_RELAXED_FIRST + 0x13) {
            throw unsupported('relaxed-simd', `relaxed SIMD instruction 0xfd ${sub}`, at, 'code', funcIndex);
          }
          if (sub > 255) r.fail(`illegal opcode 0xfd ${sub}`, at);
          usesV128 = true;
          segCost += costs.simd[sub]! - opCost[op]!;
          switch (SIMD_IMM[sub]) {
            case SimdImm.MemArg:
              memarg(r, funcIndex);
              break;
            case SimdImm.MemArgLane:
              memarg(r, funcIndex);
              r.skip(1);
              break;
            case SimdImm.V128:
              r.skip(16);
              break;
            case SimdImm.Lane:
              r.skip(1);
              break;
            case SimdImm.Reserved:
              r.fail(`illegal opcode 0xfd ${sub}`, at);
          }
          height = this.popN(height, SIMD_POPS[sub]!);
          height = this.pushN(height, SIMD_PUSHES[sub]!);
          const nan = NAN_SIMD[sub]!;
          if (nan !== 0) this.addPatch(r.pos, Patch.Nan, nan);
          continue;
        }
        default: {
          const proposal = UNSUPPORTED_PROPOSAL[op];
          if (proposal !== undefined)
            throw unsupported(proposal, `instruction 0x${op.toString(16)}`, at, 'code', funcIndex);
          r.fail(`illegal opcode 0x${op.toString(16)}`, at);
        }
      }
      if ((info & INFO_STATIC) !== 0) {
        // The path of almost every instruction, so the origin bookkeeping is inlined here.
        const p = (info >> INFO_POPS_SHIFT) & 3;
        const from = height - p < base ? base : height - p;
        if ((info & INFO_NAN_BLIND) === 0) {
          const orig = this.orig;
          for (let i = from; i < height; i++) {
            const o = orig[i]!;
            if (o !== UNKNOWN) this.observe(o);
          }
        }
        height = from;
        const nan = (info >> INFO_NAN_SHIFT) & 3;
        if (nan !== 0 || (info & INFO_PUSHES) !== 0) {
          if (height >= this.orig.length) this.orig = grownI32(this.orig, height + 1);
          if (nan !== 0) {
            this.addPatch(r.pos, Patch.Nan, nan);
            this.orig[height++] = this.patchCount - 1;
          } else {
            this.orig[height++] = UNKNOWN;
          }
          if (height > maxHeight) maxHeight = height;
        }
      }
    }
    return r.fail('unexpected end of section or function: function body must end with end', end);
  }

  /** Decodes a block type: returns its parameter count and leaves its result count in `blockResults`. */
  blockParams(r: Reader, types: FuncType[]): number {
    const b = r.bytes[r.pos];
    if (b === 0x40) {
      r.pos++;
      this.blockResults = 0;
      return 0;
    }
    if (b !== undefined && isValType(b)) {
      r.pos++;
      this.blockResults = 1;
      return 0;
    }
    const at = r.pos;
    const idx = r.s32();
    const t = idx >= 0 ? types[idx] : undefined;
    if (t === undefined) r.fail(`unknown type ${idx} in block type`, at);
    this.blockResults = t.results.length;
    return t.params.length;
  }

  pushControl(base: number, results: number, params: number, kind: number): void {
    const d = this.depth;
    if (d === this.cBase.length) this.growControl();
    this.cBase[d] = base;
    this.cResults[d] = results;
    this.cParams[d] = params;
    this.cKind[d] = kind;
    this.cTargeted[d] = 0;
    this.cStartSeg[d] = d === 0 ? 0 : this.segPatch;
    this.cStartDead[d] = d !== 0 && this.segDead ? 1 : 0;
    this.cEscapes[d] = 0;
    this.depth = d + 1;
  }

  growControl(): void {
    const need = this.depth + 1;
    this.cBase = grownI32(this.cBase, need);
    this.cResults = grownI32(this.cResults, need);
    this.cParams = grownI32(this.cParams, need);
    this.cKind = grownU8(this.cKind, need);
    this.cTargeted = grownU8(this.cTargeted, need);
    this.cStartSeg = grownI32(this.cStartSeg, need);
    this.cStartDead = grownU8(this.cStartDead, need);
    this.cEscapes = grownU8(this.cEscapes, need);
  }

  addPatch(offset: number, kind: number, arg: number): void {
    const n = this.patchCount;
    if (n === this.foldParent.length) this.growPatches();
    this.offsets[n] = offset;
    this.kinds[n] = kind;
    this.args[n] = arg;
    this.foldParent[n] = -1;
    this.patchLoopDepth[n] = 0;
    this.patchDead[n] = 0;
    this.nanFate[n] = NO_FATE;
    this.patchCount = n + 1;
  }

  growPatches(): void {
    const need = this.patchCount + 1;
    this.foldParent = grownI32(this.foldParent, need);
    this.patchLoopDepth = grownI32(this.patchLoopDepth, need);
    this.patchDead = grownU8(this.patchDead, need);
    this.nanFate = grownI32(this.nanFate, need);
  }

  addCall(callee: number, at: number): void {
    const n = this.callCount;
    this.callSegs[n] = this.segPatch;
    this.callees[n] = callee;
    this.callAt[n] = at;
    this.callCount = n + 1;
  }

  addIndirect(typeIndex: number): void {
    const n = this.indirectCount;
    this.indirectTypes[n] = typeIndex;
    this.indirectCount = n + 1;
  }

  addRefFunc(f: number): void {
    const n = this.refCount;
    this.refFuncs[n] = f;
    this.refCount = n + 1;
  }

  /** Adds the running segment's cost to its charge; returns the next segment's cost so far (0). */
  closeSegment(cost: number): number {
    if (!this.segDead) this.args[this.segPatch] += cost;
    return 0;
  }

  /**
   * Opens a segment at `offset`. `parent` is the live segment whose every execution runs this one
   * at most once (the segment of the branch or `if` it follows), or -1 if it has none.
   */
  startSegment(cost: number, offset: number, check: boolean, dead: boolean, parent: number): number {
    this.closeSegment(cost);
    this.addPatch(offset, check ? Patch.ChargeCheck : Patch.Charge, 0);
    const n = this.patchCount - 1;
    this.segPatch = n;
    this.segDead = dead;
    const ld = this.loopDepth;
    this.foldParent[n] =
      parent >= 0 && !dead && this.patchDead[parent] === 0 && this.patchLoopDepth[parent] === ld ? parent : -1;
    this.patchLoopDepth[n] = ld;
    this.patchDead[n] = dead ? 1 : 0;
    return 0;
  }

  target(r: Reader, depth: number, at: number): void {
    if (depth >= this.depth) r.fail('unknown label', at);
    const t = this.depth - 1 - depth;
    this.cTargeted[t] = 1;
    fillU8(this.cEscapes, 1, t + 1, this.depth);
  }

  observe(o: number): void {
    if (o >= 0) this.nanFate[o] = OBSERVED;
    else this.locals[LOCAL_ORIGIN - o] |= LOCAL_OBSERVED;
  }

  observeRange(from: number, to: number): void {
    const orig = this.orig;
    for (let i = from; i < to; i++) {
      const o = orig[i]!;
      if (o !== UNKNOWN) this.observe(o);
    }
  }

  /** Pops `n` operands, observing them; returns the new height. */
  popN(height: number, n: number): number {
    const base = this.cBase[this.depth - 1]!;
    this.observeRange(Math.max(base, height - n), height);
    // Below the base only in unreachable code (or invalid code, which V8 rejects).
    return height - n < base ? base : height - n;
  }

  /** Pushes `n` operands of unknown origin; returns the new height. */
  pushN(height: number, n: number): number {
    const top = height + n;
    if (top > this.orig.length) this.orig = grownI32(this.orig, top);
    const orig = this.orig;
    for (let i = height; i < top; i++) orig[i] = UNKNOWN;
    if (top > this.maxHeight) this.maxHeight = top;
    return top;
  }

  pushOrigin(height: number, o: number): number {
    if (height >= this.orig.length) this.orig = grownI32(this.orig, height + 1);
    this.orig[height] = o;
    if (height + 1 > this.maxHeight) this.maxHeight = height + 1;
    return height + 1;
  }

  /** Observes what is left of the current frame's operands; returns the frame's base height. */
  setUnreachable(height: number): number {
    const base = this.cBase[this.depth - 1]!;
    this.observeRange(base, height);
    return base;
  }

  result(calls: boolean, usesV128: boolean, instructions: number, helpers: number, maxHeight: number): BodyAnalysis {
    const n = this.patchCount;
    const kinds = this.kinds.slice(0, n);
    const nanKinds = this.nanKinds;
    const c = this.callCount;
    const ic = this.indirectCount;
    const out: BodyAnalysis = {
      offsets: this.offsets.slice(0, n),
      kinds,
      args: this.args.slice(0, n),
      maxHeight,
      calls,
      usesV128,
      nanKinds,
      instructions,
      callSegs: c === 0 ? NONE : this.callSegs.slice(0, c),
      callees: c === 0 ? NONE : this.callees.slice(0, c),
      refFuncs: this.refCount === 0 ? NONE : this.refFuncs.slice(0, this.refCount),
      indirectTypes: ic === 0 ? NONE : this.indirectTypes.slice(0, ic),
      helpers,
      callAt: c === 0 ? NONE : this.callAt.slice(0, c),
    };
    this.trim();
    return out;
  }

  /** Lets go of buffers an unusually large body grew, so one such body does not pin them. */
  trim(): void {
    if (this.locals.length > KEEP_MAX) this.locals = new Uint8Array(256);
    if (this.orig.length > KEEP_MAX) this.orig = new Int32Array(256);
    if (this.foldParent.length > KEEP_MAX) {
      this.offsets = [];
      this.kinds = [];
      this.args = [];
      this.foldParent = new Int32Array(256);
      this.patchLoopDepth = new Int32Array(256);
      this.patchDead = new Uint8Array(256);
      this.nanFate = new Int32Array(256);
    }
  }
}

for (const [kind, literal] of [
  [Imm.None, 0],
  [Imm.Func, 4],
  [Imm.Local, 6],
  [Imm.Global, 7],
  [Imm.Table, 8],
  [Imm.MemArg, 9],
  [Imm.MemIdx, 10],
  [Imm.I32, 11],
  [Imm.I64, 12],
  [Imm.F32, 13],
  [Imm.F64, 14],
  [Imm.SelectT, 15],
  [Imm.RefType, 16],
  [Imm.PrefixFC, 17],
  [Imm.PrefixFD, 18],
] as const) {
  if (kind !== literal)
    throw new Error(`analyze-body.ts: the main switch's case for Imm value ${kind} says ${literal}`);
}

/**
 * The call lists of every body without such calls (most have no `call_indirect` or `ref.func`):
 * nothing adds to a result's call lists after the analysis, so they can share one empty array.
 */
const NONE: number[] = [];

/** One analyser serves every call: analysis is synchronous and never re-entered. */
const shared = new BodyAnalyser();

function memarg(r: Reader, func: number): void {
  const at = r.pos;
  const align = r.u32();
  if (align & 0x40) throw unsupported('multi-memory', 'memory index in a memory instruction', at, 'code', func);
  r.u32();
}

/**
 * Analyses one function body. `codeStart`..`end` is the instruction range.
 * @param shiftLocalsFrom - if ≥ 0, every local index from this one up gets a `LocalIndex` patch
 *   moving it up by one, to make room for a parameter appended at this index (spec: stack.md#S7).
 * @param callersMayPay - the function may have its entry charge moved to its callers
 *   (spec: fuel.md#F7), so no segment with a call is folded into its entry segment.
 * @throws {ValidationError} malformed code or an unsupported feature.
 */
export function analyzeBody(
  m: ParsedModule,
  costs: CostTable,
  funcIndex: number,
  codeStart: number,
  end: number,
  localTotal: number,
  shiftLocalsFrom = -1,
  callersMayPay = false,
): BodyAnalysis {
  return shared.analyze(m, costs, funcIndex, codeStart, end, localTotal, shiftLocalsFrom, callersMayPay);
}

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
  DYNAMIC, FC_LAST, FC_POPS, FC_PUSHES, Imm, NAN_SCALAR, NAN_SIMD, OP_IMM, OP_POPS, OP_PUSHES, SIMD_IMM, SIMD_POPS,
  SIMD_PUSHES, SIMD_RELAXED_FIRST, SimdImm, UNSUPPORTED_PROPOSAL, isValType, NAN_BLIND_CONSUMER,
} from './opcodes.ts';

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
  /** Before another call from a depth-passing function: store its depth in the global (spec: stack.md#S7). */
  SyncDepth: 10,
  /** After that call: set the global back to the depth the function was entered at. */
  UnsyncDepth: 11,
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
  /** Offsets of the live direct calls (parallel to `callees`) and of the code right after each. */
  callAt: number[];
  callEnd: number[];
  /** Offsets of the live `call_indirect`s and of the code right after each. */
  indirectAt: number[];
  indirectEnd: number[];
}

const UNKNOWN = -1;
const LOCAL_ORIGIN = -2;
const OBSERVED = -1;

/**
 * Drops the scalar NaN patches whose values are never observed (spec: nan.md#N4): consumed only by
 * payload-blind operators, directly or through locals every read of which is payload-blind.
 */
function elideNans(offsets: number[], kinds: number[], args: number[], fate: Map<number, number>, observedLocals: Set<number>, callSegs: number[]): void {
  let w = 0;
  // Segment patches move down as NaN patches are dropped; call sites follow their segment.
  const moved = new Map<number, number>();
  for (let i = 0; i < offsets.length; i++) {
    if (kinds[i] === Patch.Nan && args[i]! <= 2) {
      const f = fate.get(i);
      const needed = f === OBSERVED || (f !== undefined && observedLocals.has(f));
      if (!needed) continue;
    }
    if (w !== i) moved.set(i, w);
    offsets[w] = offsets[i]!;
    kinds[w] = kinds[i]!;
    args[w] = args[i]!;
    w++;
  }
  offsets.length = kinds.length = args.length = w;
  if (moved.size > 0) for (let k = 0; k < callSegs.length; k++) callSegs[k] = moved.get(callSegs[k]!) ?? callSegs[k]!;
}

/** Largest segment cost charged with its parent instead of on its own (spec: fuel.md#F8). */
export const FOLD_SEGMENT_MAX = 16;
/** Most cost any one segment takes in from segments folded into it (spec: fuel.md#F8). */
export const FOLD_PARENT_MAX = 64;

/**
 * Charges small segments with the segment they hang off (spec: fuel.md#F8). A segment that follows
 * a `br_if`, starts an `if` arm or a join costs 7 bytes of charge code for a few instructions of
 * work; charging it with its parent removes that code at the price of a bounded overcharge on the
 * paths that skip it. Parents come before their children in code order, so a child always finds
 * where its parent's cost went.
 */
function foldSmallSegments(args: number[], foldParent: readonly number[], callSegs: number[]): void {
  const n = args.length;
  let into: Int32Array | undefined;
  let taken: Int32Array | undefined;
  for (let child = 1; child < n; child++) {
    const parent = foldParent[child]!;
    if (parent < 0) continue;
    const cost = args[child]!;
    if (cost === 0 || cost > FOLD_SEGMENT_MAX) continue;
    if (into === undefined || taken === undefined) {
      into = new Int32Array(n).fill(-1);
      taken = new Int32Array(n);
    }
    let root = parent;
    while (into[root]! >= 0) root = into[root]!;
    const t = taken[root]! + cost;
    if (t > FOLD_PARENT_MAX) continue;
    taken[root] = t;
    args[root] += cost;
    args[child] = 0;
    into[child] = root;
  }
  if (into === undefined) return;
  for (let k = 0; k < callSegs.length; k++) {
    let p = callSegs[k]!;
    while (into[p]! >= 0) p = into[p]!;
    callSegs[k] = p;
  }
}

interface Ctx {
  m: ParsedModule;
  costs: CostTable;
  funcIndex: number;
  localTotal: number;
}

/** Decodes a block type: returns [params, results] counts. */
function blockArity(r: Reader, types: FuncType[]): [number, number] {
  const b = r.bytes[r.pos];
  if (b === 0x40) {
    r.pos++;
    return [0, 0];
  }
  if (b !== undefined && isValType(b)) {
    r.pos++;
    return [0, 1];
  }
  const at = r.pos;
  const idx = r.s32();
  const t = idx >= 0 ? types[idx] : undefined;
  if (t === undefined) r.fail(`unknown type ${idx} in block type`, at);
  return [t.params.length, t.results.length];
}

function memarg(r: Reader, func: number): void {
  const at = r.pos;
  const align = r.u32();
  if (align & 0x40) throw unsupported('multi-memory', 'memory index in a memory instruction', at, 'code', func);
  r.u32();
}

/**
 * Analyses one function body. `codeStart`..`end` is the instruction range.
 * @throws {ValidationError} malformed code or an unsupported feature.
 */
/**
 * @param shiftLocalsFrom - if ≥ 0, every local index from this one up gets a `LocalIndex` patch
 *   moving it up by one, to make room for a parameter appended at this index (spec: stack.md#S7).
 */
export function analyzeBody(m: ParsedModule, costs: CostTable, funcIndex: number, codeStart: number, end: number, localTotal: number, shiftLocalsFrom = -1): BodyAnalysis {
  const ctx: Ctx = { m, costs, funcIndex, localTotal };
  const r = new Reader(m.bytes, codeStart, end);
  r.section = 'code';
  const types = m.types;
  const opCost = costs.op;
  const offsets: number[] = [];
  const kinds: number[] = [];
  const args: number[] = [];
  // Control stack as parallel arrays: operand height at entry (below params), result arity, params,
  // unreachable flag, frame kind (0 function, 1 block, 2 loop, 3 if), whether a branch targets it.
  const cBase: number[] = [0];
  const cResults: number[] = [types[m.funcTypes[funcIndex]!]!.results.length];
  const cParams: number[] = [0];
  const cUnreach: boolean[] = [false];
  const cKind: number[] = [0];
  const cTargeted: boolean[] = [false];
  // The segment that was running when the construct began, and whether any path leaves the
  // construct other than through its end (a branch to an outer label, or return).
  const cStartSeg: number[] = [0];
  const cStartDead: boolean[] = [false];
  const cEscapes: boolean[] = [false];
  let height = 0;
  let maxHeight = 0;
  let calls = false;
  let usesV128 = false;
  let nanKinds = 0;
  let instructions = 0;
  const callSegs: number[] = [];
  const callees: number[] = [];
  const refFuncs: number[] = [];
  const indirectTypes: number[] = [];
  let helpers = 0;
  const callAt: number[] = [];
  const callEnd: number[] = [];
  const indirectAt: number[] = [];
  const indirectEnd: number[] = [];
  // NaN elision (spec: nan.md#N4). Each operand-stack slot remembers where its value came from:
  // UNKNOWN, a NaN patch (the index of the patch that would canonicalise it), or a local.get
  // (LOCAL_ORIGIN - index). A value consumed by an operator that cannot see a NaN's payload needs
  // no canonicalisation; one that reaches anything else ("observed") does. A value stored in a
  // local needs it only if some read of that local is observed.
  const orig: number[] = [];
  const nanFate = new Map<number, number>(); // patch → local it flows into, or OBSERVED
  const observedLocals = new Set<number>();
  const observe = (o: number | undefined): void => {
    if (o === undefined || o === UNKNOWN) return;
    if (o >= 0) nanFate.set(o, OBSERVED);
    else observedLocals.add(LOCAL_ORIGIN - o);
  };
  const observeRange = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const o = orig[i]!;
      if (o !== UNKNOWN) observe(o);
    }
  };
  // Only float locals can hold a NaN, so only their reads are traced (keeps integer code cheap).
  const floatLocal = new Uint8Array(localTotal);
  {
    const params = types[m.funcTypes[funcIndex]!]!.params;
    let i = 0;
    for (; i < params.length; i++) floatLocal[i] = params[i] === 0x7d || params[i] === 0x7c ? 1 : 0;
    const body = m.bodies[funcIndex - m.importedFuncCount];
    for (const d of body?.localDecls ?? []) {
      const f = d.type === 0x7d || d.type === 0x7c ? 1 : 0;
      if (f) floatLocal.fill(1, i, Math.min(localTotal, i + d.count));
      i += d.count;
    }
  }

  // The current segment: index of its charge patch and its accumulated cost.
  offsets.push(codeStart);
  kinds.push(Patch.ChargeCheck);
  args.push(0);
  let segPatch = 0;
  let segCost = 0;
  // Code after br/br_table/return/unreachable is dead until the next else/end: it is never charged.
  let segDead = false;
  // Small-segment folding (spec: fuel.md#F8): the segment each foldable segment may be charged
  // with, and the loop depth of every segment's patch.
  // Per patch (parallel to `offsets`): the segment it may be folded into or -1, the loop depth of
  // a segment's patch, and whether the segment is dead.
  const foldParent: number[] = [-1];
  const patchLoopDepth: number[] = [0];
  const patchDead: number[] = [0];
  let loopDepth = 0;

  const closeSegment = (): void => {
    if (!segDead) args[segPatch] += segCost;
    segCost = 0;
  };
  /**
   * Opens a segment at `offset`. `parent` is the live segment whose every execution runs this one
   * at most once (the segment of the branch or `if` it follows), or -1 if it has none.
   */
  const startSegment = (offset: number, check: boolean, dead = false, parent = -1): void => {
    closeSegment();
    offsets.push(offset);
    kinds.push(check ? Patch.ChargeCheck : Patch.Charge);
    args.push(0);
    segPatch = offsets.length - 1;
    segDead = dead;
    foldParent.push(parent >= 0 && !dead && patchDead[parent] === 0 && patchLoopDepth[parent] === loopDepth ? parent : -1);
    patchLoopDepth.push(loopDepth);
    patchDead.push(dead ? 1 : 0);
  };
  const target = (depth: number, at: number): void => {
    if (depth >= cBase.length) r.fail('unknown label', at);
    const t = cBase.length - 1 - depth;
    cTargeted[t] = true;
    for (let i = t + 1; i < cBase.length; i++) cEscapes[i] = true;
  };
  const patch = (offset: number, kind: number, arg: number): void => {
    offsets.push(offset);
    kinds.push(kind);
    args.push(arg);
    foldParent.push(-1);
    patchLoopDepth.push(0);
    patchDead.push(0);
  };
  const popN = (n: number): void => {
    const base = cBase[cBase.length - 1]!;
    observeRange(Math.max(base, height - n), height);
    height -= n;
    if (height < base) height = base; // only in unreachable code (or invalid code, which V8 rejects)
  };
  const pushN = (n: number): void => {
    for (let i = 0; i < n; i++) orig[height + i] = UNKNOWN;
    height += n;
    if (height > maxHeight) maxHeight = height;
  };
  const pushOrigin = (o: number): void => {
    orig[height] = o;
    height += 1;
    if (height > maxHeight) maxHeight = height;
  };
  /** Pops one value and returns its origin without observing it. */
  const take = (): number => {
    const base = cBase[cBase.length - 1]!;
    if (height <= base) return UNKNOWN;
    height -= 1;
    return orig[height]!;
  };
  const setUnreachable = (): void => {
    const top = cBase.length - 1;
    observeRange(cBase[top]!, height);
    height = cBase[top]!;
    cUnreach[top] = true;
  };
  const checkFunc = (idx: number, at: number): void => {
    if (idx >= m.funcTypes.length) r.fail(`unknown function ${idx}`, at);
  };

  while (r.pos < end) {
    const at = r.pos;
    const op = r.bytes[r.pos++]!;
    instructions++;
    segCost += opCost[op]!;
    const kind = OP_IMM[op];
    switch (op) {
      case 0x00: // unreachable
        setUnreachable();
        startSegment(r.pos, false, true);
        continue;
      case 0x02: // block
      case 0x03: // loop
      case 0x04: { // if
        if (op === 0x04) popN(1);
        const [p, q] = blockArity(r, types);
        popN(p);
        cBase.push(height);
        cResults.push(q);
        cParams.push(p);
        cUnreach.push(false);
        cKind.push(op === 0x02 ? 1 : op === 0x03 ? 2 : 3);
        cTargeted.push(false);
        cStartSeg.push(segPatch);
        cStartDead.push(segDead);
        cEscapes.push(false);
        pushN(p);
        if (op === 0x03) loopDepth++;
        if (op !== 0x02) startSegment(r.pos, op === 0x03, false, op === 0x04 && !segDead ? segPatch : -1);
        continue;
      }
      case 0x05: { // else
        const top = cBase.length - 1;
        if (top === 0) r.fail('else without if', at);
        observeRange(cBase[top]!, height);
        height = cBase[top]!;
        cUnreach[top] = false;
        pushN(cParams[top]!);
        startSegment(r.pos, false, false, cStartDead[top] ? -1 : cStartSeg[top]!);
        continue;
      }
      case 0x0b: { // end
        const top = cBase.length - 1;
        if (top === 0) {
          if (r.pos !== end) r.fail('operators remaining after end of function', r.pos);
          closeSegment();
          observeRange(0, height);
          patch(at, Patch.FuncEnd, 0);
          foldSmallSegments(args, foldParent, callSegs);
          elideNans(offsets, kinds, args, nanFate, observedLocals, callSegs);
          for (let i = 0; i < kinds.length; i++) if (kinds[i] === Patch.Nan) nanKinds |= 1 << args[i]!;
          return { offsets, kinds, args, maxHeight, calls, usesV128, nanKinds, instructions, callSegs, callees, refFuncs, indirectTypes, helpers, callAt, callEnd, indirectAt, indirectEnd };
        }
        observeRange(cBase[top]!, height);
        height = cBase[top]!;
        const results = cResults[top]!;
        // After an `if` two paths join; after a block only if some branch targets it; after a loop
        // never (branches go to its header). Where nothing joins, the charge carries on (spec: fuel.md#F3).
        const cKindTop = cKind[top]!;
        const joins = cKindTop === 3 || (cKindTop === 1 && cTargeted[top]!);
        const escapes = cEscapes[top]!;
        const startSeg = cStartSeg[top]!;
        const startDead = cStartDead[top]!;
        cBase.pop();
        cResults.pop();
        cParams.pop();
        cUnreach.pop();
        cKind.pop();
        cTargeted.pop();
        cStartSeg.pop();
        cStartDead.pop();
        cEscapes.pop();
        pushN(results);
        if (cKindTop === 2) {
          // The segment running at a loop's end goes on after the loop. Nothing after its start
          // leads back to the loop header, so it runs at most once per entry into the loop: its
          // parent becomes the segment the loop started in, not one inside the loop.
          loopDepth--;
          patchLoopDepth[segPatch] = loopDepth;
          foldParent[segPatch] = !startDead && !segDead && kinds[segPatch] === Patch.Charge ? startSeg : -1;
        }
        if (joins) {
          if (escapes) {
            startSegment(r.pos, false, false, startDead ? -1 : startSeg);
          } else {
            // Every path that entered the construct reaches this point, so what follows is
            // charged with the segment the construct started in (spec: fuel.md#F3).
            closeSegment();
            segPatch = startSeg;
            segDead = startDead;
          }
        }
        continue;
      }
      case 0x0c: // br
        target(r.u32(), at);
        observeRange(0, height);
        setUnreachable();
        startSegment(r.pos, false, true);
        continue;
      case 0x0d: // br_if
        target(r.u32(), at);
        popN(1);
        observeRange(0, height);
        startSegment(r.pos, false, segDead, segPatch);
        continue;
      case 0x0e: { // br_table
        const n = r.u32();
        if (n > end - r.pos) r.fail('unexpected end: br_table too long', at);
        for (let i = 0; i <= n; i++) target(r.u32(), at);
        popN(1);
        observeRange(0, height);
        setUnreachable();
        startSegment(r.pos, false, true);
        continue;
      }
      case 0x0f: // return
        for (let i = 1; i < cBase.length; i++) cEscapes[i] = true;
        observeRange(0, height);
        patch(at, Patch.Return, cBase.length - 1);
        setUnreachable();
        startSegment(r.pos, false, true);
        continue;
      case 0x10: { // call
        const idx = r.u32();
        checkFunc(idx, at);
        const t = types[m.funcTypes[idx]!]!;
        calls = true;
        if (!segDead) {
          callSegs.push(segPatch);
          callees.push(idx);
          callAt.push(at);
          callEnd.push(r.pos);
        }
        popN(t.params.length);
        pushN(t.results.length);
        continue;
      }
      case 0x11: { // call_indirect
        const ti = r.u32();
        const t = types[ti];
        if (t === undefined) r.fail(`unknown type ${ti}`, at);
        const tableAt = r.pos;
        if (r.u32() >= m.tableCount) r.fail('unknown table', tableAt);
        calls = true;
        if (!segDead) {
          indirectTypes.push(ti);
          indirectAt.push(at);
          indirectEnd.push(r.pos);
        }
        popN(t.params.length + 1);
        pushN(t.results.length);
        continue;
      }
      case 0x40: // memory.grow
        if (r.u8() !== 0) throw unsupported('multi-memory', 'memory index in memory.grow', at, 'code', funcIndex);
        patch(at, Patch.GrowMemory, 0);
        helpers |= 4;
        popN(1);
        pushN(1);
        continue;
    }
    switch (kind) {
      case Imm.None:
        break;
      case Imm.Local: {
        const idx = r.u32();
        if (idx >= ctx.localTotal) r.fail(`unknown local ${idx}`, at);
        if (shiftLocalsFrom >= 0 && idx >= shiftLocalsFrom) patch(at + 1, Patch.LocalIndex, idx + 1);
        if (op === 0x20) {
          pushOrigin(floatLocal[idx] ? LOCAL_ORIGIN - idx : UNKNOWN);
          continue;
        }
        const o = take();
        if (o >= 0) {
          // A NaN-producing result stored in a local: elidable only if the local is never observed.
          const fate = nanFate.get(o);
          nanFate.set(o, fate === undefined || fate === idx ? idx : OBSERVED);
        } else {
          observe(o); // a copy of another local: keep it simple and treat that local as observed
        }
        if (op === 0x22) pushOrigin(o);
        continue;
      }
      case Imm.Global: {
        const idx = r.u32();
        if (idx >= m.globalTypes.length) r.fail(`unknown global ${idx}`, at);
        break;
      }
      case Imm.Table:
        if (r.u32() >= m.tableCount) r.fail('unknown table', at);
        break;
      case Imm.MemArg:
        memarg(r, funcIndex);
        break;
      case Imm.MemIdx:
        if (r.u8() !== 0) throw unsupported('multi-memory', 'memory index in memory.size', at, 'code', funcIndex);
        break;
      case Imm.I32:
        r.s32();
        break;
      case Imm.I64:
        r.skipS64();
        break;
      case Imm.F32:
        r.skip(4);
        break;
      case Imm.F64:
        r.skip(8);
        break;
      case Imm.SelectT: {
        const n = r.u32();
        if (n !== 1) r.fail('invalid result arity for typed select', at);
        const t = r.u8();
        if (!isValType(t)) r.fail('malformed value type', at);
        if (t === 0x7b) usesV128 = true;
        break;
      }
      case Imm.RefType: {
        const t = r.u8();
        if (t !== 0x70 && t !== 0x6f) {
          if (t === 0x6e || t === 0x64 || t === 0x63) throw unsupported('gc', 'heap type', at, 'code', funcIndex);
          r.fail('malformed reference type', at);
        }
        break;
      }
      case Imm.Func: {
        const idx = r.u32();
        checkFunc(idx, at);
        refFuncs.push(idx);
        break;
      }
      case Imm.PrefixFC: {
        const sub = r.u32();
        if (sub > FC_LAST) r.fail(`illegal opcode 0xfc ${sub}`, at);
        segCost += costs.fc[sub]! - opCost[op]!;
        switch (sub) {
          case 8: // memory.init
            r.u32();
            if (r.u8() !== 0) throw unsupported('multi-memory', 'memory index in memory.init', at, 'code', funcIndex);
            patch(at, Patch.BulkMemory, 0);
            helpers |= 1;
            break;
          case 9: // data.drop
          case 13: // elem.drop
            r.u32();
            break;
          case 10: // memory.copy
            if (r.u8() !== 0 || r.u8() !== 0) throw unsupported('multi-memory', 'memory index in memory.copy', at, 'code', funcIndex);
            patch(at, Patch.BulkMemory, 0);
            helpers |= 1;
            break;
          case 11: // memory.fill
            if (r.u8() !== 0) throw unsupported('multi-memory', 'memory index in memory.fill', at, 'code', funcIndex);
            patch(at, Patch.BulkMemory, 0);
            helpers |= 1;
            break;
          case 12: // table.init
          case 14: // table.copy
            r.u32();
            r.u32();
            patch(at, Patch.BulkTable, 0);
            helpers |= 2;
            break;
          case 15: // table.grow
          case 17: // table.fill
            r.u32();
            patch(at, Patch.BulkTable, 0);
            helpers |= 2;
            break;
          case 16: // table.size
            r.u32();
            break;
        }
        popN(FC_POPS[sub]!);
        pushN(FC_PUSHES[sub]!);
        continue;
      }
      case Imm.PrefixFD: {
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
        popN(SIMD_POPS[sub]!);
        pushN(SIMD_PUSHES[sub]!);
        const nan = NAN_SIMD[sub]!;
        if (nan !== 0) patch(r.pos, Patch.Nan, nan);
        continue;
      }
      default: {
        const proposal = UNSUPPORTED_PROPOSAL[op];
        if (proposal !== undefined) throw unsupported(proposal, `instruction 0x${op.toString(16)}`, at, 'code', funcIndex);
        r.fail(`illegal opcode 0x${op.toString(16)}`, at);
      }
    }
    const p = OP_POPS[op]!;
    if (p !== DYNAMIC) {
      // The path of almost every instruction, so the origin bookkeeping is inlined here.
      const base = cBase[cBase.length - 1]!;
      const from = height - p < base ? base : height - p;
      if (NAN_BLIND_CONSUMER[op] === 0) {
        for (let i = from; i < height; i++) {
          const o = orig[i]!;
          if (o !== UNKNOWN) observe(o);
        }
      }
      height = from;
      const nan = NAN_SCALAR[op]!;
      const q = OP_PUSHES[op]!;
      if (nan !== 0) {
        patch(r.pos, Patch.Nan, nan);
        orig[height++] = offsets.length - 1;
      } else if (q === 1) {
        orig[height++] = UNKNOWN;
      }
      if (height > maxHeight) maxHeight = height;
    }
  }
  return r.fail('unexpected end of section or function: function body must end with end', end);
}

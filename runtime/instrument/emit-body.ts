/**
 * Pass 2 of the rewriter: copies a function body verbatim between the patch points found by
 * analyze-body.ts and inserts the fuel, stack and NaN code there. See spec/fuel.md, spec/stack.md
 * and spec/nan.md for the exact sequences; they are summarised beside each emitter below.
 */
import { Writer } from './bytes.ts';
import type { CostTable } from './cost-table.ts';
import type { BodyAnalysis } from './analyze-body.ts';
import { Patch } from './analyze-body.ts';
import type { FuncBody } from './module.ts';

/** Trap reasons written to the trap-reason global before our own `unreachable`. */
export const TRAP_REASON = { none: 0, fuel: 1, stack: 2 } as const;

/** Canonical NaN bit patterns (spec: spec/nan.md#N1; the same as Cranelift's). */
const F32_CANON = Uint8Array.of(0x00, 0x00, 0xc0, 0x7f);
const F64_CANON = Uint8Array.of(0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f);

export interface EmitContext {
  bytes: Uint8Array;
  costs: CostTable;
  fuelGlobal: number;
  depthGlobal: number;
  /** Records the fuel trap reason and executes `unreachable` (spec: traps.md#T1); fuel checks call it. */
  trapFuelFunc: number;
  /**
   * Records fuel if the counter is negative, else stack, and executes `unreachable`; entry checks
   * call it. Kept apart from the fuel trap because V8 inlines the trap into cold paths of hot loops,
   * and a fuel read there measurably slowed them (bench/RESULTS.md, fuel).
   */
  trapEntryFunc: number;
  /** Function indices of the helpers of {@link chargeHelperBodies} (bytes, table elements, pages); -1 where unused. */
  chargeHelperFuncs: readonly number[];
  /** Frame weight added to the depth global on entry; 0 = none (unaccounted, or depth-passing). */
  frameWeight: number;
  /**
   * For a depth-passing function (spec: stack.md#S7): the index of the appended i32 parameter that
   * carries its depth (its caller's plus its own weight); -1 otherwise.
   */
  depthParam: number;
  /**
   * A depth-passing function that calls something keeping its depth in the global (an import, a
   * table, a global-accounting function): it stores its depth in the global on entry and puts
   * back the value it found on exit, so it is transparent to everyone else (spec: stack.md#S7).
   */
  syncDepth: boolean;
  /** Depth above which entry traps. */
  stackLimit: number;
  /** Encoded block type of the wrapper block (bytes). */
  wrapperBlockType: Uint8Array;
  paramCount: number;
  memoryLimitPages: number;
}

/** fuel -= cost (spec: fuel.md#F3). */
function emitCharge(w: Writer, fuel: number, cost: number): void {
  w.u8(0x23).u32(fuel).u8(0x42).s64n(cost).u8(0x7d).u8(0x24).u32(fuel);
}

/**
 * if (fuel < 0) trap(fuel). The counter is read back from the global rather than kept in a local
 * by the charge before it: two bytes shorter per check, and no slower in the loop benchmarks
 * (an A/B of both forms was within the machine's noise). The trap is out of line: a call on the
 * cold path only (spec: fuel.md#F4).
 */
function emitCheck(w: Writer, fuel: number, trapFunc: number): void {
  w.u8(0x23).u32(fuel).u8(0x42).u8(0x00).u8(0x53).u8(0x04).u8(0x40).u8(0x10).u32(trapFunc).u8(0x0b);
}

/** Index of each dynamic-charge helper in {@link chargeHelperBodies} and `chargeHelperFuncs`. */
export const HELPER = { bytes: 0, elements: 1, pages: 2 } as const;

/**
 * The bodies of the three dynamic-charge helpers (spec: fuel.md#F6); a module gets those its
 * bulk operations use: `(param $n i32) (result i32)`, each charging for `$n` (bytes, table
 * elements or pages), checking the counter, and returning `$n` so the operation it precedes sees
 * its operand unchanged. A bulk operation is one call (3 bytes) instead of 26 bytes of inline code;
 * bulk operations are rare and do work proportional to their length, so the call costs nothing
 * that matters.
 */
export function chargeHelperBodies(
  ctx: Pick<EmitContext, 'costs' | 'fuelGlobal' | 'trapFuelFunc' | 'memoryLimitPages'> & {
    /** The global the pages helper sets to 1 when the grow it precedes will be refused (markRefusedGrow). */
    growRefusedGlobal?: number;
  },
): Uint8Array[] {
  const { costs, fuelGlobal: fuel, trapFuelFunc } = ctx;
  const pages = ctx.memoryLimitPages | 0;
  const helper = (amount: (w: Writer) => void, beforeReturn?: (w: Writer) => void): Uint8Array => {
    const w = new Writer(64).u8(0); // no locals
    w.u8(0x23).u32(fuel).u8(0x20).u8(0x00);
    amount(w);
    w.u8(0x7d).u8(0x24).u32(fuel); // i64.sub; global.set
    emitCheck(w, fuel, trapFuelFunc);
    beforeReturn?.(w);
    return w.u8(0x20).u8(0x00).u8(0x0b).finish();
  };
  const refused = ctx.growRefusedGlobal;
  // The maximum is clamped to the limit, so the grow fails exactly when delta >u limit - memory.size:
  // local.get 0; i32.const limit; memory.size; i32.sub; i32.gt_u; if; i32.const 1; global.set; end.
  const markRefused =
    refused === undefined
      ? undefined
      : (w: Writer): void => {
          w.u8(0x20).u8(0x00).u8(0x41).s32(pages).u8(0x3f).u8(0x00).u8(0x6b).u8(0x4b);
          w.u8(0x04).u8(0x40).u8(0x41).u8(0x01).u8(0x24).u32(refused).u8(0x0b);
        };
  return [
    helper((w) => w.u8(0xad).u8(0x42).s64n(costs.bulkByteShift).u8(0x88)), // i64.extend_i32_u; i64.shr_u
    helper((w) => w.u8(0xad).u8(0x42).s64n(costs.tableElementCost).u8(0x7e)), // i64.mul
    // Pages beyond the limit cannot be granted, so they are not charged: min(delta, limit).
    helper(
      (w) =>
        w
          .u8(0x41)
          .s32(pages)
          .u8(0x20)
          .u8(0x00)
          .u8(0x41)
          .s32(pages)
          .u8(0x49)
          .u8(0x1b)
          .u8(0xad)
          .u8(0x42)
          .s64n(costs.memoryGrowPageCost)
          .u8(0x7e),
      markRefused,
    ),
  ];
}

function emitNan(w: Writer, kind: number, local: number): void {
  // v → (v == v) ? v : canonical. For SIMD lanes the same, per lane, through bitselect.
  w.u8(0x22).u32(local); // local.tee
  switch (kind) {
    case 1:
      w.u8(0x43).bytes(F32_CANON);
      w.u8(0x20).u32(local).u8(0x20).u32(local).u8(0x5b).u8(0x1b); // f32.eq; select
      break;
    case 2:
      w.u8(0x44).bytes(F64_CANON);
      w.u8(0x20).u32(local).u8(0x20).u32(local).u8(0x61).u8(0x1b); // f64.eq; select
      break;
    case 3:
      w.u8(0xfd).u32(12);
      for (let i = 0; i < 4; i++) w.bytes(F32_CANON);
      w.u8(0x20).u32(local).u8(0x20).u32(local).u8(0xfd).u32(65).u8(0xfd).u32(82); // f32x4.eq; v128.bitselect
      break;
    case 4:
      w.u8(0xfd).u32(12);
      for (let i = 0; i < 2; i++) w.bytes(F64_CANON);
      w.u8(0x20).u32(local).u8(0x20).u32(local).u8(0xfd).u32(71).u8(0xfd).u32(82); // f64x2.eq; v128.bitselect
      break;
  }
}

/** Patches added to an analysis's own (sorted by offset): the first `count` entries of each array. */
export interface ExtraPatches {
  offsets: number[];
  kinds: number[];
  args: number[];
  count: number;
}

const NO_EXTRA: ExtraPatches = { offsets: [], kinds: [], args: [], count: 0 };

/**
 * Emits the instrumented body (local declarations + code) for one function.
 * Appends the body (without its size prefix) to `w`.
 *
 * `extra` patches (the depth passing around calls, spec: stack.md#S7) are merged with the
 * analysis's own by offset. They wrap calls: at an equal offset they go after a charge, a check or
 * a NaN fix-up (the entry check opens the wrapper block, and a NaN fix-up works on the value below
 * the pushed depth) but before a `return` or the function's `end`, which the code after a call
 * must precede.
 */
export function emitBody(
  ctx: EmitContext,
  body: FuncBody,
  a: BodyAnalysis,
  w: Writer,
  extra: ExtraPatches = NO_EXTRA,
): void {
  const { bytes, fuelGlobal: fuel, depthGlobal: depth } = ctx;

  // Locals: the originals, then our scratch locals (appended so no existing index moves).
  let next = ctx.paramCount + body.localCount;
  const newLocals: { type: number; index: number }[] = [];
  const accounted = ctx.frameWeight > 0;
  const synced = ctx.depthParam >= 0 && ctx.syncDepth;
  // Either way the body is wrapped in a block whose end restores the depth global.
  const wrapped = accounted || synced;
  let savedDepth = -1;
  if (wrapped) newLocals.push({ type: 0x7f, index: (savedDepth = next++) });
  const nanLocal = [0, -1, -1, -1, -1];
  const nanTypes = [0, 0x7d, 0x7c, 0x7b, 0x7b];
  for (let k = 1; k <= 4; k++) {
    if ((a.nanKinds & (1 << k)) === 0) continue;
    if (k === 4 && nanLocal[3]! >= 0) {
      nanLocal[4] = nanLocal[3]!;
      continue;
    }
    newLocals.push({ type: nanTypes[k]!, index: (nanLocal[k] = next++) });
  }
  w.u32(body.localDecls.length + newLocals.length);
  for (const d of body.localDecls) w.u32(d.count).u8(d.type);
  for (const e of newLocals) w.u32(1).u8(e.type);

  const { trapFuelFunc, trapEntryFunc } = ctx;
  const { offsets, kinds, args } = a;
  const n = offsets.length;
  const xCount = extra.count;
  const xOffsets = extra.offsets;
  let cursor = body.codeStart;
  for (let p = 0, x = 0; p < n || x < xCount; ) {
    let off: number;
    let kind: number;
    let arg: number;
    // The function's entry is the analysis's first patch.
    let entry = false;
    if (
      x >= xCount ||
      (p < n &&
        (offsets[p]! < xOffsets[x]! ||
          (offsets[p] === xOffsets[x] && kinds[p] !== Patch.Return && kinds[p] !== Patch.FuncEnd)))
    ) {
      entry = p === 0;
      off = offsets[p]!;
      kind = kinds[p]!;
      arg = args[p++]!;
    } else {
      off = xOffsets[x]!;
      kind = extra.kinds[x]!;
      arg = extra.args[x++]!;
    }
    if (off > cursor) {
      w.copy(bytes, cursor, off);
      cursor = off;
    }
    switch (kind) {
      case Patch.Charge:
        if (arg > 0) emitCharge(w, fuel, arg);
        break;
      case Patch.ChargeCheck:
        if (arg > 0) emitCharge(w, fuel, arg);
        if (entry && ctx.depthParam >= 0) {
          // Depth-passing entry: its callers checked both budgets before the call (CallSiteCheck).
          if (synced) {
            w.u8(0x23).u32(depth).u8(0x21).u32(savedDepth).u8(0x20).u32(ctx.depthParam).u8(0x24).u32(depth); // saved = depth; depth = param
            w.u8(0x02).bytes(ctx.wrapperBlockType);
          }
        } else if (entry && accounted) {
          // Function entry: depth += weight, and one branch checks both budgets (spec: stack.md#S2).
          w.u8(0x23).u32(depth).u8(0x22).u32(savedDepth).u8(0x41).s32(ctx.frameWeight).u8(0x6a).u8(0x24).u32(depth);
          w.u8(0x20)
            .u32(savedDepth)
            .u8(0x41)
            .s32(ctx.stackLimit - ctx.frameWeight)
            .u8(0x4b); // saved > limit - weight
          w.u8(0x23).u32(fuel).u8(0x42).u8(0x00).u8(0x53).u8(0x72); // fuel < 0; i32.or
          w.u8(0x04).u8(0x40).u8(0x10).u32(trapEntryFunc).u8(0x0b);
          w.u8(0x02).bytes(ctx.wrapperBlockType);
        } else {
          emitCheck(w, fuel, trapFuelFunc);
        }
        break;
      case Patch.Return:
        if (wrapped)
          w.u8(0x0c).u32(arg); // br to the wrapper block, which runs the exit code
        else w.u8(0x0f);
        cursor += 1;
        break;
      case Patch.Nan:
        emitNan(w, arg, nanLocal[arg]!);
        break;
      case Patch.BulkMemory:
        w.u8(0x10).u32(ctx.chargeHelperFuncs[HELPER.bytes]!);
        break;
      case Patch.BulkTable:
        w.u8(0x10).u32(ctx.chargeHelperFuncs[HELPER.elements]!);
        break;
      case Patch.GrowMemory:
        w.u8(0x10).u32(ctx.chargeHelperFuncs[HELPER.pages]!);
        break;
      case Patch.LocalIndex: {
        w.u32(arg);
        let q = off;
        while (bytes[q]! & 0x80) q++;
        cursor = q + 1;
        break;
      }
      case Patch.CallSiteCheck:
        // if (depth > limit - weight || fuel < 0) trap, with our depth from the parameter or the global.
        if (ctx.depthParam >= 0) w.u8(0x20).u32(ctx.depthParam);
        else w.u8(0x23).u32(depth);
        w.u8(0x41)
          .s32(ctx.stackLimit - arg)
          .u8(0x4b);
        w.u8(0x23).u32(fuel).u8(0x42).u8(0x00).u8(0x53).u8(0x72); // fuel < 0; i32.or
        w.u8(0x04).u8(0x40).u8(0x10).u32(trapEntryFunc).u8(0x0b);
        break;
      case Patch.CallDepthArg:
        // The callee's depth: ours (the parameter, or the global) plus its weight.
        if (ctx.depthParam >= 0) w.u8(0x20).u32(ctx.depthParam);
        else w.u8(0x23).u32(depth);
        w.u8(0x41).s32(arg).u8(0x6a);
        break;
      case Patch.FuncEnd:
        if (wrapped) {
          w.u8(0x0b); // end of wrapper block
          // depth = its value at entry   (spec: stack.md#S3)
          w.u8(0x20).u32(savedDepth).u8(0x24).u32(depth);
        }
        w.u8(0x0b);
        cursor += 1;
        break;
    }
  }
}

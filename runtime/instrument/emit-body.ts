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
const F32_CANON = [0x00, 0x00, 0xc0, 0x7f];
const F64_CANON = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f];

export interface EmitContext {
  bytes: Uint8Array;
  costs: CostTable;
  fuelGlobal: number;
  depthGlobal: number;
  /** Functions that record the trap reason and execute `unreachable` (spec: traps.md#T1). */
  trapFuelFunc: number;
  /** Called when the combined entry check fails; tells fuel from stack by the fuel global. */
  trapEntryFunc: number;
  /** Frame weight added on entry; 0 = no stack accounting (leaf function). */
  frameWeight: number;
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
 * fuel -= cost, keeping the new value in `local` so the check needs no second global load
 * (spec: fuel.md#F3, #F4).
 */
function emitChargeTee(w: Writer, fuel: number, cost: number, local: number): void {
  w.u8(0x23).u32(fuel);
  if (cost > 0) w.u8(0x42).s64n(cost).u8(0x7d).u8(0x22).u32(local).u8(0x24).u32(fuel);
  else w.u8(0x21).u32(local);
}

/**
 * if (counter < 0) trap(fuel), reading the counter with `getOp` (0x20 local.get of the value the
 * charge kept, or 0x23 global.get). The trap is out of line: a call on the cold path only
 * (spec: fuel.md#F4).
 */
function emitCheck(w: Writer, getOp: 0x20 | 0x23, index: number, trapFuel: number): void {
  w.u8(getOp).u32(index).u8(0x42).u8(0x00).u8(0x53).u8(0x04).u8(0x40).u8(0x10).u32(trapFuel).u8(0x0b);
}

/**
 * fuel -= <i64 on the stack computed by `amount`>; check. The i32 operand on top of the stack is
 * parked in the scratch local and put back, so the operation itself sees it unchanged.
 */
function emitDynamicCharge(w: Writer, ctx: EmitContext, scratch: number, amount: (w: Writer) => void): void {
  w.u8(0x21).u32(scratch); // local.set
  w.u8(0x23).u32(ctx.fuelGlobal);
  amount(w);
  w.u8(0x7d).u8(0x24).u32(ctx.fuelGlobal); // i64.sub; global.set
  emitCheck(w, 0x23, ctx.fuelGlobal, ctx.trapFuelFunc);
  w.u8(0x20).u32(scratch); // local.get
}

function emitNan(w: Writer, kind: number, local: number): void {
  // v → (v == v) ? v : canonical. For SIMD lanes the same, per lane, through bitselect.
  w.u8(0x22).u32(local); // local.tee
  switch (kind) {
    case 1:
      w.u8(0x43).bytes(Uint8Array.from(F32_CANON));
      w.u8(0x20).u32(local).u8(0x20).u32(local).u8(0x5b).u8(0x1b); // f32.eq; select
      break;
    case 2:
      w.u8(0x44).bytes(Uint8Array.from(F64_CANON));
      w.u8(0x20).u32(local).u8(0x20).u32(local).u8(0x61).u8(0x1b); // f64.eq; select
      break;
    case 3:
      w.u8(0xfd).u32(12);
      for (let i = 0; i < 4; i++) w.bytes(Uint8Array.from(F32_CANON));
      w.u8(0x20).u32(local).u8(0x20).u32(local).u8(0xfd).u32(65).u8(0xfd).u32(82); // f32x4.eq; v128.bitselect
      break;
    case 4:
      w.u8(0xfd).u32(12);
      for (let i = 0; i < 2; i++) w.bytes(Uint8Array.from(F64_CANON));
      w.u8(0x20).u32(local).u8(0x20).u32(local).u8(0xfd).u32(71).u8(0xfd).u32(82); // f64x2.eq; v128.bitselect
      break;
  }
}

/**
 * Emits the instrumented body (local declarations + code) for one function.
 * Appends the body (without its size prefix) to `w`.
 */
export function emitBody(ctx: EmitContext, body: FuncBody, a: BodyAnalysis, w: Writer): void {
  const { bytes, fuelGlobal: fuel, depthGlobal: depth } = ctx;

  // Locals: the originals, then our scratch locals (appended so no existing index moves).
  let next = ctx.paramCount + body.localCount;
  const extra: { type: number; index: number }[] = [];
  const accounted = ctx.frameWeight > 0;
  const fuelLocal = next++;
  extra.push({ type: 0x7e, index: fuelLocal });
  let savedDepth = -1;
  if (accounted) extra.push({ type: 0x7f, index: (savedDepth = next++) });
  let i32Scratch = -1;
  if (a.needsI32Scratch) extra.push({ type: 0x7f, index: (i32Scratch = next++) });
  const nanLocal = [0, -1, -1, -1, -1];
  const nanTypes = [0, 0x7d, 0x7c, 0x7b, 0x7b];
  for (let k = 1; k <= 4; k++) {
    if ((a.nanKinds & (1 << k)) === 0) continue;
    if (k === 4 && nanLocal[3]! >= 0) {
      nanLocal[4] = nanLocal[3]!;
      continue;
    }
    extra.push({ type: nanTypes[k]!, index: (nanLocal[k] = next++) });
  }
  w.u32(body.localDecls.length + extra.length);
  for (const d of body.localDecls) w.u32(d.count).u8(d.type);
  for (const e of extra) w.u32(1).u8(e.type);

  const { trapFuelFunc: trapFuel, trapEntryFunc: trapEntry } = ctx;
  const { offsets, kinds, args } = a;
  let cursor = body.codeStart;
  const costs = ctx.costs;
  for (let p = 0; p < offsets.length; p++) {
    const off = offsets[p]!;
    if (off > cursor) {
      w.bytes(bytes.subarray(cursor, off));
      cursor = off;
    }
    const arg = args[p]!;
    switch (kinds[p]) {
      case Patch.Charge:
        if (arg > 0) emitCharge(w, fuel, arg);
        break;
      case Patch.ChargeCheck:
        emitChargeTee(w, fuel, arg, fuelLocal);
        if (p === 0 && accounted) {
          // Function entry: depth += weight, and one branch checks both budgets (spec: stack.md#S2).
          w.u8(0x23).u32(depth).u8(0x22).u32(savedDepth).u8(0x41).s32(ctx.frameWeight).u8(0x6a).u8(0x24).u32(depth);
          w.u8(0x20).u32(savedDepth).u8(0x41).s32(ctx.stackLimit - ctx.frameWeight).u8(0x4b); // saved > limit - weight
          w.u8(0x20).u32(fuelLocal).u8(0x42).u8(0x00).u8(0x53).u8(0x72); // fuel < 0; i32.or
          w.u8(0x04).u8(0x40).u8(0x10).u32(trapEntry).u8(0x0b);
          w.u8(0x02).bytes(ctx.wrapperBlockType);
        } else {
          emitCheck(w, 0x20, fuelLocal, trapFuel);
        }
        break;
      case Patch.Return:
        if (accounted) w.u8(0x0c).u32(arg); // br to the wrapper block, which runs the exit code
        else w.u8(0x0f);
        cursor += 1;
        break;
      case Patch.Nan:
        emitNan(w, arg, nanLocal[arg]!);
        break;
      case Patch.BulkMemory:
        emitDynamicCharge(w, ctx, i32Scratch, (o) => {
          o.u8(0x20).u32(i32Scratch).u8(0xad).u8(0x42).s64n(costs.bulkByteShift).u8(0x88); // i64.extend_i32_u; i64.shr_u
        });
        break;
      case Patch.BulkTable:
        emitDynamicCharge(w, ctx, i32Scratch, (o) => {
          o.u8(0x20).u32(i32Scratch).u8(0xad).u8(0x42).s64n(costs.tableElementCost).u8(0x7e); // i64.mul
        });
        break;
      case Patch.GrowMemory:
        // Pages beyond the limit cannot be granted, so they are not charged: min(delta, limit).
        emitDynamicCharge(w, ctx, i32Scratch, (o) => {
          o.u8(0x20).u32(i32Scratch).u8(0x41).s32(ctx.memoryLimitPages | 0);
          o.u8(0x20).u32(i32Scratch).u8(0x41).s32(ctx.memoryLimitPages | 0).u8(0x49).u8(0x1b); // i32.lt_u; select
          o.u8(0xad).u8(0x42).s64n(costs.memoryGrowPageCost).u8(0x7e);
        });
        break;
      case Patch.FuncEnd:
        if (accounted) {
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

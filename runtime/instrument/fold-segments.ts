/**
 * A post-pass of the body analysis (analyze-body.ts): small-segment folding (spec: fuel.md#F8).
 * It runs on the analyser's patch arrays after the decode, before NaN elision.
 */
import type { BodyAnalyser } from './analyze-body.ts';

/** Largest segment cost charged with its parent instead of on its own (spec: fuel.md#F8). */
export const FOLD_SEGMENT_MAX = 24;
/** Most cost any one segment takes in from segments folded into it (spec: fuel.md#F8). */
export const FOLD_PARENT_MAX = 96;

/**
 * Charges small segments with the segment they hang off (spec: fuel.md#F8). A segment that follows
 * a `br_if`, starts an `if` arm or a join costs 7 bytes of charge code for a few instructions of
 * work; charging it with its parent removes that code at the price of a bounded overcharge on the
 * paths that skip it. Parents come before their children in code order, so a child always finds
 * where its parent's cost went.
 */
export function foldSmallSegments(a: BodyAnalyser): void {
  const n = a.patchCount;
  const args = a.args;
  const foldParent = a.foldParent;
  let into: Int32Array | undefined;
  let taken: Int32Array | undefined;
  for (let child = 1; child < n; child++) {
    const parent = foldParent[child]!;
    if (parent < 0) continue;
    const cost = args[child]!;
    if (cost === 0 || cost > FOLD_SEGMENT_MAX) continue;
    if (into === undefined || taken === undefined) {
      if (a.into.length < n) {
        a.into = new Int32Array(Math.max(n, a.into.length * 2));
        a.taken = new Int32Array(a.into.length);
        a.hasCall = new Uint8Array(a.into.length);
      }
      into = a.into;
      taken = a.taken;
      for (let i = 0; i < n; i++) {
        into[i] = -1;
        taken[i] = 0;
        a.hasCall[i] = 0;
      }
      for (let k = 0; k < a.callCount; k++) a.hasCall[a.callSegs[k]!] = 1;
    }
    let root = parent;
    while (into[root]! >= 0) root = into[root]!;
    // In a function only direct calls reach, a call folded into the entry segment would keep
    // callers from paying the entry's charge (spec: fuel.md#F7), which for a small recursive
    // function costs more than the fold saves.
    if (root === 0 && a.callersMayPay && a.hasCall[child]) continue;
    const t = taken[root]! + cost;
    if (t > FOLD_PARENT_MAX) continue;
    taken[root] = t;
    a.hasCall[root]! |= a.hasCall[child]!;
    args[root] += cost;
    args[child] = 0;
    into[child] = root;
  }
  if (into === undefined) return;
  const callSegs = a.callSegs;
  for (let k = 0; k < a.callCount; k++) {
    let p = callSegs[k]!;
    while (into[p]! >= 0) p = into[p]!;
    callSegs[k] = p;
  }
}

/**
 * A post-pass of the body analysis (analyze-body.ts): NaN-patch elision (spec: nan.md#N4). It runs
 * on the analyser's patch arrays after folding.
 */
import type { BodyAnalyser } from './analyze-body.ts';
import { Patch } from './analyze-body.ts';

/** `nanFate` of a NaN patch whose value reaches an observer (a store, a call, a return…). */
export const OBSERVED = -1;
/** Flag per local: some read of it is observed (analyze-body.ts sets it). */
export const LOCAL_OBSERVED = 2;

/**
 * Drops the scalar NaN patches whose values are never observed (spec: nan.md#N4): consumed only by
 * payload-blind operators, directly or through locals every read of which is payload-blind.
 */
export function elideNans(a: BodyAnalyser): void {
  const { offsets, kinds, args, nanFate, locals } = a;
  const n = a.patchCount;
  // Segment patches move down as NaN patches are dropped; call sites follow their segment.
  // `into` is free again after folding and records each kept patch's new index.
  if (a.into.length < n) {
    a.into = new Int32Array(Math.max(n, a.into.length * 2));
    a.taken = new Int32Array(a.into.length);
  }
  const moved = a.into;
  let w = 0;
  let nanKinds = 0;
  for (let i = 0; i < n; i++) {
    if (kinds[i] === Patch.Nan && args[i]! <= 2) {
      const f = nanFate[i]!;
      const needed = f === OBSERVED || (f >= 0 && (locals[f]! & LOCAL_OBSERVED) !== 0);
      if (!needed) continue;
    }
    if (kinds[i] === Patch.Nan) nanKinds |= 1 << args[i]!;
    moved[i] = w;
    offsets[w] = offsets[i]!;
    kinds[w] = kinds[i]!;
    args[w] = args[i]!;
    w++;
  }
  a.patchCount = w;
  a.nanKinds = nanKinds;
  if (w !== n) {
    const callSegs = a.callSegs;
    for (let k = 0; k < a.callCount; k++) callSegs[k] = moved[callSegs[k]!]!;
  }
}

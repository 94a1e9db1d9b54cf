/**
 * Which functions account their stack frames and check fuel on entry (spec: stack.md#S4,
 * fuel.md#F4). Only a function on a call-graph cycle can be entered without bound, so only those
 * need an entry check; every other function sits on a finite chain whose weight is charged to the
 * nearest accounted function above it, or to the reserve for the top of the stack.
 */
import type { BodyAnalysis } from './analyze-body.ts';
import type { ParsedModule } from './module.ts';

/**
 * The reserve at the top of the stack (spec: stack.md#S4): an unaccounted chain of calls, plus one
 * of the rewriter's own helpers or trap functions below it, never weighs more.
 */
export const CHAIN_MAX_WEIGHT = 512;
/** What the reserve keeps for a frame of an appended helper or trap function (no locals, ≤ 4 operands). */
const HELPER_FRAME_WEIGHT = 16;

export interface FramePlan {
  /** Per defined function: the weight it adds to the depth counter on entry, or 0 for none. */
  weight: Int32Array;
  /** Per defined function: whether it lies on a call-graph cycle (and so checks fuel on entry). */
  cyclic: Uint8Array;
}

/**
 * Builds the call graph (direct calls, and `call_indirect` to every function of the same type that
 * a table or `ref.func` can hold), finds its cycles, and sizes every accounted frame.
 *
 * @param own - each defined function's own frame weight (spec: stack.md#S1).
 */
export function planFrames(m: ParsedModule, analyses: readonly BodyAnalysis[], own: Int32Array): FramePlan {
  const defined = analyses.length;
  const imported = m.importedFuncCount;
  // One node per defined function, then one per function signature that some live call_indirect
  // uses; a signature node leads to every referenced function with that signature.
  const sigKey = (t: number): string => {
    const ft = m.types[t]!;
    return `${ft.params.join(',')}>${ft.results.join(',')}`;
  };
  const sigNode = new Map<string, number>();
  const edges: number[][] = [];
  for (let i = 0; i < defined; i++) {
    const out: number[] = [];
    for (const c of analyses[i]!.callees) if (c >= imported) out.push(c - imported);
    for (const t of analyses[i]!.indirectTypes) {
      const key = sigKey(t);
      let n = sigNode.get(key);
      if (n === undefined) {
        n = defined + sigNode.size;
        sigNode.set(key, n);
      }
      out.push(n);
    }
    edges.push(out);
  }
  for (let k = 0; k < sigNode.size; k++) edges.push([]);
  if (sigNode.size > 0) {
    const referenced = new Set<number>(m.refFuncs);
    for (const a of analyses) for (const f of a.refFuncs) referenced.add(f);
    for (const f of referenced) {
      if (f < imported) continue;
      const n = sigNode.get(sigKey(m.funcTypes[f]!));
      if (n !== undefined) edges[n]!.push(f - imported);
    }
  }

  const weight = new Int32Array(defined);
  const cyclic = new Uint8Array(defined);
  // Weight of the longest unaccounted chain starting at a node (0 for an accounted function).
  const chain = new Int32Array(edges.length);
  const below = (n: number): number => {
    let max = 0;
    for (const c of edges[n]!) if (chain[c]! > max) max = chain[c]!;
    return max;
  };
  for (const scc of stronglyConnected(edges)) {
    const isCycle = scc.length > 1 || edges[scc[0]!]!.includes(scc[0]!);
    if (isCycle) {
      // Members are accounted, so they add nothing to chains; signature nodes pass their targets' chains on.
      for (const n of scc) chain[n] = 0;
      for (const n of scc) if (n >= defined) chain[n] = below(n);
      for (const n of scc) {
        if (n >= defined) continue;
        cyclic[n] = 1;
        weight[n] = own[n]! + below(n);
      }
      continue;
    }
    const n = scc[0]!;
    const b = below(n);
    if (n >= defined) {
      chain[n] = b;
    } else if (own[n]! + b <= CHAIN_MAX_WEIGHT - HELPER_FRAME_WEIGHT) {
      chain[n] = own[n]! + b;
    } else {
      weight[n] = own[n]! + b;
      chain[n] = 0;
    }
  }
  return { weight, cyclic };
}

/**
 * Tarjan's algorithm without recursion (call graphs of real modules are deep). Components come
 * out callees first: every edge leads to a component already returned or to the same one.
 */
function stronglyConnected(edges: readonly (readonly number[])[]): number[][] {
  const n = edges.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const out: number[][] = [];
  const work: number[] = []; // pairs: node, next edge position
  let next = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    work.push(root, 0);
    while (work.length > 0) {
      const v = work[work.length - 2]!;
      let e = work[work.length - 1]!;
      if (e === 0 && index[v] === -1) {
        index[v] = low[v] = next++;
        stack.push(v);
        onStack[v] = 1;
      }
      const es = edges[v]!;
      let descended = false;
      while (e < es.length) {
        const w = es[e++]!;
        if (index[w] === -1) {
          work[work.length - 1] = e;
          work.push(w, 0);
          descended = true;
          break;
        }
        if (onStack[w] && index[w]! < low[v]!) low[v] = index[w]!;
      }
      if (descended) continue;
      work.length -= 2;
      if (low[v] === index[v]) {
        const scc: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          scc.push(w);
        } while (w !== v);
        out.push(scc);
      }
      if (work.length > 0) {
        const parent = work[work.length - 2]!;
        if (low[v]! < low[parent]!) low[parent] = low[v]!;
      }
    }
  }
  return out;
}

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
  // uses; a signature node leads to every referenced function with that signature. The graph is
  // kept as flat arrays (edges of node n at edgeStart[n]..edgeStart[n+1]): the rewriter runs this
  // per module, and arrays of arrays were a good part of its garbage.
  // Signatures are told apart by their text, worked out once per type index.
  const sigKeys = new Map<string, number>();
  const sigOfType = new Int32Array(m.types.length).fill(-1);
  const sigOf = (t: number): number => {
    // An out-of-range index (a table entry naming no function) finds no type and throws here.
    let s = sigOfType[t];
    if (s === undefined || s < 0) {
      const ft = m.types[t]!;
      const key = `${ft.params.join(',')}>${ft.results.join(',')}`;
      s = sigKeys.get(key) ?? sigKeys.size;
      sigKeys.set(key, s);
      sigOfType[t] = s;
    }
    return s;
  };
  let edgeCount = 0;
  for (let i = 0; i < defined; i++) edgeCount += analyses[i]!.callees.length + analyses[i]!.indirectTypes.length;
  // Signature node of each signature, numbered in order of first use by a call_indirect.
  let sigNode = new Int32Array(16).fill(-1);
  let sigNodes = 0;
  const fnEdges = new Int32Array(edgeCount);
  const fnStart = new Int32Array(defined + 1);
  let e = 0;
  for (let i = 0; i < defined; i++) {
    fnStart[i] = e;
    const { callees, indirectTypes } = analyses[i]!;
    for (let k = 0; k < callees.length; k++) if (callees[k]! >= imported) fnEdges[e++] = callees[k]! - imported;
    for (let k = 0; k < indirectTypes.length; k++) {
      const s = sigOf(indirectTypes[k]!);
      if (s >= sigNode.length) {
        const grown = new Int32Array(Math.max(s + 1, sigNode.length * 2)).fill(-1);
        grown.set(sigNode);
        sigNode = grown;
      }
      if (sigNode[s]! < 0) sigNode[s] = defined + sigNodes++;
      fnEdges[e++] = sigNode[s]!;
    }
  }
  fnStart[defined] = e;
  const nodes = defined + sigNodes;
  // Signature nodes' edges: the referenced defined functions, in the order they are first referenced.
  let targets: number[] = [];
  let targetNode: number[] = [];
  if (sigNodes > 0) {
    const seen = new Uint8Array(m.funcTypes.length);
    const consider = (f: number): void => {
      if (seen[f]) return;
      seen[f] = 1;
      if (f < imported) return;
      const s = sigOf(m.funcTypes[f]!);
      const n = s < sigNode.length ? sigNode[s]! : -1;
      if (n >= 0) {
        targets.push(f - imported);
        targetNode.push(n);
      }
    };
    for (const f of m.refFuncs) consider(f);
    for (const a of analyses) for (let k = 0; k < a.refFuncs.length; k++) consider(a.refFuncs[k]!);
  } else {
    targets = [];
    targetNode = [];
  }
  const edgeStart = new Int32Array(nodes + 1);
  const edges = new Int32Array(e + targets.length);
  edges.set(fnEdges.subarray(0, e));
  edgeStart.set(fnStart);
  {
    // Counting sort of the signature edges by node, keeping their order within a node.
    const count = new Int32Array(sigNodes + 1);
    for (let k = 0; k < targetNode.length; k++) count[targetNode[k]! - defined + 1]!++;
    for (let n = 0; n < sigNodes; n++) {
      count[n + 1]! += count[n]!;
      edgeStart[defined + n + 1] = e + count[n + 1]!;
    }
    for (let k = 0; k < targetNode.length; k++) edges[e + count[targetNode[k]! - defined]!++] = targets[k]!;
  }

  const weight = new Int32Array(defined);
  const cyclic = new Uint8Array(defined);
  // Weight of the longest unaccounted chain starting at a node (0 for an accounted function).
  const chain = new Int32Array(nodes);
  const below = (n: number): number => {
    let max = 0;
    for (let k = edgeStart[n]!; k < edgeStart[n + 1]!; k++) if (chain[edges[k]!]! > max) max = chain[edges[k]!]!;
    return max;
  };
  const { members, start } = stronglyConnected(edges, edgeStart, nodes);
  for (let c = 0; c + 1 < start.length; c++) {
    const from = start[c]!;
    const to = start[c + 1]!;
    const first = members[from]!;
    let isCycle = to - from > 1;
    if (!isCycle)
      for (let k = edgeStart[first]!; k < edgeStart[first + 1]!; k++) if (edges[k] === first) isCycle = true;
    if (isCycle) {
      // Members are accounted, so they add nothing to chains; signature nodes pass their targets' chains on.
      for (let k = from; k < to; k++) chain[members[k]!] = 0;
      for (let k = from; k < to; k++) if (members[k]! >= defined) chain[members[k]!] = below(members[k]!);
      for (let k = from; k < to; k++) {
        const n = members[k]!;
        if (n >= defined) continue;
        cyclic[n] = 1;
        weight[n] = own[n]! + below(n);
      }
      continue;
    }
    const n = first;
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
 * Component c's nodes are members[start[c]..start[c+1]].
 */
function stronglyConnected(
  edges: Int32Array,
  edgeStart: Int32Array,
  n: number,
): { members: Int32Array; start: number[] } {
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack = new Int32Array(n);
  let sp = 0;
  const members = new Int32Array(n);
  let mp = 0;
  const start: number[] = [0];
  const work = new Int32Array(2 * n); // pairs: node, next edge position
  let wp = 0;
  let next = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    work[wp++] = root;
    work[wp++] = 0;
    while (wp > 0) {
      const v = work[wp - 2]!;
      let e = work[wp - 1]!;
      if (e === 0 && index[v] === -1) {
        index[v] = low[v] = next++;
        stack[sp++] = v;
        onStack[v] = 1;
      }
      const es = edgeStart[v]!;
      const count = edgeStart[v + 1]! - es;
      let descended = false;
      while (e < count) {
        const w = edges[es + e++]!;
        if (index[w] === -1) {
          work[wp - 1] = e;
          work[wp++] = w;
          work[wp++] = 0;
          descended = true;
          break;
        }
        if (onStack[w] && index[w]! < low[v]!) low[v] = index[w]!;
      }
      if (descended) continue;
      wp -= 2;
      if (low[v] === index[v]) {
        let w: number;
        do {
          w = stack[--sp]!;
          onStack[w] = 0;
          members[mp++] = w;
        } while (w !== v);
        start.push(mp);
      }
      if (wp > 0) {
        const parent = work[wp - 2]!;
        if (low[v]! < low[parent]!) low[parent] = low[v]!;
      }
    }
  }
  return { members, start };
}

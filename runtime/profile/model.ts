/**
 * The profile every output format renders: one call tree of fuel, the top-level guest's functions
 * at the first level and each nested submission as its own subtree (labelled with its module hash)
 * under the frame that called `nested_call`. Children are sorted by name, so a profile's bytes
 * depend only on the run, never on the order nodes were created in.
 */
import type { InstanceTree } from './engine.ts';

export interface ProfileNode {
  name: string;
  /** Fuel charged while this frame was running its own code. */
  self: bigint;
  /** Fuel of this frame and everything it called. */
  total: bigint;
  /** How many times this call path was entered. */
  calls: bigint;
  children: ProfileNode[];
  /** Set on a nested submission's subtree root. */
  nested?: boolean;
}

export interface Profile {
  /** Named after the run (module or bundle); its `total` is the run's `fuelUsed`. */
  root: ProfileNode;
  /** Some callees were counted with their callers (the tree memory was full). */
  truncated: boolean;
}

interface Building {
  name: string;
  self: bigint;
  calls: bigint;
  nested: boolean;
  children: Map<string, Building>;
}

function fresh(name: string, nested = false): Building {
  return { name, self: 0n, calls: 0n, nested, children: new Map() };
}

function child(parent: Building, name: string, nested = false): Building {
  let c = parent.children.get(name);
  if (c === undefined) {
    c = fresh(name, nested);
    parent.children.set(name, c);
  }
  return c;
}

/** Builds the profile from a run's instance trees (engine.ts), the top-level one first. */
export function buildProfile(rootName: string, trees: readonly InstanceTree[]): Profile {
  const root = fresh(rootName);
  let truncated = false;
  // Each instance's nodes, mapped onto the merged tree: nested instances of the same submission
  // under the same caller frame merge, as repeated calls of one function do.
  const placed = new Map<InstanceTree, Building[]>();
  for (const tree of trees) {
    if (tree.dropped) continue;
    const nodes = tree.read();
    truncated ||= tree.truncated;
    let base = root;
    if (tree.parent !== undefined) {
      const at = placed.get(tree.parent.tree)?.[tree.parent.node];
      if (at === undefined) continue;
      base = child(at, tree.label ?? 'nested submission', true);
      base.calls += 1n;
    }
    const map: Building[] = [base];
    for (let n = 1; n < nodes.self.length; n++) {
      const parent = map[nodes.parent[n]!]!;
      const b = child(parent, tree.names[nodes.func[n]!] ?? `func[${nodes.func[n]}]`);
      b.self += nodes.self[n]!;
      b.calls += nodes.calls[n]!;
      map.push(b);
    }
    base.self += nodes.self[0]!;
    placed.set(tree, map);
  }
  // Fuel billed for nested work is shown in the nested subtree, not as the caller's own.
  for (const [tree, map] of placed) {
    for (const [node, amount] of tree.credits) {
      const b = map[node];
      if (b !== undefined) b.self -= amount;
    }
  }
  return { root: finish(root), truncated };
}

function finish(b: Building): ProfileNode {
  const children = [...b.children.values()]
    .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
    .map(finish);
  let total = b.self;
  for (const c of children) total += c.total;
  const node: ProfileNode = { name: b.name, self: b.self, total, calls: b.calls, children };
  if (b.nested) node.nested = true;
  return node;
}

/** Every root-to-node path with fuel of its own, depth first in sorted order (no recursion: trees can be thousands deep). */
export function* stacks(p: Profile): Generator<{ path: ProfileNode[]; self: bigint }> {
  const path: ProfileNode[] = [];
  const todo: { node: ProfileNode; depth: number }[] = [{ node: p.root, depth: 0 }];
  while (todo.length > 0) {
    const { node, depth } = todo.pop()!;
    path.length = depth;
    path.push(node);
    if (node.self !== 0n) yield { path: [...path], self: node.self };
    for (let i = node.children.length - 1; i >= 0; i--) todo.push({ node: node.children[i]!, depth: depth + 1 });
  }
}

/**
 * The profile as flat arrays in depth-first order, to cross a thread: V8's structured clone
 * silently drops a message nested as deep as a recursion's call tree.
 */
export interface FlatProfile {
  names: string[];
  self: bigint[];
  calls: bigint[];
  parent: number[];
  nested: boolean[];
  truncated: boolean;
}

export function flattenProfile(p: Profile): FlatProfile {
  const flat: FlatProfile = { names: [], self: [], calls: [], parent: [], nested: [], truncated: p.truncated };
  const todo: { node: ProfileNode; parent: number }[] = [{ node: p.root, parent: -1 }];
  while (todo.length > 0) {
    const { node, parent } = todo.pop()!;
    const i = flat.names.length;
    flat.names.push(node.name);
    flat.self.push(node.self);
    flat.calls.push(node.calls);
    flat.parent.push(parent);
    flat.nested.push(node.nested === true);
    for (let k = node.children.length - 1; k >= 0; k--) todo.push({ node: node.children[k]!, parent: i });
  }
  return flat;
}

export function unflattenProfile(f: FlatProfile): Profile {
  const nodes: ProfileNode[] = f.names.map((name, i) => {
    const n: ProfileNode = { name, self: f.self[i]!, total: f.self[i]!, calls: f.calls[i]!, children: [] };
    if (f.nested[i]) n.nested = true;
    return n;
  });
  for (let i = 1; i < nodes.length; i++) nodes[f.parent[i]!]!.children.push(nodes[i]!);
  // Parents come before their children: totals add up from the end.
  for (let i = nodes.length - 1; i > 0; i--) nodes[f.parent[i]!]!.total += nodes[i]!.total;
  return { root: nodes[0]!, truncated: f.truncated };
}

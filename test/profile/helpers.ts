/** Shared data for the profile suites: real runs of the C fixtures and example challenges. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGuest } from '../../runtime/cage/run.ts';
import type { GuestRunOutcome } from '../../runtime/cage/run.ts';
import { evaluateSubmissions, loadChallenge } from '../../runtime/api/evaluate.ts';
import type { Evaluation, LoadChallengeOptions } from '../../runtime/api/evaluate.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import type { CageManifest } from '../../runtime/manifest/parse.ts';
import type { ProfileNode } from '../../runtime/api/profile.ts';
import { ROOT } from '../run/helpers.ts';

export { ROOT };

export function manifestOf(fields: Record<string, unknown> = {}): CageManifest {
  return parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'x.wasm', ...fields });
}

/** The plain (unprofiled) run, in this thread. */
export function plainRun(module: Uint8Array, manifest: CageManifest): Promise<GuestRunOutcome> {
  return runGuest({ manifest, module, stdin: new Uint8Array(0), inputs: new Map(), mode: 'record' });
}

export const CHALLENGES = join(ROOT, 'challenges', 'examples');

/** Evaluates example submissions of one challenge, writing their bundles under `dir`. */
export async function evaluateExample(
  challenge: string,
  submissions: string[],
  dir: string,
  options: LoadChallengeOptions = {},
): Promise<Evaluation[]> {
  const c = await loadChallenge(join(CHALLENGES, challenge), options);
  const subs = submissions.map((s) => ({
    label: s,
    bytes: new Uint8Array(readFileSync(join(CHALLENGES, challenge, 'submissions', s))),
  }));
  return evaluateSubmissions(c, subs, { bundles: dir, jobs: 1 });
}

/** Every root-to-node path as `a;b;c` with its self fuel and calls (what a folded stack file lists). */
export function folded(root: ProfileNode): Map<string, { self: bigint; calls: bigint }> {
  const out = new Map<string, { self: bigint; calls: bigint }>();
  const todo: { node: ProfileNode; path: string }[] = [{ node: root, path: root.name }];
  while (todo.length > 0) {
    const { node, path } = todo.pop()!;
    out.set(path, { self: node.self, calls: node.calls });
    for (const c of node.children) todo.push({ node: c, path: `${path};${c.name}` });
  }
  return out;
}

/** Checks the tree's arithmetic: each total is its self plus its children's totals. */
export function consistent(node: ProfileNode): boolean {
  const todo = [node];
  while (todo.length > 0) {
    const n = todo.pop()!;
    let sum = n.self;
    for (const c of n.children) sum += c.total;
    if (sum !== n.total || n.self < 0n) return false;
    todo.push(...n.children);
  }
  return true;
}

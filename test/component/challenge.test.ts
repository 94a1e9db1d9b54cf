/**
 * Issue 16's "a component challenge evaluates like a core one": one C challenge built here as a
 * core module and as a component (clang, then the preview1 → preview2 command adapter inside the
 * jco package), evaluated on the same submissions: the same scores, statuses and reasons, and the
 * component's bundles replay to a match.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateSubmissions, loadChallenge } from '../../runtime/api/evaluate.ts';
import type { Evaluation } from '../../runtime/api/evaluate.ts';
import { replayBundle } from '../../runtime/api/bundle.ts';
import { profileBundle } from '../../runtime/api/profile.ts';
import type { ProfileNode } from '../../runtime/api/profile.ts';
import { isComponent } from '../../runtime/component/detect.ts';
import { tempDir } from '../run/helpers.ts';

const CHALLENGE_C = String.raw`#include <stdio.h>
int main(void) {
  FILE *f = fopen("/input/submission", "rb");
  if (!f) return 2;
  unsigned long n = 0, sum = 0;
  int c;
  while ((c = fgetc(f)) != EOF) { n++; sum += (unsigned)c; }
  fclose(f);
  FILE *o = fopen("/output/score.json", "w");
  if (!o) return 3;
  if (n == 0) fprintf(o, "{\"score\": 0, \"details\": {\"failure\": \"empty\"}}");
  else fprintf(o, "{\"score\": %.4f, \"details\": {\"bytes\": %lu}}", (double)(sum % 101) / 100.0, n);
  fclose(o);
  printf("scored %lu bytes\n", n);
  return n > 100000 ? 1 : 0;
}
`;

const SUBMISSIONS: [string, Uint8Array][] = [
  ['good.txt', new TextEncoder().encode('a fine submission\n')],
  ['other.txt', new TextEncoder().encode('another one, longer than the first\n')],
  ['empty.txt', new Uint8Array(0)],
  ['huge.bin', new Uint8Array(100_001).fill(7)],
];

/** Every frame name in the tree. */
function flattenNames(n: ProfileNode): string[] {
  const out: string[] = [];
  const todo = [n];
  while (todo.length > 0) {
    const x = todo.pop()!;
    out.push(x.name);
    todo.push(...x.children);
  }
  return out;
}

let root: string;
const evals: Record<'core' | 'component', Evaluation[]> = { core: [], component: [] };

beforeAll(async () => {
  root = tempDir('docklock-component-challenge-');
  const src = join(root, 'challenge.c');
  writeFileSync(src, CHALLENGE_C);
  const core = join(root, 'challenge.core.wasm');
  // Compiled and linked apart, as scripts/build-fixtures.ts does: clang runs wasm-opt (which drops
  // the name section) on a link with -O when it finds one in PATH, and npx puts binaryen's there.
  const obj = join(root, 'challenge.o');
  execFileSync('clang', ['--target=wasm32-wasi', '-O2', '-c', src, '-o', obj]);
  execFileSync('clang', ['--target=wasm32-wasi', '-mexec-model=command', '-Wl,--strip-debug', obj, '-o', core]);
  const coreBytes = new Uint8Array(readFileSync(core));
  const jco = await import('@bytecodealliance/jco');
  const adapter = new Uint8Array(readFileSync(fileURLToPath(jco.preview1AdapterCommandPath())));
  const component = new Uint8Array(await jco.componentNew(coreBytes, [['wasi_snapshot_preview1', adapter]]));
  expect(isComponent(component)).toBe(true);
  for (const [kind, bytes] of [
    ['core', coreBytes],
    ['component', component],
  ] as const) {
    const dir = join(root, kind);
    mkdirSync(dir);
    writeFileSync(join(dir, 'challenge.wasm'), bytes);
    writeFileSync(
      join(dir, 'challenge.yaml'),
      'apiVersion: docklock/v1\nkind: Cage\nmodule: challenge.wasm\ngrants: [wasi]\nlimits: { fuel: "50000000" }\n',
    );
    const challenge = await loadChallenge(dir);
    evals[kind] = await evaluateSubmissions(
      challenge,
      SUBMISSIONS.map(([label, b]) => ({ label, bytes: b })),
      { bundles: join(dir, 'bundles'), jobs: 2 },
    );
  }
}, 240_000);

describe('a component challenge', () => {
  it('scores every submission as the same challenge built as a core module', () => {
    const view = (e: Evaluation): unknown => ({
      submission: e.submission,
      score: e.score,
      status: e.status,
      reason: e.reason,
      details: e.details,
      run: e.run?.status,
      exitCode: e.run?.exitCode,
      log: e.log,
    });
    expect(evals.component.map(view)).toEqual(evals.core.map(view));
    expect(evals.core.map((e) => e.status)).toEqual(['ok', 'ok', 'submission_failed', 'evaluation_failed']);
    expect(evals.core[2]!.reason).toBe('empty');
    expect(evals.core[3]!.reason).toBe('exit_code:1');
    expect(evals.component[0]!.score).toBeGreaterThan(0);
  });

  it('its bundles profile: every unit of fuel on a frame, the challenge’s main among them', async () => {
    for (const e of evals.component) {
      const r = await profileBundle(new Uint8Array(readFileSync(e.bundle!)), { name: e.submission });
      expect(r.profile.root.total, e.submission).toBe(e.run!.fuelUsed);
      expect(r.resultHash).toBe(e.resultHash);
      const names = flattenNames(r.profile.root);
      expect(names).toContain('__original_main');
      expect(names.some((n) => n.startsWith('wasi:cli/run@'))).toBe(true);
    }
  });

  it('its bundles replay offline to a match', async () => {
    for (const e of evals.component) {
      const r = await replayBundle(new Uint8Array(readFileSync(e.bundle!)));
      expect(r.match, e.submission).toBe(true);
      expect(r.resultHash).toBe(e.resultHash);
    }
  });
});

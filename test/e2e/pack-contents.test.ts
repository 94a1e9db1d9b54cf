/**
 * What the README sends a user of the installed package to: the example challenges
 * (`$(npm root -g)/docklock/challenges/examples/guess` in the three-node walk-through, the sort
 * and leaderboard examples) and the challenge SDKs must be in the tarball, not only in a checkout.
 * `npm pack --dry-run` lists the files without building or writing anything.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const REPO = new URL('../../', import.meta.url).pathname;

describe('the packed file list', () => {
  it('holds every challenge file the README and challenges/README.md name', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const packed = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    const readme = readFileSync(`${REPO}README.md`, 'utf8');
    const named = [...readme.matchAll(/challenges\/examples\/([a-z]+)/g)].map((m) => m[1]!);
    expect(new Set(named)).toEqual(new Set(['sort', 'leaderboard', 'guess']));
    for (const ex of new Set(named)) {
      expect(packed.has(`challenges/examples/${ex}/challenge.yaml`), ex).toBe(true);
      expect(packed.has(`challenges/examples/${ex}/challenge.wasm`), ex).toBe(true);
    }
    for (const f of [
      'challenges/README.md',
      'challenges/sdk/c/docklock.h',
      'challenges/examples/guess/submissions/good.txt',
    ])
      expect(packed.has(f), f).toBe(true);
  });
});

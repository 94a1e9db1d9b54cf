/** `docklock evaluate` end to end in a child process: table, JSON lines, bundles, bad usage. */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../run/helpers.ts';
import { exampleDir } from './helpers.ts';

const guess = exampleDir('guess');
const subs = ['good.txt', 'broken.txt'].map((f) => join(guess, 'submissions', f));

describe('docklock evaluate', () => {
  it('prints a table with score, status, fuel and result hash', () => {
    const r = cli(['evaluate', guess, ...subs, '--jobs', '2']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^submission\s+score\s+status\s+fuel\s+result hash$/);
    expect(lines[1]).toMatch(/good\.txt\s+0\.9710\s+ok\s+\d+\s+[0-9a-f]{16}$/);
    expect(lines[2]).toMatch(/broken\.txt\s+0\.0000\s+failed: not_a_number/);
  });

  it('prints JSON lines and writes bundles with --json --bundles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docklock-eval-'));
    const r = cli(['evaluate', guess, ...subs, '--json', '--bundles', dir]);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { submission: string; score: number; status: string; resultHash: string; bundle: string; run: { fuelUsed: string } });
    expect(rows.map((x) => x.submission).sort()).toEqual([...subs].sort());
    for (const row of rows) {
      expect(existsSync(row.bundle)).toBe(true);
      expect(row.run.fuelUsed).toMatch(/^\d+$/);
      const replay = cli(['replay', row.bundle, '--json']);
      expect(JSON.parse(replay.stdout).match).toBe(true);
    }
  });

  it('exits 2 with a coded error for a folder without a challenge', () => {
    const r = cli(['evaluate', tmpdir(), subs[0]!]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DL_ERR_EVALUATE_NO_MANIFEST');
  });
});

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
  it('prints a table with submission names, score, status, fuel and result hash, and a summary', () => {
    const r = cli(['evaluate', guess, ...subs, '--jobs', '2']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^submission\s+score\s+status\s+fuel\s+result hash$/);
    expect(lines[1]).toMatch(/^good\.txt\s+0\.9710\s+ok\s+\d{1,3}(,\d{3})+\s+[0-9a-f]{16}$/);
    expect(lines[2]).toMatch(/^broken\.txt\s+0\.0000\s+failed: not_a_number/);
    expect(lines[3]).toBe('2 submissions: 1 ok, 1 failed by the challenge, 0 not evaluated; mean score 0.4855');
  });

  it("carries the challenge's score details and log lines in --json", () => {
    const primes = exampleDir('primes');
    const r = cli([
      'evaluate',
      primes,
      join(primes, 'submissions', 'sieve.wasm'),
      join(primes, 'submissions', 'off-by-one.wasm'),
      '--json',
    ]);
    expect(r.code).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { submission: string; details: Record<string, unknown>; log: string[] });
    const sieve = rows.find((x) => x.submission.endsWith('sieve.wasm'))!;
    expect(sieve.log).toEqual([expect.stringMatching(/^\[info\] \d+ ranges checked, \d+ fuel$/)]);
    const wrong = rows.find((x) => x.submission.endsWith('off-by-one.wasm'))!;
    expect(wrong.details).toMatchObject({ failure: 'wrong_answer', task: expect.any(Number) });
  });

  it('names the import that got a submission refused as forbidden_import', () => {
    const sort = exampleDir('sort');
    const r = cli(['evaluate', sort, join(sort, 'submissions', 'network.wasm'), '--json']);
    expect(r.code).toBe(0);
    const row = JSON.parse(r.stdout.trim()) as { reason: string; log: string[] };
    expect(row.reason).toBe('forbidden_import');
    expect(row.log).toContainEqual(
      expect.stringMatching(
        /^\[nested\] submission refused: it imports "[^"]+\.[^"]+"; a submission may import nothing \(forbidden_import\)$/,
      ),
    );
  });

  it('prints JSON lines and writes bundles with --json --bundles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docklock-eval-'));
    const r = cli(['evaluate', guess, ...subs, '--json', '--bundles', dir]);
    expect(r.code).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            submission: string;
            score: number;
            status: string;
            resultHash: string;
            bundle: string;
            run: { fuelUsed: string };
          },
      );
    expect(rows.map((x) => x.submission).sort()).toEqual([...subs].sort());
    for (const row of rows) {
      expect(existsSync(row.bundle)).toBe(true);
      expect(row.run.fuelUsed).toMatch(/^\d+$/);
      const replay = cli(['replay', row.bundle, '--json']);
      expect(JSON.parse(replay.stdout).match).toBe(true);
    }
  });

  it('prints JSON lines in the order the submissions were given, whichever finishes first', () => {
    const sort = exampleDir('sort');
    // The endless loop runs to its fuel limit; quicksort, on the other thread, finishes long before.
    const order = ['endless-loop.wasm', 'quicksort.wasm', 'unsorted.wasm', 'insertion.wasm'];
    const r = cli(['evaluate', sort, ...order.map((f) => join(sort, 'submissions', f)), '--json', '--jobs', '2']);
    expect(r.code).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { submission: string });
    expect(rows.map((x) => x.submission)).toEqual(order.map((f) => join(sort, 'submissions', f)));
  });

  it('exits 2 with a coded error for a folder without a challenge', () => {
    const r = cli(['evaluate', tmpdir(), subs[0]!]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DL_ERR_EVALUATE_NO_MANIFEST');
  });
});

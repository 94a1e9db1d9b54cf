/**
 * Every example challenge, evaluated twice through the worker pool: identical scores and result
 * hashes both times; each submission ends with the expected status (malicious ones with the status
 * that shows what the cage stopped, and a score of 0); each run's bundle replays offline.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChallenge } from '../../runtime/evaluate/challenge.ts';
import type { Challenge } from '../../runtime/evaluate/challenge.ts';
import { evaluateSubmissions } from '../../runtime/evaluate/batch.ts';
import type { Evaluation } from '../../runtime/evaluate/evaluation.ts';
import { replayDecoded } from '../../runtime/replay.ts';
import { decodeBundle } from '../../runtime/bundle.ts';
import { close, exampleDir, serve, submissionsOf } from './helpers.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Server } from 'node:http';

/** submission → [status, reason]; scores of the `ok` ones are checked separately. */
const EXPECTED: Record<string, Record<string, [Evaluation['status'], string | null]>> = {
  guess: {
    'good.txt': ['ok', null],
    'mediocre.txt': ['ok', null],
    'broken.txt': ['submission_failed', 'not_a_number'],
  },
  sort: {
    'quicksort.wasm': ['ok', null],
    'insertion.wasm': ['ok', null],
    'unsorted.wasm': ['submission_failed', 'wrong_answer'],
    'endless-loop.wasm': ['submission_failed', 'out_of_fuel'],
    'deep-recursion.wasm': ['submission_failed', 'stack_exhausted'],
    'memory-bomb.wasm': ['submission_failed', 'memory_limit'],
    'huge-output.wasm': ['submission_failed', 'output_too_large'],
    'network.wasm': ['submission_failed', 'forbidden_import'],
    'read-files.wasm': ['submission_failed', 'forbidden_import'],
  },
  primes: {
    'sieve.wasm': ['ok', null],
    'trial.wasm': ['ok', null],
    'off-by-one.wasm': ['submission_failed', 'wrong_answer'],
    'spin.wasm': ['submission_failed', 'out_of_fuel'],
    'open-file.wasm': ['submission_failed', 'forbidden_import'],
  },
  labels: {
    'good.txt': ['ok', null],
    'mediocre.txt': ['ok', null],
    'injection.txt': ['ok', null],
    'broken.txt': ['submission_failed', 'wrong_line_count'],
    // 8 MiB into a 4 MiB challenge: refused by size before it is read (the miner's failure, not the challenge's).
    'memory-bomb (generated)': ['submission_failed', 'too_large'],
  },
};

/** good > mediocre, in each example. */
const RANKING: Record<string, [string, string]> = {
  guess: ['good.txt', 'mediocre.txt'],
  sort: ['quicksort.wasm', 'insertion.wasm'],
  primes: ['sieve.wasm', 'trial.wasm'],
  labels: ['good.txt', 'mediocre.txt'],
};

let truth: { server: Server; host: string };

beforeAll(async () => {
  truth = await serve(readFileSync(join(exampleDir('labels'), 'truth.txt')));
});

afterAll(async () => {
  await close(truth.server);
});

async function load(name: string): Promise<Challenge> {
  if (name !== 'labels') return loadChallenge(exampleDir(name));
  return loadChallenge(exampleDir(name), {
    env: { TRUTH_URL: `http://${truth.host}/truth.txt` },
    allowHosts: [truth.host],
  });
}

function submissions(name: string) {
  const subs = submissionsOf(name);
  if (name === 'labels') subs.push({ label: 'memory-bomb (generated)', bytes: new Uint8Array(8 << 20).fill(0x61) });
  return subs;
}

describe.each(Object.keys(EXPECTED))('example challenge %s', (name) => {
  let first: Evaluation[];
  let bundles: string;

  it('evaluates every submission with the expected status; failures score 0', async () => {
    const ch = await load(name);
    bundles = mkdtempSync(join(tmpdir(), `docklock-${name}-`));
    first = await evaluateSubmissions(ch, submissions(name), { jobs: 2, bundles });
    const got = Object.fromEntries(first.map((e) => [e.submission, [e.status, e.reason]]));
    expect(got).toEqual(EXPECTED[name]);
    for (const e of first) {
      if (e.status !== 'ok') expect(e.score, e.submission).toBe(0);
      else expect(e.score, e.submission).toBeGreaterThan(0);
      expect(e.resultHash).toMatch(/^[0-9a-f]{64}$/);
    }
    const [good, mediocre] = RANKING[name]!;
    const score = (l: string) => first.find((e) => e.submission === l)!.score;
    expect(score(good)).toBeGreaterThan(score(mediocre));
  });

  it('gives identical scores and result hashes when evaluated again', async () => {
    const ch = await load(name);
    const again = await evaluateSubmissions(ch, submissions(name), { jobs: 1 });
    expect(again.map((e) => [e.submission, e.score, e.status, e.resultHash])).toEqual(
      first.map((e) => [e.submission, e.score, e.status, e.resultHash]),
    );
  });

  it('writes a bundle per run, and each replays offline to the same result hash', async () => {
    const files = readdirSync(bundles).sort();
    expect(files).toHaveLength(first.length);
    if (name === 'labels')
      await close(truth.server).then(async () => (truth = await serve('the network is gone; replay must not ask')));
    for (const e of first) {
      const report = await replayDecoded(decodeBundle(new Uint8Array(readFileSync(e.bundle!))));
      expect(report.divergence, e.submission).toBeNull();
      expect(report.match, e.submission).toBe(true);
      expect(report.resultHash).toBe(e.resultHash);
    }
  });
});

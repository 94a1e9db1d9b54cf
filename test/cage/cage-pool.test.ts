/**
 * The cage pool (runtime/cage/cage-pool.ts): long-lived threads must not carry anything from one
 * run to the next. A second and third run on the same thread give bit-identical results, witness
 * bytes and roots to a run on a fresh thread (`runCage`, a pool of one); the witness travels
 * back moved, so a thread that reuses its log memory must not hand out a buffer it touches again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CagePool, prestartCage, runCage } from '../../runtime/cage/cage.ts';
import type { RunOutcome } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { resultHash } from '../../runtime/result.ts';
import { fixture } from '../run/helpers.ts';
import { wat } from '../engine/wat.ts';

const pool = new CagePool({ size: 1 });
afterAll(() => pool.close());

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const summary = (o: RunOutcome) => ({
  status: o.result.status,
  resultHash: hex(resultHash(o.result)),
  witnessRoot: hex(o.result.witnessRoot),
  witnessBytes: hex(o.witnessBytes),
  stdout: hex(o.result.stdout),
  entries: o.result.witnessEntries,
});

function request(name: string, seed: number) {
  return {
    manifest: parseManifest({
      apiVersion: 'docklock/v1',
      kind: 'Cage',
      module: 'm.wasm',
      grants: ['wasi', 'random', 'clock'],
      determinism: { seed: seed.toString(16).padStart(64, '0') },
    }),
    module: fixture(name),
    stdin: new TextEncoder().encode('stdin bytes'),
    inputs: new Map<string, Uint8Array>(),
    mode: 'record' as const,
  };
}

describe('the cage pool', () => {
  it('gives the same bytes on a reused thread as on a fresh one, run after run', async () => {
    for (const [name, seed] of [
      ['rand_clock', 1],
      ['tree_io', 2],
      ['rand_clock', 3],
      ['hello', 4],
    ] as const) {
      const fresh = summary(await runCage(request(name, seed)));
      expect(fresh.status).toBe('exited');
      expect(fresh.entries).toBeGreaterThan(0);
      // The same thread three times in a row: the second and third reuse its log memory.
      for (let i = 0; i < 3; i++) expect(summary(await pool.run(request(name, seed)))).toEqual(fresh);
    }
  });

  it('replays on the thread that recorded, and a rejected module between runs changes nothing', async () => {
    const rec = await pool.run(request('rand_clock', 9));
    const rejected = await pool.run({ ...request('rand_clock', 9), module: Uint8Array.of(0, 1, 2) });
    expect(rejected.result.status).toBe('rejected');
    // Twice: an empty witness must not be moved away from the next run.
    expect((await pool.run({ ...request('rand_clock', 9), module: Uint8Array.of(0, 1, 2) })).result.status).toBe(
      'rejected',
    );
    const replay = await pool.replay({ ...request('rand_clock', 9), witness: rec.witnessBytes });
    expect(replay.divergence).toBeNull();
    expect(hex(resultHash(replay.result))).toBe(hex(resultHash(rec.result)));
    const again = await pool.run(request('rand_clock', 9));
    expect(summary(again)).toEqual(summary(rec));
  });

  it('a job over its watchdog fails alone: the jobs queued behind it (one handed ahead) run on a new thread', async () => {
    const p = new CagePool({ size: 1 });
    try {
      const endless = {
        ...request('hello', 1),
        manifest: parseManifest({
          apiVersion: 'docklock/v1',
          kind: 'Cage',
          module: 'm.wasm',
          limits: { fuel: '9000000000000000000', wallClockMs: 300 },
        }),
        module: wat('(module (func (export "_start") (loop $l (br $l))))'),
      };
      const first = p.run(endless);
      const behind = [p.run(request('rand_clock', 5)), p.run(request('hello', 6))];
      await expect(first).rejects.toMatchObject({ code: 'DL_ERR_CAGE_WATCHDOG' });
      const fresh = await Promise.all([runCage(request('rand_clock', 5)), runCage(request('hello', 6))]);
      const got = await Promise.all(behind);
      expect(got.map(summary)).toEqual(fresh.map(summary));
    } finally {
      await p.close();
    }
  });

  it('a prestarted thread serves the next runCage alike, and an unused one lets the process exit', async () => {
    const fresh = summary(await runCage(request('rand_clock', 7)));
    prestartCage();
    expect(summary(await runCage(request('rand_clock', 7)))).toEqual(fresh);
    // A script file, not `-e`: a worker inherits the process's execArgv.
    const script = join(mkdtempSync(join(tmpdir(), 'docklock-prestart-')), 'prestart.mjs');
    const url = new URL('../../runtime/cage/cage.ts', import.meta.url).href;
    writeFileSync(
      script,
      `const c = await import(${JSON.stringify(url)});\nc.prestartCage();\nconsole.log('started');\n`,
    );
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('started\n');
  });

  it('refuses jobs once closed, with a coded error', async () => {
    const p = new CagePool({ size: 1, lazy: true });
    await p.close();
    await expect(p.run(request('hello', 1))).rejects.toMatchObject({ code: 'DL_ERR_CAGE_POOL_CLOSED' });
    expect(() => new CagePool({ size: 0 })).toThrow(expect.objectContaining({ code: 'DL_ERR_CAGE_POOL_SIZE' }));
  });
});

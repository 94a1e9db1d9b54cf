/**
 * A profiled run on its pool-of-one thread (runtime/profile/run.ts on the cage's WorkerPool): the
 * same result as a plain cage run, a profile that accounts for all its fuel, and the watchdog's
 * coded error when it runs over (four times the manifest's limit).
 */
import { describe, expect, it } from 'vitest';
import { profileModule } from '../../runtime/api/profile.ts';
import { runCage } from '../../runtime/cage/cage.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { resultHash } from '../../runtime/result.ts';
import { fixture } from '../run/helpers.ts';
import { wat } from '../engine/wat.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('a profiled run on the worker pool', () => {
  it('gives the plain run’s result hash and a profile of all its fuel', async () => {
    const request = {
      manifest: parseManifest({
        apiVersion: 'docklock/v1',
        kind: 'Cage',
        module: 'm.wasm',
        grants: ['wasi', 'random', 'clock'],
      }),
      module: fixture('rand_clock'),
      stdin: new Uint8Array(0),
      inputs: new Map<string, Uint8Array>(),
    };
    const plain = await runCage({ ...request, mode: 'record' });
    expect(plain.result.status).toBe('exited');
    const profiled = await profileModule(request, { name: 'rand_clock' });
    expect(profiled.resultHash).toBe(hex(resultHash(plain.result)));
    expect(profiled.profile.root.total).toBe(plain.result.fuelUsed);
    expect(profiled.profile.root.total).toBeGreaterThan(0n);
  });

  it('reports its watchdog with a coded error', async () => {
    const request = {
      manifest: parseManifest({
        apiVersion: 'docklock/v1',
        kind: 'Cage',
        module: 'm.wasm',
        limits: { fuel: '9000000000000000000', wallClockMs: 100 },
      }),
      module: wat('(module (func (export "_start") (loop $l (br $l))))'),
      stdin: new Uint8Array(0),
      inputs: new Map<string, Uint8Array>(),
    };
    await expect(profileModule(request)).rejects.toMatchObject({ code: 'DL_ERR_CAGE_WATCHDOG' });
  });
});

/**
 * The one-shot run (runtime/cage/inline.ts), which `docklock run` uses: on the calling thread when
 * it can, and always with the result a cage thread gives. A guest that overflows this thread's
 * smaller V8 stack within its budget is run again on a cage thread, its mirrored output not
 * written twice; the watchdog still stops a run that never ends; recorded networking and
 * components go to a cage thread.
 */
import { describe, expect, it } from 'vitest';
import { runCage } from '../../runtime/cage/cage.ts';
import { canRunInline, runOnce } from '../../runtime/cage/inline.ts';
import type { RunPlace } from '../../runtime/cage/inline.ts';
import type { RunOutcome } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { resultHash } from '../../runtime/result.ts';
import { fixture } from '../run/helpers.ts';
import { wat } from '../engine/wat.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const summary = (o: RunOutcome) => ({
  status: o.result.status,
  exitCode: o.result.exitCode,
  resultHash: hex(resultHash(o.result)),
  witnessBytes: hex(o.witnessBytes),
});

function request(module: Uint8Array, extra: Record<string, unknown> = {}) {
  return {
    manifest: parseManifest({
      apiVersion: 'docklock/v1',
      kind: 'Cage',
      module: 'm.wasm',
      grants: ['wasi', 'random', 'clock'],
      ...extra,
    }),
    module,
    stdin: new TextEncoder().encode('stdin bytes'),
    inputs: new Map<string, Uint8Array>(),
    mode: 'record' as const,
  };
}

/** Runs with a tee that collects what it is given; returns the outcome, the mirrored text and the place. */
async function once(req: ReturnType<typeof request>) {
  const seen = { stdout: '', stderr: '' };
  const dec = new TextDecoder();
  let place: RunPlace | undefined;
  const out = await runOnce(
    {
      ...req,
      tee: { stdout: (b) => (seen.stdout += dec.decode(b)), stderr: (b) => (seen.stderr += dec.decode(b)) },
    },
    { onPlace: (p) => (place = p) },
  );
  return { out, seen, place };
}

// Prints "before\n", recurses `depth` frames (each small, so a deep budget allows it), prints "after\n".
const DEEP = (depth: number) =>
  wat(`(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "before\\n") (data (i32.const 32) "after\\n")
  (func $say (param i32 i32)
    (i32.store (i32.const 0) (local.get 0)) (i32.store (i32.const 4) (local.get 1))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $r (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (i32.add (call $r (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func (export "_start")
    (call $say (i32.const 16) (i32.const 7))
    (drop (call $r (i32.const ${depth})))
    (call $say (i32.const 32) (i32.const 6))))`);

describe('runOnce', () => {
  it('gives the bytes a cage thread gives, on this thread, for real programs', async () => {
    for (const name of ['hello', 'rand_clock', 'tree_io', 'wasi_fixes', 'alloc_until']) {
      const req = request(fixture(name));
      const { out, seen, place } = await once(req);
      expect(place, name).toBe('inline');
      expect(summary(out), name).toEqual(summary(await runCage(req)));
      // The mirror saw exactly what the result holds.
      expect(seen.stdout, name).toBe(new TextDecoder().decode(out.result.stdout));
    }
  });

  it('a guest that overflows this thread within its budget runs again on a cage thread, output once', async () => {
    // 60,000 frames of about 13 units: past a main thread's 984 KiB, within a 1,000,000-unit budget.
    const req = request(DEEP(60_000), { limits: { stack: 1_000_000 } });
    const { out, seen, place } = await once(req);
    expect(place).toBe('thread-after-overflow');
    expect(out.result.status).toBe('exited');
    expect(seen.stdout).toBe('before\nafter\n');
    expect(summary(out)).toEqual(summary(await runCage(req)));
    // A shallow one stays here and ends the same way.
    const shallow = await once(request(DEEP(1000), { limits: { stack: 1_000_000 } }));
    expect(shallow.place).toBe('inline');
    expect(shallow.seen.stdout).toBe('before\nafter\n');
  });

  it('the watchdog stops a run that never ends, with the cage thread’s error', async () => {
    const req = request(wat('(module (func (export "_start") (loop $l (br $l))))'), {
      limits: { fuel: 10 ** 15, wallClockMs: 300 },
    });
    await expect(runOnce(req)).rejects.toMatchObject({ code: 'DL_ERR_CAGE_WATCHDOG' });
    // This thread is usable afterwards.
    expect((await once(request(fixture('hello')))).out.result.status).toBe('exited');
  });

  it('takes a cage thread for recorded networking and components', async () => {
    const net = request(fixture('hello'), {
      grants: ['wasi', 'net'],
      network: { mode: 'record', allow: ['127.0.0.1:1'] },
    });
    expect(canRunInline(net)).toBe(false);
    const { place } = await once(net);
    expect(place).toBe('thread');
    expect(canRunInline(request(fixture('hello')))).toBe(true);
    // A component's layer field: version 0x0d, layer 1.
    const component = Uint8Array.of(0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0);
    expect(canRunInline(request(component))).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import { runCage } from '../../runtime/cage/cage.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { encodeBundle, decodeBundle, verifyBundle } from '../../runtime/bundle.ts';
import { replayDecoded } from '../../runtime/replay.ts';
import { wat } from '../engine/wat.ts';

const WASI = `
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))`;

function guest(body: string, memory = '(memory (export "memory") 1)'): Uint8Array {
  return wat(`(module ${WASI} ${memory} (data (i32.const 64) "../etc/passwd/etc/passwd") ${body})`);
}

function manifest(limits: Record<string, unknown> = {}): ReturnType<typeof parseManifest> {
  return parseManifest({
    apiVersion: 'docklock/v1',
    kind: 'Cage',
    module: 'm.wasm',
    limits: { fuel: 5_000_000, memory: '1MiB', stdout: 4096, output: 8192, ...limits },
  });
}

async function run(module: Uint8Array, limits?: Record<string, unknown>) {
  const m = manifest(limits);
  const out = await runGuest({ manifest: m, module, stdin: new Uint8Array(0), inputs: new Map(), mode: 'record' });
  // Nothing recorded is lost: whatever happened, the bundle holds every entry and replays.
  const b = decodeBundle(
    encodeBundle({
      manifest: m,
      module,
      stdin: new Uint8Array(0),
      inputs: new Map(),
      witness: out.witness,
      result: out.result,
    }),
  );
  expect(verifyBundle(b).ok).toBe(true);
  expect(b.witness.length).toBe(out.result.witnessEntries);
  // The run's own encoding is the canonical one, and a bundle made from it is the same bundle.
  expect(Buffer.from(out.witnessBytes).equals(Buffer.from(b.witnessBytes))).toBe(true);
  expect(
    Buffer.from(
      encodeBundle({
        manifest: m,
        module,
        stdin: new Uint8Array(0),
        inputs: new Map(),
        witness: out.witnessBytes,
        result: out.result,
      }),
    ).equals(Buffer.from(encodeBundle({ ...b, witness: b.witness }))),
  ).toBe(true);
  return { out, bundle: b, manifest: m };
}

describe('hostile guests end in deterministic statuses', () => {
  it('an endless loop runs out of fuel', async () => {
    const { out } = await run(guest('(func (export "_start") (loop $l (br $l)))'));
    expect(out.result.status).toBe('out_of_fuel');
    expect(out.result.fuelUsed).toBe(5_000_000n);
  });

  it('endless host calls run out of fuel, and every call made is in the witness and replays', async () => {
    // A fifth of the usual budget: still tens of thousands of calls, run three times below, which
    // on a loaded two-core machine took close to a minute at the full budget.
    const { out, bundle } = await run(
      guest('(func (export "_start") (loop $l (drop (call $random_get (i32.const 0) (i32.const 8))) (br $l)))'),
      // Room for the witness (spec/wasi.md#W9): here fuel, not memory, is what ends the run.
      { fuel: 1_000_000, memory: '32MiB' },
    );
    expect(out.result.status).toBe('out_of_fuel');
    expect(out.witness.length).toBeGreaterThan(20_000);
    expect(out.witness.every((e) => e.name === 'wasi_snapshot_preview1.random_get')).toBe(true);
    const replay = await replayDecoded(bundle);
    expect(replay.match).toBe(true);
    // In a worker: the witness comes back as its encoding, moved, and decodes to the same entries.
    const caged = await runCage({
      manifest: manifest({ fuel: 1_000_000, memory: '32MiB' }),
      module: bundle.module,
      stdin: new Uint8Array(0),
      inputs: new Map(),
      mode: 'record',
    });
    expect(Buffer.from(caged.witnessBytes).equals(Buffer.from(out.witnessBytes))).toBe(true);
    expect(caged.witness.length).toBe(out.witness.length);
    expect(caged.witness[7]).toEqual(out.witness[7]);
  });

  it('pointers outside memory get ERRNO_FAULT, not a crash', async () => {
    const { out } = await run(
      guest(`(func (export "_start")
      (i32.store (i32.const 0) (i32.const 0xfffffff0)) (i32.store (i32.const 4) (i32.const 100))
      (if (i32.ne (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (i32.const 21)) (then unreachable))
      (if (i32.ne (call $random_get (i32.const 65530) (i32.const 100)) (i32.const 21)) (then unreachable))
      (if (i32.ne (call $fd_write (i32.const 1) (i32.const 0xffffff00) (i32.const 1) (i32.const 8)) (i32.const 21)) (then unreachable)))`),
    );
    expect(out.result.status).toBe('exited');
    expect(out.witness.map((e) => e.result)).toEqual([21, 21, 21]);
  });

  it('escaping the file tree is refused', async () => {
    // path_open(3, 0, "../etc/passwd") and "/etc/passwd" → ERRNO_NOTCAPABLE (76)
    const { out } = await run(
      guest(`(func (export "_start")
      (if (i32.ne (call $path_open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 13) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)) (i32.const 76)) (then unreachable))
      (if (i32.ne (call $path_open (i32.const 3) (i32.const 0) (i32.const 77) (i32.const 11) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)) (i32.const 76)) (then unreachable)))`),
    );
    expect(out.result.status).toBe('exited');
  });

  it('huge stdout stops at the cap with output_limit, keeping what fit', async () => {
    const { out } = await run(
      guest(`(func (export "_start")
      (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 1000))
      (loop $l (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $l)))`),
    );
    expect(out.result.status).toBe('output_limit');
    expect(out.result.stdout.length).toBe(4096);
  });

  it('a memory bomb meets memory.grow = -1 and ends as memory_limit', async () => {
    const { out } = await run(
      guest(
        '(func (export "_start") (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable)',
      ),
    );
    expect(out.result.status).toBe('memory_limit');
  });

  it('deep recursion ends as stack_exhausted', async () => {
    const { out } = await run(guest('(func $r (export "_start") (call $r))'));
    expect(out.result.status).toBe('stack_exhausted');
  });

  it('the wall-clock watchdog reports an infrastructure failure, not a result', async () => {
    const m = parseManifest({
      apiVersion: 'docklock/v1',
      kind: 'Cage',
      module: 'm.wasm',
      limits: { fuel: '9000000000000000000', wallClockMs: 300 },
    });
    await expect(
      runCage({
        manifest: m,
        module: guest('(func (export "_start") (loop $l (br $l)))'),
        stdin: new Uint8Array(0),
        inputs: new Map(),
        mode: 'record',
      }),
    ).rejects.toMatchObject({ code: 'DL_ERR_CAGE_WATCHDOG' });
  });

  it('a missing entry point or a module needing ungranted imports is rejected with a coded error', async () => {
    const noEntry = await run(guest('(func (export "main"))'));
    expect(noEntry.out.result.status).toBe('rejected');
    expect(noEntry.out.error?.code).toBe('DL_ERR_CAGE_NO_ENTRY');
    const env = await run(wat('(module (import "env" "secret" (func)) (func (export "_start")))'));
    expect(env.out.error?.code).toBe('DL_ERR_IMPORT_NOT_GRANTED');
  });
});

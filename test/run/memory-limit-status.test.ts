/**
 * Issue 12, "status consistency": a failure that follows a refused `memory.grow` is `memory_limit`
 * whatever the allocation size (spec/wasi.md#W5). Before ABI level 3 the rule was "failed with the
 * memory at its limit", so 1 MiB blocks (refused while a little room was left) came out `trapped`
 * and 4 KiB blocks `memory_limit`; bundles recorded then replay with the rule they ran under.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { decodeBundle, encodeBundle } from '../../runtime/bundle.ts';
import { replayDecoded } from '../../runtime/replay.ts';
import { WASI_LEVEL } from '../../runtime/cage/capabilities.ts';
import { wat } from '../engine/wat.ts';

const ALLOC = new Uint8Array(readFileSync(new URL('../fixtures/wasm/alloc_until.wasm', import.meta.url)));
/** The same C program as a WASI 0.2 component (scripts/build-fixtures.ts wraps every fixture). */
const ALLOC_COMPONENT = new Uint8Array(
  readFileSync(new URL('../fixtures/wasm/components/alloc_until.wasm', import.meta.url)),
);
const EMPTY = new Uint8Array(0);

function manifestFor(args: string[]) {
  return parseManifest({
    apiVersion: 'docklock/v1',
    kind: 'Cage',
    module: 'm.wasm',
    args,
    limits: { fuel: 2_000_000_000, memory: '4MiB' },
  });
}

async function record(module: Uint8Array, args: string[], wasiLevel?: number) {
  const manifest = manifestFor(args);
  const out = await runGuest({
    manifest,
    module,
    stdin: EMPTY,
    inputs: new Map(),
    mode: 'record',
    ...(wasiLevel === undefined ? {} : { wasiLevel }),
  });
  const bundle = decodeBundle(
    encodeBundle({
      manifest,
      module,
      stdin: EMPTY,
      inputs: new Map(),
      witness: out.witnessBytes,
      result: out.result,
      ...(wasiLevel === undefined ? {} : { wasiLevel }),
    }),
  );
  return { out, bundle };
}

const stdoutOf = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('memory_limit after a refused memory.grow (spec/wasi.md#W5)', () => {
  it('is the status for 1 MiB and 4 KiB allocations alike, trapping or exiting non-zero', async () => {
    expect(WASI_LEVEL).toBeGreaterThanOrEqual(3);
    for (const args of [['1048576'], ['4096'], ['1048576', 'exit'], ['4096', 'exit']]) {
      const { out, bundle } = await record(ALLOC, args);
      expect(stdoutOf(out.result.stdout), args.join(' ')).toMatch(/^[1-9]\d* blocks of \d+ bytes\n$/);
      expect(out.result.status, args.join(' ')).toBe('memory_limit');
      expect(out.result.exitCode).toBe(args[1] === 'exit' ? 3 : null);
      // It replays to the same result (the status is in the result hash).
      const r = await replayDecoded(bundle);
      expect(r.match, args.join(' ')).toBe(true);
    }
  });

  it('is the status of the same program as a component, whose core instances share the rule', async () => {
    for (const args of [['1048576'], ['4096', 'exit']]) {
      const { out, bundle } = await record(ALLOC_COMPONENT, args);
      expect(out.result.status, args.join(' ')).toBe('memory_limit');
      expect((await replayDecoded(bundle)).match, args.join(' ')).toBe(true);
    }
    // At level 2 the 1 MiB case, refused with room left, was a trap, and still is.
    expect((await record(ALLOC_COMPONENT, ['1048576'], 2)).out.result.status).toBe('trapped');
  });

  it('a program that exits 0 after a refused grow keeps its exit status', async () => {
    // A guest that asks for too much once, sees -1 and carries on is not a failure.
    const module = wat(`(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func (export "_start") (if (i32.ne (memory.grow (i32.const 1000)) (i32.const -1)) (then unreachable))))`);
    const { out } = await record(module, []);
    expect(out.result.status).toBe('exited');
    expect(out.result.exitCode).toBe(0);
  });

  it('a trap with the memory full but no refused grow is a trap from level 3 on', async () => {
    // 64 pages = the 4 MiB limit from the start: nothing is ever refused.
    const module = wat('(module (memory (export "memory") 64) (func (export "_start") unreachable))');
    expect((await record(module, [])).out.result.status).toBe('trapped');
    expect((await record(module, [], 2)).out.result.status).toBe('memory_limit');
  });

  it('a level-2 bundle replays under the rule it was recorded with', async () => {
    const { out, bundle } = await record(ALLOC, ['1048576'], 2);
    // The old rule: 1 MiB was refused with room left, so the trap is not a memory-limit failure.
    expect(out.result.status).toBe('trapped');
    expect(bundle.wasiLevel).toBe(2);
    // A match means the replay also reported `trapped` (the status is in the result hash).
    expect((await replayDecoded(bundle)).match).toBe(true);
  });
});

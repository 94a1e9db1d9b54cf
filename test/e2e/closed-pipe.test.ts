/**
 * A reader that goes away (`docklock run big.wasm | head -c 10`) must not crash docklock with an
 * EPIPE stack trace, and must not cost the run its bundle: the command finishes quietly with its
 * own exit status. Any other write failure (a full disk) is one coded line and exit 2.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wat } from '../engine/wat.ts';
import { CLI, cli, tempDir } from '../run/helpers.ts';

// Writes 64 KiB to stdout 8 times (512 KiB: far more than a pipe buffer, within the default 1 MiB stdout limit), then exits 7.
const LOUD = wat(`(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "0000")
  (func (export "_start") (local $i i32)
    (i32.store (i32.const 0) (i32.const 65536))
    (i32.store (i32.const 4) (i32.const 65536))
    (memory.fill (i32.const 65536) (i32.const 120) (i32.const 65536))
    (loop $l
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 8))))
    (call $exit (i32.const 7))))`);

describe('a closed stdout', () => {
  it('ends `docklock run … | head` quietly with the guest exit code and a bundle that replays', () => {
    const dir = tempDir();
    const mod = join(dir, 'loud.wasm');
    const bundle = join(dir, 'loud.dlb');
    writeFileSync(mod, LOUD);
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${CLI}" run "${mod}" --bundle "${bundle}" | head -c 10; echo " status=\${PIPESTATUS[0]}" >&2`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stdout).toBe('xxxxxxxxxx');
    expect(r.stderr.trim()).toBe('status=7');
    expect(existsSync(bundle)).toBe(true);
    expect(cli(['replay', bundle]).stdout).toMatch(/^match: result [0-9a-f]{64}\n$/);
  });

  it('ends `docklock inspect … | head -n 1` quietly with exit 0', () => {
    const dir = tempDir();
    const mod = join(dir, 'loud.wasm');
    const bundle = join(dir, 'loud.dlb');
    writeFileSync(mod, LOUD);
    expect(cli(['run', mod, '--bundle', bundle, '--json']).code).toBe(0);
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${CLI}" inspect "${bundle}" --limit 100000 | head -n 1; echo "status=\${PIPESTATUS[0]}" >&2`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stdout).toBe(`bundle: ${bundle}\n`);
    expect(r.stderr.trim()).toBe('status=0');
  });

  it.skipIf(!existsSync('/dev/full'))(
    'ends a run or inspect whose stdout is a full disk with one coded line and exit 2, the bundle still written',
    () => {
      const dir = tempDir();
      const mod = join(dir, 'loud.wasm');
      const bundle = join(dir, 'loud.dlb');
      writeFileSync(mod, LOUD);
      const line =
        'docklock: DL_ERR_CLI_WRITE: cannot write to stdout (ENOSPC); what the command printed there is incomplete\n';
      const run = spawnSync(process.execPath, [CLI, 'run', mod, '--bundle', bundle], {
        encoding: 'utf8',
        stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'],
      });
      expect([run.status, run.stderr]).toEqual([2, line]);
      expect(cli(['replay', bundle]).stdout).toMatch(/^match: result [0-9a-f]{64}\n$/);
      const inspect = spawnSync(process.execPath, [CLI, 'inspect', bundle], {
        encoding: 'utf8',
        stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'],
      });
      expect([inspect.status, inspect.stderr]).toEqual([2, line]);
    },
  );
});

import { describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { encodeBundle } from '../../runtime/bundle.ts';
import { replayBundle } from '../../runtime/replay.ts';
import { fixture } from './helpers.ts';

/**
 * test/fixtures/c/wasi_fixes.c probes each WASI defect of issue 12 (directory rights, set_times,
 * unlink "file/", dropping rights, SYNC fdflags, sock_shutdown, links, isatty) with one line per
 * check. At WASI level 1 every check passes; at level 0, which replays bundles recorded before the
 * fixes, each defect is still there: the probe tells the two apart, so neither half can pass by
 * accident.
 */
const manifest = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'wasi_fixes.wasm' });

async function probe(
  wasiLevel: number,
): Promise<{ lines: string[]; exit: number | null; out: Awaited<ReturnType<typeof runGuest>> }> {
  const out = await runGuest({
    manifest,
    module: fixture('wasi_fixes'),
    stdin: new Uint8Array(0),
    inputs: new Map(),
    mode: 'record',
    wasiLevel,
  });
  return { lines: new TextDecoder().decode(out.result.stdout).trimEnd().split('\n'), exit: out.result.exitCode, out };
}

const failing = (lines: string[]): string[] => lines.filter((l) => l.includes(': FAIL')).map((l) => l.split(':')[0]!);

describe('the WASI fixes of issue 12, probed by a C program', () => {
  it('level 1: every probe passes, and the run replays from its bundle', async () => {
    const { lines, exit, out } = await probe(1);
    expect(failing(lines)).toEqual([]);
    expect(lines.filter((l) => l.endsWith(': ok')).length).toBeGreaterThanOrEqual(40);
    expect(exit).toBe(0);
    const bundle = encodeBundle({
      manifest,
      module: fixture('wasi_fixes'),
      stdin: new Uint8Array(0),
      inputs: new Map(),
      witness: out.witnessBytes,
      result: out.result,
    });
    const report = await replayBundle(bundle);
    expect(report.match).toBe(true);
  });

  it('level 0 still answers as before the fixes (what format-1 bundles recorded)', async () => {
    const { lines, exit } = await probe(0);
    expect(exit).toBe(1);
    const f = failing(lines);
    for (const defect of [
      'dir rights lack fd_filestat_set_size',
      'reopen dir with its own rights', // (1) RIGHTS_DIR
      'set_times MTIM|MTIM_NOW is EINVAL',
      'times kept', // (2) set_times
      'unlink file/ is ENOTDIR', // (3)
      'drop FD_READ', // (4) fd_fdstat_set_rights
      'fdstat reports SYNC flags', // (5)
      'shutdown bad fd is EBADF',
      'shutdown stdout is ENOTSOCK', // (6)
      'symlink',
      'link',
      'stdout no tty',
    ])
      expect(f).toContain(defect);
  });
});

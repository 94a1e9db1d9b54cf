/**
 * The metadata charge (spec/wasi.md#W10): a guest that fills the in-memory tree with directories,
 * files, hard links or long names is stopped by its quota at a step fixed by the documented cost
 * (512 bytes + the name's UTF-8 bytes an entry), with the same errno and result on every run and
 * on replay, and the host's memory stays bounded. Through `docklock run` on a real C program.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, cli, cliJson, fixture, fixturePath, ROOT, tempDir } from './helpers.ts';
import { encodeBundle } from '../../runtime/bundle.ts';
import { runOnce } from '../../runtime/cage/inline.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { replayBundle } from '../../runtime/replay.ts';

interface RunJson {
  status: string;
  exitCode: number | null;
  stdout: string;
  outputs: Record<string, unknown>;
  resultHash: string;
}

const MEMORY = 4 * 1024 * 1024;
const ENTRY = 512;

/** `docklock run fs_flood.wasm --json … -- ARGS` (`--json` before `--`, or the guest would get it). */
function flood(args: string[], extra: string[] = []): RunJson {
  const r = cli(['run', fixturePath('fs_flood'), '--memory', '4MiB', '--json', ...extra, '--', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as RunJson;
}

describe('directory entries count against the quotas (spec/wasi.md#W10)', () => {
  it('stops a mkdir loop in scratch with ENOSPC at the step the charge gives, the same on every run and on replay', () => {
    const dir = tempDir();
    const bundle = join(dir, 'dirs.dlb');
    const first = flood(['dirs', '/tmp', '8'], ['--bundle', bundle]);
    // Names of 8 bytes: each directory costs 520 bytes of the 4 MiB scratch quota.
    const step = Math.floor(MEMORY / (ENTRY + 8));
    expect(first.status).toBe('exited');
    expect(first.stdout).toBe(`dirs stopped at step ${step}: errno 51 (No space left on device)\n`);
    const again = flood(['dirs', '/tmp', '8']);
    expect(again.resultHash).toBe(first.resultHash);
    expect(cliJson<{ match: boolean }>(['replay', bundle]).json.match).toBe(true);
  });

  it('charges the name: longer names stop sooner, files and hard links alike', () => {
    expect(flood(['dirs', '/tmp', '200']).stdout).toBe(
      `dirs stopped at step ${Math.floor(MEMORY / (ENTRY + 200))}: errno 51 (No space left on device)\n`,
    );
    expect(flood(['files', '/tmp', '100']).stdout).toBe(
      `files stopped at step ${Math.floor(MEMORY / (ENTRY + 100))}: errno 51 (No space left on device)\n`,
    );
    // The linked file's own entry ("f") comes first.
    expect(flood(['links', '/tmp', '8']).stdout).toBe(
      `links stopped at step ${Math.floor((MEMORY - ENTRY - 1) / (ENTRY + 8))}: errno 51 (No space left on device)\n`,
    );
  });

  it('refunds an entry when it goes, and refuses a rename whose longer name does not fit', () => {
    // 3,000 files made and deleted one after the other in a quota that holds 2,016 at once.
    expect(flood(['churn', '/tmp', '8'], ['--memory', '1MiB']).stdout).toBe(
      'churn stopped at step 3000: errno 0 (Success)\n',
    );
    expect(flood(['files', '/tmp', '8'], ['--memory', '1MiB']).stdout).toBe(
      `files stopped at step ${Math.floor(2 ** 20 / (ENTRY + 8))}: errno 51 (No space left on device)\n`,
    );
    const r = flood(['rename', '/tmp', '8']);
    expect(r.stdout).toBe(
      `rename stopped at step ${Math.floor(MEMORY / (ENTRY + 8))}: errno 51 (No space left on device)\n` +
        'rename when full: errno 51; rmdir: errno 0; rename then: errno 0\n',
    );
  });

  it('bounds open descriptors at 1,024 (EMFILE), stdio and the root preopen included', () => {
    expect(flood(['fds', '/tmp', '8']).stdout).toBe(
      'fds stopped at step 1020: errno 33 (No file descriptors available)\n',
    );
  });

  it('keeps the bytes of a file unlinked but still open charged until it is closed', () => {
    // 64 KiB written per step and never closed: the 4 MiB quota holds 63 of them with the next
    // file's entry (before the rule, only the 1,024 descriptors stopped it, at 64 MiB).
    expect(flood(['unlinked', '/tmp', '8']).stdout).toBe(
      'unlinked stopped at step 63: errno 51 (No space left on device)\n',
    );
  });

  it('ends the run with output_limit when the entries fill /output', () => {
    const dir = tempDir();
    const manifest = join(dir, 'cage.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        apiVersion: 'docklock/v1',
        kind: 'Cage',
        module: fixturePath('fs_flood'),
        limits: { output: 65536 },
      }),
    );
    const r = flood(['files', '/output', '8'], ['--manifest', manifest]);
    expect(r.status).toBe('output_limit');
    expect(Object.keys(r.outputs)).toHaveLength(Math.floor(65536 / (ENTRY + 8)));
    expect(flood(['files', '/output', '8'], ['--manifest', manifest]).resultHash).toBe(r.resultHash);

    // A writable directory's initial entries are charged like its bytes: 3 × 512 + 6 + 30 here.
    const host = join(dir, 'data');
    mkdirSync(host);
    for (const name of ['a', 'bb', 'ccc']) writeFileSync(join(host, name), '0123456789');
    const w = flood(['files', '/data', '8'], ['--manifest', manifest, '--dir', `${host}:/data`]);
    expect(w.status).toBe('output_limit');
    expect(Object.keys(w.outputs)).toHaveLength(3 + Math.floor((65536 - 3 * ENTRY - 6 - 30) / (ENTRY + 8)));
  });

  it('bounds the host memory of a loop of long names by the memory limit', () => {
    // Peak resident memory of the whole `docklock run` process, read as it exits. Before the
    // charge this loop held every 2,000-byte name until the fuel ran out (gigabytes); now the
    // 64 MiB scratch quota stops it after ~26,000. The ceiling is generous on purpose.
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        join(ROOT, 'test', 'run', 'report-max-rss.ts'),
        CLI,
        'run',
        fixturePath('fs_flood'),
        '--memory',
        '64MiB',
        '--json',
        '--',
        'dirs',
        '/tmp',
        '2000',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as RunJson;
    expect(json.stdout).toBe(
      `dirs stopped at step ${Math.floor((64 * 1024 * 1024) / (ENTRY + 2000))}: errno 51 (No space left on device)\n`,
    );
    const kb = Number(/max-rss-kb (\d+)/.exec(r.stderr)?.[1]);
    expect(kb).toBeGreaterThan(0);
    expect(kb).toBeLessThan(768 * 1024);
  });

  it('nests directories deeper than the host would recurse: a result, never an internal error', () => {
    // 32,704 levels of "d" fill 16 MiB; renaming the top into the bottom is EINVAL (28).
    expect(flood(['deep', '/tmp'], ['--memory', '16MiB']).stdout).toBe(
      `deep stopped at step ${Math.floor((16 * 2 ** 20) / (ENTRY + 1))}: errno 51 (No space left on device)\n` +
        'rename into itself: errno 28\n',
    );
    // In /output the outputs are collected from the whole depth when the run ends.
    expect(flood(['deep', '/output'], ['--memory', '16MiB']).status).toBe('output_limit');
  });

  it('lists a directory in order, with every change made before each read of the listing', () => {
    // The sorted names are kept between fd_readdir calls (one sort per change, not per call).
    expect(flood(['list', '/tmp']).stdout).toBe(
      'made: 3000 entries, in order\nhalf-way: 1602 entries seen\nchanged: 1600 entries, in order\n',
    );
  });

  it('does not apply to bundles recorded at ABI level 4 or below, which replay as they ran', async () => {
    const manifest = parseManifest({
      apiVersion: 'docklock/v1',
      kind: 'Cage',
      module: 'fs_flood.wasm',
      args: ['files', '/tmp', '8'],
      limits: { memory: 2 ** 20 },
    });
    const module = fixture('fs_flood');
    const req = { manifest, module, stdin: new Uint8Array(0), inputs: new Map<string, Uint8Array>() };
    const out = await runOnce({ ...req, mode: 'record', wasiLevel: 4 });
    // No charge: only the witness budget ends the loop, long after 2,016 entries.
    expect(out.result.status).toBe('memory_limit');
    expect(out.result.witnessEntries).toBeGreaterThan(3 * 2016);
    const bundle = encodeBundle({ ...req, witness: out.witnessBytes, result: out.result, wasiLevel: 4 });
    expect((await replayBundle(bundle)).match).toBe(true);
  });
});

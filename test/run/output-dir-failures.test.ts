/**
 * `docklock run --output-dir` when writing the outputs fails after the run (a name already
 * taken, a full disk, a bundle path that takes no file): the run's result is still printed (JSON
 * or the human result line) and its bundle still written, and every failed write is a coded
 * error after it, with exit status 2. Nothing recorded is lost.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, cli, fixturePath, tempDir } from './helpers.ts';

interface RunJson {
  status: string;
  exitCode: number | null;
  outputs: Record<string, string>;
  resultHash: string;
  error?: { code: string; message: string; where?: { field?: string } };
  writeErrors?: { code: string; message: string }[];
}

/** A writable /data holding `a.txt` and 200,000 zero bytes: two outputs whatever the guest does. */
function dataDir(root: string): string {
  const host = join(root, 'data-host');
  mkdirSync(host);
  writeFileSync(join(host, 'a.txt'), 'hi\n');
  writeFileSync(join(host, 'zeros.bin'), new Uint8Array(200_000));
  return host;
}

function verifies(bundle: string, hash: string): boolean {
  return cli(['verify', bundle, '--expected-hash', hash]).code === 0;
}

describe('run --output-dir: a failed write keeps the result', () => {
  it('a name already taken (no --force): the JSON result, the bundle, and DL_ERR_CLI_OUTPUT_EXISTS, exit 2', () => {
    const root = tempDir();
    const host = dataDir(root);
    const out = join(root, 'out');
    mkdirSync(join(out, 'data'), { recursive: true });
    writeFileSync(join(out, 'data', 'a.txt'), 'mine');
    const bundle = join(root, 'run.dlb');
    const args = ['run', fixturePath('hello'), '--dir', `${host}:/data`, '--output-dir', out, '--bundle', bundle];
    const r = cli([...args, '--json'], '');
    expect(r.code).toBe(2);
    const json = JSON.parse(r.stdout) as RunJson;
    expect(json.status).toBe('exited');
    expect(Object.keys(json.outputs)).toEqual(['/data/a.txt', '/data/zeros.bin']);
    expect(json.error).toMatchObject({ code: 'DL_ERR_CLI_OUTPUT_EXISTS', where: { field: '--output-dir' } });
    expect(json.writeErrors?.map((e) => e.code)).toEqual(['DL_ERR_CLI_OUTPUT_EXISTS']);
    expect(verifies(bundle, json.resultHash)).toBe(true);
    expect(readFileSync(join(out, 'data', 'a.txt'), 'utf8')).toBe('mine');

    // Without --json: the guest's output, then the result line and the coded error on stderr.
    const h = cli(args, '');
    expect(h.code).toBe(2);
    expect(h.stdout).toContain('fnv1a=');
    expect(h.stderr).toBe(
      'hello from stderr\n' +
        `docklock: exited with exit code 0; fuel used ${/fuel used (\d+)/.exec(h.stderr)?.[1]} of 10000000000; result ${json.resultHash}\n` +
        `docklock: DL_ERR_CLI_OUTPUT_EXISTS: ${join(out, 'data', 'a.txt')} already exists; pass --force to overwrite it (--output-dir)\n`,
    );
  });

  it.skipIf(!existsSync('/proc/self'))(
    'a bundle path that takes no file and a name taken: both reported, the JSON result printed',
    () => {
      const root = tempDir();
      const host = dataDir(root);
      const out = join(root, 'out');
      mkdirSync(join(out, 'data'), { recursive: true });
      writeFileSync(join(out, 'data', 'zeros.bin'), 'mine');
      const r = cli(
        [
          'run',
          fixturePath('hello'),
          '--dir',
          `${host}:/data`,
          '--output-dir',
          out,
          '--bundle',
          '/proc/docklock-x.dlb',
        ],
        '',
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /^hello from stderr\ndocklock: exited with exit code 0; fuel used \d+ of \d+; result [0-9a-f]{64}\n/,
      );
      expect(r.stderr).toContain('\ndocklock: DL_ERR_CLI_OUTPUT_WRITE: cannot write /proc/docklock-x.dlb: ENOENT\n');
      expect(r.stderr).toContain('\ndocklock: DL_ERR_CLI_OUTPUT_EXISTS: ');
      const j = cli(
        [
          'run',
          fixturePath('hello'),
          '--dir',
          `${host}:/data`,
          '--output-dir',
          out,
          '--bundle',
          '/proc/docklock-x.dlb',
          '--json',
        ],
        '',
      );
      const json = JSON.parse(j.stdout) as RunJson;
      expect(json.status).toBe('exited');
      expect(json.resultHash).toMatch(/^[0-9a-f]{64}$/);
      expect(json.error?.code).toBe('DL_ERR_CLI_OUTPUT_WRITE');
      expect(json.writeErrors?.map((e) => e.code)).toEqual(['DL_ERR_CLI_OUTPUT_WRITE', 'DL_ERR_CLI_OUTPUT_EXISTS']);
    },
  );

  it('a file the host refuses while writing (a file size limit standing in for a full disk): DL_ERR_CLI_OUTPUT_WRITE, no half file', () => {
    const root = tempDir();
    const host = dataDir(root);
    const out = join(root, 'out');
    const bundle = join(root, 'run.dlb');
    // `ulimit -f 64`: no file over 64 KiB; SIGXFSZ ignored, so the write fails with EFBIG as a
    // full disk fails it with ENOSPC. The zeros compress: the bundle fits, zeros.bin does not.
    const r = spawnSync(
      'bash',
      [
        '-c',
        `trap '' XFSZ; ulimit -f 64; exec "$0" "$@"`,
        process.execPath,
        CLI,
        'run',
        fixturePath('hello'),
        '--dir',
        `${host}:/data`,
        '--output-dir',
        out,
        '--bundle',
        bundle,
        '--json',
      ],
      {
        encoding: 'utf8',
        input: '',
        timeout: 60_000,
        env: { ...process.env, DOCKLOCK_CODE_CACHE: 'off', DOCKLOCK_INSTRUMENT_CACHE: 'off' },
      },
    );
    expect(r.status, r.stderr).toBe(2);
    const json = JSON.parse(r.stdout) as RunJson;
    expect(json.status).toBe('exited');
    expect(json.error).toMatchObject({ code: 'DL_ERR_CLI_OUTPUT_WRITE', where: { field: '--output-dir' } });
    expect(json.error?.message).toBe(`cannot write "/data/zeros.bin" under ${out}: EFBIG; 1 of 2 written before it`);
    expect(readdirSync(join(out, 'data'))).toEqual(['a.txt']);
    expect(verifies(bundle, json.resultHash)).toBe(true);
    // The bundle holds the outputs: extracted once the disk has room, they are the run's.
    const again = join(root, 'again');
    expect(cli(['extract', bundle, again]).code).toBe(0);
    expect(readFileSync(join(again, 'data', 'zeros.bin')).length).toBe(200_000);
  });

  // As root every folder is writable (access(2) says so), so this runs for other users only.
  it.skipIf(process.getuid?.() === 0)(
    'an output root that cannot be written into: refused before the guest runs',
    () => {
      const root = tempDir();
      const out = join(root, 'out');
      mkdirSync(join(out, 'output'), { recursive: true });
      chmodSync(join(out, 'output'), 0o555);
      const r = cli(['run', fixturePath('hello'), '--output-dir', out, '--json'], '');
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stdout)).toEqual({
        error: {
          code: 'DL_ERR_CLI_OUTPUT_PATH',
          message: `${join(out, 'output')} cannot be written into (EACCES); /output would not be written`,
          where: { field: '--output-dir' },
        },
      });
    },
  );
});

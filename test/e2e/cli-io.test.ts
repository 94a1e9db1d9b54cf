/**
 * How `docklock run` meets a shell: piped stdin, output paths checked before the guest runs, usage
 * errors, and exit statuses (README, "Exit codes").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wat } from '../engine/wat.ts';
import { CLI, cli, fixturePath, tempDir } from '../run/helpers.ts';

// Copies stdin to stdout (one read of up to 4 KiB), then exits with the code in its first argument
// byte (argv[1][0] - '0') * 100 + 44: '0' → 44, '3' → 344.
const ECHO_EXIT = wat(`(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $args_get (i32.const 64) (i32.const 128)))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.add (i32.const 44) (i32.mul (i32.const 100)
      (i32.sub (i32.load8_u (i32.load (i32.const 68))) (i32.const 48)))))))`);

function shell(script: string, mod: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(
    'bash',
    ['-c', script.replaceAll('DOCKLOCK', `"${process.execPath}" "${CLI}"`).replaceAll('MOD', `"${mod}"`)],
    { encoding: 'utf8' },
  );
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('docklock run in a shell', () => {
  const dir = tempDir();
  const mod = join(dir, 'echo.wasm');
  writeFileSync(mod, ECHO_EXIT);
  writeFileSync(join(dir, 'in.txt'), 'from a file');

  it("takes a piped stdin and a redirected file as the guest's stdin, and records it", () => {
    const piped = shell(`printf 'from a pipe' | DOCKLOCK run MOD --arg 0 --bundle "${dir}/p.dlb"`, mod);
    expect(piped.stdout).toBe('from a pipe');
    expect(cli(['replay', join(dir, 'p.dlb')]).code).toBe(0);
    expect(shell(`DOCKLOCK run MOD --arg 0 < "${dir}/in.txt"`, mod).stdout).toBe('from a file');
  });

  it('gives an empty stdin when ours is a spawn() socket or /dev/null, so it never waits for it', () => {
    // spawnSync's stdin is a socket that this test never closes: reading it would hang.
    const r = spawnSync(process.execPath, [CLI, 'run', mod, '--arg', '0'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(44);
    expect(r.stdout).toBe('');
    expect(shell('DOCKLOCK run MOD --arg 0 < /dev/null', mod).stdout).toBe('');
  });

  it('ends an endless or oversized stdin or file with a coded error instead of filling memory', () => {
    const endless = shell('DOCKLOCK run MOD --arg 0 --stdin /dev/zero', mod);
    expect(endless.status).toBe(2);
    expect(endless.stdout).toBe('');
    expect(endless.stderr).toBe(
      'docklock: DL_ERR_CLI_TOO_LARGE: stdin "/dev/zero" is larger than 1 GiB, the most a bundle can hold\n',
    );
    // A sparse file says its size up front: refused before a byte is read.
    const big = join(dir, 'big.bin');
    writeFileSync(big, '');
    truncateSync(big, 2 ** 31);
    const asModule = cli(['run', big, '--json']);
    expect(asModule.code).toBe(2);
    expect(JSON.parse(asModule.stdout).error).toMatchObject({
      code: 'DL_ERR_CLI_TOO_LARGE',
      where: { field: 'module' },
    });
    expect(cli(['verify', big]).stderr).toMatch(/^docklock: DL_ERR_CLI_TOO_LARGE: bundle /);
  });

  it('reports a guest exit code ≥ 256 as the low 8 bits, and in full with --json', () => {
    expect(shell('DOCKLOCK run MOD --arg 3 < /dev/null', mod).status).toBe(344 & 0xff);
    const r = spawnSync(process.execPath, [CLI, 'run', mod, '--arg', '3', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'exited', exitCode: 344 });
  });

  it('refuses an unwritable --bundle before the guest runs', () => {
    const r = shell(`printf 'never printed' | DOCKLOCK run MOD --arg 0 --bundle /no/such/dir/x.dlb`, mod);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^docklock: DL_ERR_CLI_OUTPUT_PATH: --bundle \/no\/such\/dir\/x\.dlb cannot be written .*\n$/,
    );
    const asDir = cli(['run', mod, '--bundle', dir, '--json']);
    expect(asDir.code).toBe(2);
    expect(JSON.parse(asDir.stdout).error).toMatchObject({
      code: 'DL_ERR_CLI_OUTPUT_PATH',
      where: { field: '--bundle' },
    });
  });

  it('refuses a --bundle, --out or --report that is a device or a pipe, which the atomic rename would replace', () => {
    const fifo = join(dir, 'pipe.dlb');
    spawnSync('mkfifo', [fifo]);
    for (const [args, flag] of [
      [['run', mod, '--arg', '0', '--bundle', fifo], '--bundle'],
      [['run', mod, '--arg', '0', '--bundle', '/dev/null'], '--bundle'],
      [['evaluate', join(dir, 'no-challenge'), mod, '--report', '/dev/null'], '--report'],
    ] as const) {
      const r = cli([...args], '');
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`DL_ERR_CLI_OUTPUT_PATH: ${flag} `);
      expect(r.stderr).toContain('is not a regular file');
    }
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it.skipIf(!existsSync('/proc/self'))(
    'ends with a coded line when a bundle or profile cannot be written after the run (/proc takes no files), after the result',
    () => {
      const r = cli(['run', mod, '--arg', '0', '--bundle', '/proc/docklock-x.dlb'], '');
      expect(r.code).toBe(2);
      // The run's result line comes first: the bundle is lost, the result is not.
      expect(r.stderr).toMatch(
        /^docklock: exited with exit code 44; fuel used \d+ of \d+; result [0-9a-f]{64}\ndocklock: DL_ERR_CLI_OUTPUT_WRITE: cannot write \/proc\/docklock-x.dlb: ENOENT\n$/,
      );
      const p = cli(['profile', mod, '--arg', '0', '--out', '/proc/docklock-x.svg', '--json']);
      expect(p.code).toBe(2);
      expect(JSON.parse(p.stdout).error).toMatchObject({ code: 'DL_ERR_CLI_OUTPUT_WRITE' });
    },
  );

  it('refuses an --output-dir with a symbolic link planted on an output root, before the guest runs', () => {
    const out = join(dir, 'planted');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(out);
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(out, 'output'));
    const r = shell(`printf 'never printed' | DOCKLOCK run MOD --arg 0 --output-dir "${out}"`, mod);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^docklock: DL_ERR_CLI_OUTPUT_PATH: .*planted\/output is a symbolic link; \/output .*\n$/);
    // A writable directory's root is checked the same way, and a file in the way too.
    const data = join(dir, 'data-host');
    mkdirSync(data);
    symlinkSync(elsewhere, join(out, 'data'));
    const w = cli(['run', mod, '--arg', '0', '--dir', `${data}:/data`, '--output-dir', out, '--json'], 'x');
    expect(w.code).toBe(2);
    expect(JSON.parse(w.stdout).error).toMatchObject({
      code: 'DL_ERR_CLI_OUTPUT_PATH',
      where: { field: '--output-dir' },
    });
    const fileInWay = join(dir, 'file-in-way');
    mkdirSync(fileInWay);
    writeFileSync(join(fileInWay, 'output'), 'a file');
    const f = shell(`DOCKLOCK run MOD --arg 0 --output-dir "${fileInWay}" < /dev/null`, mod);
    expect(f.status).toBe(2);
    expect(f.stderr).toMatch(/DL_ERR_CLI_OUTPUT_PATH: .*output is in the way of \/output/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('refuses an --bundles path that is a file, before evaluating', () => {
    const file = join(dir, 'in.txt');
    const r = cli(['evaluate', join(dir, 'no-challenge'), fixturePath('hello'), '--bundles', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^docklock: DL_ERR_CLI_OUTPUT_PATH: --bundles .* is not a directory\n$/);
    expect(existsSync(join(dir, 'no-challenge'))).toBe(false);
  });

  it('answers an unknown flag or command with one coded line (JSON with --json), not the help', () => {
    const flag = cli(['run', mod, '--fule', '10']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe("docklock: DL_ERR_CLI_USAGE: unknown option '--fule' (see --help)\n");
    const json = cli(['run', mod, '--fule', '10', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 'DL_ERR_CLI_USAGE', message: "unknown option '--fule' (see --help)", where: { field: '--fule' } },
    });
    const cmd = cli(['rnu']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/^docklock: DL_ERR_CLI_USAGE: unknown command 'rnu'/);
    expect(cmd.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('inspect prints strings from the bundle with their control and bidi characters escaped', () => {
    const bundle = join(dir, 'escapes.dlb');
    const arg = '\u001b[31mRED\u001b[0m\rFAKE result hash \u202eevil\u009b';
    expect(cli(['run', mod, '--arg', '0', '--arg', arg, '--bundle', bundle], '').code).toBe(44);
    const r = cli(['inspect', bundle, '--limit', '100']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(r.stdout).toContain('args [0 \\u{1b}[31mRED\\u{1b}[0m\\u{d}FAKE result hash \\u{202e}evil\\u{9b}]; env []');
  });

  it('inspect shows what the guest received as text or hex, and refuses a bad --limit', () => {
    const bundle = join(dir, 'i.dlb');
    expect(shell(`printf 'abc' | DOCKLOCK run MOD --arg 0 --bundle "${bundle}"`, mod).status).toBe(44);
    const r = cli(['inspect', bundle]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/args_get\(.*writes .*"main\\00\\0"/);
    expect(r.stdout).toMatch(/fd_read\(0, .*writes \d+\+3 "abc", \d+\+4 0x03000000/);
    for (const bad of ['x', '-1', '1.5']) {
      const b = cli(['inspect', bundle, '--limit', bad]);
      expect(b.code).toBe(2);
      expect(b.stderr).toBe(
        `docklock: DL_ERR_CLI_LIMIT: --limit takes a whole number of entries (0 or more), got "${bad}"\n`,
      );
    }
  });
});

/**
 * Outputs whose names a host file system refuses: `run --output-dir` and `extract` say so before
 * writing anything (their help: "then nothing is written"), in one readable line.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, fixturePath, tempDir } from './helpers.ts';

describe('outputs with a name over 255 bytes', () => {
  const dir = tempDir();
  const bundle = join(dir, 'long.dlb');

  it('run --output-dir refuses them and writes none of the outputs; the run and its bundle stand', () => {
    const out = join(dir, 'run-out');
    const r = cli(['run', fixturePath('long_name'), '--bundle', bundle, '--output-dir', out], '');
    expect(r.code).toBe(2);
    // The result line first (what the failed write must not take with it), then the coded error.
    const [result, error, rest] = r.stderr.split('\n');
    expect(result).toMatch(/^docklock: exited with exit code 0; fuel used \d+ of \d+; result [0-9a-f]{64}$/);
    expect(error).toMatch(
      /^docklock: DL_ERR_CLI_OUTPUT_PATH: output "\/output\/n+…n+" has a name of 300 bytes, over the 255 a host file system takes; nothing was written \(--output-dir\)$/,
    );
    expect(error!.length).toBeLessThan(250);
    expect(rest).toBe('');
    expect(existsSync(join(out, 'output', 'a.txt'))).toBe(false);
    expect(cli(['verify', bundle]).code).toBe(0);
  });

  it('extract refuses them the same way, with --json too', () => {
    const out = join(dir, 'extract-out');
    const r = cli(['extract', bundle, out, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'DL_ERR_CLI_OUTPUT_PATH' });
    expect(existsSync(join(out, 'output', 'a.txt'))).toBe(false);
  });
});

describe('extract and --output-dir into a place that is no directory', () => {
  const dir = tempDir();
  const bundle = join(dir, 'tree-io.dlb');

  it('a file, an empty path or /proc/x: one coded line and exit 2, no stack trace and no endless loop', () => {
    expect(cli(['run', fixturePath('tree_io'), '--bundle', bundle], '').code).toBe(0);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const cases: [string, RegExp][] = [
      [file, /DL_ERR_CLI_OUTPUT_PATH: .*a-file is not a directory; nothing was written/],
      ['', /DL_ERR_CLI_OUTPUT_PATH: the directory to write into is an empty path/],
    ];
    // mkdir under /proc answers ENOENT although /proc exists, which Node's recursive mkdirSync retries forever.
    if (existsSync('/proc/self'))
      cases.push(['/proc/docklock-x', /DL_ERR_CLI_OUTPUT_PATH: .*\/proc\/docklock-x.*ENOENT/]);
    for (const [where, message] of cases) {
      const r = cli(['extract', bundle, where]);
      expect(r.code, where).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^docklock: ${message.source}.*\n$`));
      if (where !== '') {
        const run = cli(['run', fixturePath('hello'), '--output-dir', where], '');
        expect(run.code, where).toBe(2);
        expect(run.stderr).toMatch(/^docklock: DL_ERR_CLI_OUTPUT_PATH: --output-dir .*\n$/);
      }
    }
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});

/**
 * Host names in a mapped directory that are not UTF-8: guest paths are UTF-8, so `run --input DIR`
 * and `--dir DIR` refuse them with a coded error (it used to end in a stack trace), and a valid
 * name is kept byte for byte, a leading U+FEFF included.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, fixturePath, tempDir } from './helpers.ts';

describe('names in a mapped host directory', () => {
  it('refuses a name that is not UTF-8 in one coded line, for an input tree and a writable directory', () => {
    const dir = join(tempDir(), 'tree');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(Buffer.concat([Buffer.from(`${join(dir, 'sub')}/a`), Buffer.from([0xff])]), 'x');
    for (const flag of ['--input', '--dir']) {
      const r = cli(['run', fixturePath('hello'), flag, `${dir}:/data`], '');
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /^docklock: DL_ERR_MANIFEST_INPUT_NAME: cannot map .*\/tree to \/data: .*\/tree\/sub holds a name that is not UTF-8 \(bytes 61ff\); rename it or map another directory \(files\.(inputs|writable)\[0\]\.host\)\n$/,
      );
    }
  });

  it('keeps a valid name byte for byte, a leading byte order mark too', () => {
    const dir = join(tempDir(), 'tree');
    mkdirSync(dir);
    writeFileSync(join(dir, '\uFEFFbom.txt'), 'x');
    const bundle = join(dir, '..', 'b.dlb');
    expect(cli(['run', fixturePath('hello'), '--input', `${dir}:/data`, '--bundle', bundle], '').code).toBe(0);
    expect(cli(['inspect', bundle, '--limit', '0']).stdout).toContain('inputs [/data/, /data/\uFEFFbom.txt]');
  });
});

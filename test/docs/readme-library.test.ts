/**
 * The README's library example, run as written: the block under "Using it as a library" is taken
 * from README.md, its `docklock` import pointed at this checkout, and run in a fresh Node process
 * against a real module whose `work` export loops and calls the imported `env.log`.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { wat } from '../engine/wat.ts';
import { ROOT, tempDir } from '../run/helpers.ts';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

function libraryExample(): string {
  const section = README.slice(README.indexOf('## Using it as a library'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (m === null) throw new Error('README.md has no ts block under "Using it as a library"');
  return m[1]!;
}

describe("README's library example", () => {
  it('runs as written: the guest runs out of fuel and the fuel used is printed', () => {
    const code = libraryExample();
    expect(code).toContain("from 'docklock'");
    const module = wat(`(module (import "env" "log" (func $log (param i32)))
      (func (export "work") (local $i i32)
        (loop $l (call $log (local.get $i)) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))))`);
    const dir = tempDir();
    const file = join(dir, 'example.mts');
    const prelude = `const wasmBytes = new Uint8Array([${module.join(',')}]);\n`;
    writeFileSync(
      file,
      prelude + code.replace("from 'docklock'", `from '${pathToFileURL(join(ROOT, 'index.ts')).href}'`),
    );
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('budget exhausted');
    expect(lines[0]).toBe('0');
    expect(lines.at(-1)).toBe('1000000n'); // console.log of a bigint: all the fuel, used exactly
  });
});

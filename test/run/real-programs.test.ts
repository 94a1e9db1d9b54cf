/**
 * Issue 12's "done when": a real C program (test/fixtures/c/tree_io.c) that lists and reads a
 * directory tree, asks isatty, appends to a file in a writable directory, writes several /output
 * files and takes trailing arguments prints the same stdout under `docklock run` and node:wasi,
 * leaves the host's files alone, and its bundle replays and extracts with the host files deleted.
 */
import {
  closeSync,
  cpSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { WASI } from 'node:wasi';
import { describe, expect, it } from 'vitest';
import { cli, fixture, fixturePath, tempDir } from './helpers.ts';

function makeTree(root: string): { data: string; work: string } {
  const data = join(root, 'data');
  mkdirSync(join(data, 'sub', 'empty'), { recursive: true });
  writeFileSync(join(data, 'a.txt'), 'hello\n');
  writeFileSync(join(data, 'sub', 'b.bin'), Uint8Array.of(0, 255, 7));
  writeFileSync(join(data, 'Zeta'), 'é\n');
  writeFileSync(join(data, 'éclair'), 'sweet\n');
  symlinkSync('a.txt', join(data, 'link'));
  const work = join(root, 'work');
  mkdirSync(work);
  writeFileSync(join(work, 'notes.txt'), 'start\n');
  return { data, work };
}

/** Every file under `dir`, as relative path → contents. */
function filesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'latin1');
    }
  };
  walk(dir);
  return out;
}

const ARGS = ['one', '-two', 'three four'];

async function underNodeWasi(data: string, work: string, output: string): Promise<string> {
  const scratch = tempDir('docklock-tree-node-');
  const stdinPath = join(scratch, 'stdin');
  writeFileSync(stdinPath, '');
  const stdin = openSync(stdinPath, 'r');
  const outPath = join(scratch, 'stdout');
  const stdout = openSync(outPath, 'w');
  const wasi = new WASI({
    version: 'preview1',
    args: ['tree_io', ...ARGS],
    env: {},
    preopens: { '/data': data, '/work': work, '/output': output },
    returnOnExit: true,
    stdin,
    stdout,
  });
  const inst = await WebAssembly.instantiate(
    await WebAssembly.compile(fixture('tree_io') as Uint8Array<ArrayBuffer>),
    wasi.getImportObject() as WebAssembly.Imports,
  );
  expect(wasi.start(inst)).toBe(0);
  closeSync(stdin);
  closeSync(stdout);
  return readFileSync(outPath, 'utf8');
}

describe('a real program with a directory tree, a writable directory, outputs and trailing arguments', () => {
  it('prints what node:wasi prints, and replays and extracts offline', async () => {
    const root = tempDir('docklock-tree-');
    const { data, work } = makeTree(root);
    const out = join(root, 'out');
    const bundle = join(root, 'run.dlb');
    const ours = cli([
      'run',
      fixturePath('tree_io'),
      '--input',
      `${data}:/data`,
      '--dir',
      `${work}:/work`,
      '--output-dir',
      out,
      '--bundle',
      bundle,
      '--',
      ...ARGS,
    ]);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);

    const nodeRoot = tempDir('docklock-tree-node-root-');
    cpSync(work, join(nodeRoot, 'work'), { recursive: true });
    mkdirSync(join(nodeRoot, 'output'));
    const theirs = await underNodeWasi(data, join(nodeRoot, 'work'), join(nodeRoot, 'output'));
    expect(ours.stdout).toBe(theirs);
    expect(ours.stdout).toContain('isatty: stdin 0, stdout 0, stderr 0');
    expect(ours.stdout).toContain('arg 2: -two');
    // Sorted byte-wise by the program (alphasort), "éclair" after every ASCII name.
    expect(ours.stdout.indexOf('éclair')).toBeGreaterThan(ours.stdout.indexOf('sub/'));

    // The outputs, /output and the writable /work, are what node:wasi left in its real folders.
    expect(filesUnder(out)).toEqual(filesUnder(nodeRoot));
    // The host's writable folder was never written back.
    expect(readFileSync(join(work, 'notes.txt'), 'utf8')).toBe('start\n');

    // With every host file gone, the bundle still replays and extracts.
    rmSync(data, { recursive: true });
    rmSync(work, { recursive: true });
    const replay = cli(['replay', bundle, '--json']);
    expect(JSON.parse(replay.stdout)).toMatchObject({ match: true, divergence: null });
    const again = join(root, 'again');
    expect(cli(['extract', bundle, again]).code).toBe(0);
    expect(filesUnder(again)).toEqual(filesUnder(out));

    // Overwriting needs --force, and a refused extract writes nothing.
    writeFileSync(join(again, 'output', 'args.txt'), 'changed');
    const refused = cli(['extract', bundle, again, '--json']);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error.code).toBe('DL_ERR_CLI_OUTPUT_EXISTS');
    expect(readFileSync(join(again, 'output', 'args.txt'), 'utf8')).toBe('changed');
    expect(cli(['extract', bundle, again, '--force']).code).toBe(0);
    expect(filesUnder(again)).toEqual(filesUnder(out));
  });

  it('refuses a symbolic link that leaves the mapped tree, and a link planted in the output folder', () => {
    const root = tempDir('docklock-tree-');
    const { data } = makeTree(root);
    symlinkSync('/etc', join(data, 'escape'));
    const r = cli(['run', fixturePath('tree_io'), '--input', `${data}:/data`, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('DL_ERR_MANIFEST_INPUT_SYMLINK');

    rmSync(join(data, 'escape'));
    const out = join(root, 'out');
    mkdirSync(out);
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(out, 'output'));
    const planted = cli(['run', fixturePath('tree_io'), '--input', `${data}:/data`, '--output-dir', out, '--json']);
    expect(JSON.parse(planted.stdout).error.code).toBe('DL_ERR_CLI_OUTPUT_PATH');
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});

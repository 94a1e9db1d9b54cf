/**
 * Issue 16's replay and determinism "done when", through the CLI in fresh processes: a component
 * run writes a bundle that replays offline with its host files deleted, an edited bundle diverges
 * at the first differing entry, and a component that reads the clock, randomness and a directory
 * tree gives the same result hash in another process (and another one for another seed).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBundle, encodeBundle } from '../../runtime/bundle.ts';
import { COMPONENT_DIR } from '../../scripts/build-fixtures.ts';
import { cli, cliJson, tempDir } from '../run/helpers.ts';

interface RunJson {
  status: string;
  exitCode: number | null;
  stdout: string;
  outputs: Record<string, string>;
  resultHash: string;
  witnessEntries: number;
  error?: { code: string };
}

const comp = (name: string): string => join(COMPONENT_DIR, `${name}.wasm`);

beforeAll(() => {
  process.env.DOCKLOCK_COMPONENT_CACHE = mkdtempSync(join(tmpdir(), 'docklock-component-cache-'));
});

describe('component bundles', () => {
  it('replay offline with the host files deleted; an edited bundle diverges', () => {
    const root = tempDir('docklock-component-replay-');
    const data = join(root, 'data');
    mkdirSync(join(data, 'sub'), { recursive: true });
    writeFileSync(join(data, 'a.txt'), 'hello\n');
    writeFileSync(join(data, 'sub', 'b.bin'), Uint8Array.of(0, 255, 7));
    const bundle = join(root, 'run.dlb');
    const run = cliJson<RunJson>([
      'run',
      comp('tree_io'),
      '--input',
      `${data}:/data`,
      '--bundle',
      bundle,
      '--arg',
      'z',
    ]);
    expect(run.json.status).toBe('exited');
    expect(run.json.stdout).toContain('a.txt');
    expect(Object.keys(run.json.outputs).length).toBeGreaterThan(1);

    rmSync(data, { recursive: true });
    const replay = cliJson<{ match: boolean; resultHash: string; divergence: unknown }>(['replay', bundle]);
    expect(replay.code).toBe(0);
    expect(replay.json).toMatchObject({ match: true, resultHash: run.json.resultHash, divergence: null });

    // Change one byte the host wrote in one recorded call: the live replay writes the real byte.
    const b = decodeBundle(readFileSync(bundle));
    const idx = b.witness.findIndex((e) => e.writes.some((w) => w.bytes.length > 0));
    expect(idx).toBeGreaterThanOrEqual(0);
    const e = b.witness[idx]!;
    const w = e.writes.find((x) => x.bytes.length > 0)!;
    const forged = w.bytes.slice();
    forged[0] = forged[0]! ^ 0xff;
    b.witness[idx] = { ...e, writes: e.writes.map((x) => (x === w ? { ptr: x.ptr, bytes: forged } : x)) };
    const edited = join(root, 'edited.dlb');
    writeFileSync(edited, encodeBundle(b));
    const r = cliJson<{ match: boolean; divergence: { index: number; import: string; field: string } }>([
      'replay',
      edited,
    ]);
    expect(r.code).toBe(1);
    expect(r.json.match).toBe(false);
    expect(r.json.divergence).toMatchObject({ index: idx, import: e.name, field: 'writes' });
  });

  it('clock, randomness and a directory tree: the same result hash in another process; another seed, another one', () => {
    const seedA = 'cd'.repeat(32);
    const args = (seed: string): string[] => ['run', comp('rand_clock'), '--seed', seed];
    const [a1, a2, b] = [
      cliJson<RunJson>(args(seedA)),
      cliJson<RunJson>(args(seedA)),
      cliJson<RunJson>(args('ef'.repeat(32))),
    ];
    expect(a1.json.status).toBe('exited');
    expect(a2.json.resultHash).toBe(a1.json.resultHash);
    expect(b.json.resultHash).not.toBe(a1.json.resultHash);
    expect(b.json.stdout.split('\n')[0]).not.toBe(a1.json.stdout.split('\n')[0]);
    // The directory tree's run is replayed in another process by the test above (same result hash).
  });

  it('the plain CLI passes the guest exit status on, as for a core module', () => {
    const ok = cli(['run', comp('hello'), '--arg', 'hi']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('arg[1]=hi');
    expect(cli(['run', comp('hello'), '--arg', 'fail']).code).toBe(1);
  });
});

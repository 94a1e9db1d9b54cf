/**
 * Issue 16's first "done when": the project's own C programs, built as core modules and wrapped
 * into WASI 0.2 components with jco's command adapter (scripts/build-fixtures.ts), give the same
 * stdout, stderr, exit code and /output files either way. Components run in process here
 * (runGuest), through the same entry the CLI's worker uses.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import type { GuestRunOutcome } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { isComponent } from '../../runtime/component/detect.ts';
import { COMPONENT_DIR, FIXTURE_WASM_DIR } from '../../scripts/build-fixtures.ts';

const utf8 = new TextEncoder();
const text = new TextDecoder();

function core(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURE_WASM_DIR, `${name}.wasm`)));
}
function component(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(COMPONENT_DIR, `${name}.wasm`)));
}

const INPUTS = new Map<string, Uint8Array>([
  ['/data/a.txt', utf8.encode('hello\n')],
  ['/data/sub/', new Uint8Array(0)],
  ['/data/sub/b.bin', Uint8Array.of(0, 255, 7)],
  ['/data/Zeta', utf8.encode('é\n')],
  ['/input/in.txt', utf8.encode('input file\n')],
]);

async function run(
  module: Uint8Array,
  manifest: Record<string, unknown> = {},
  stdin = 'line one\nline two\n',
): Promise<GuestRunOutcome> {
  const m = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'x.wasm', ...manifest });
  return runGuest({ manifest: m, module, stdin: utf8.encode(stdin), inputs: INPUTS, mode: 'record' });
}

/** What a program shows the world: the fields issue 16 compares. */
function visible(o: GuestRunOutcome): Record<string, unknown> {
  const r = o.result;
  return {
    status: r.status,
    exitCode: r.exitCode,
    trap: r.trap,
    error: o.error,
    stdout: text.decode(r.stdout),
    stderr: text.decode(r.stderr),
    outputs: Object.fromEntries([...r.outputs].map(([k, v]) => [k, text.decode(v)])),
  };
}

beforeAll(() => {
  process.env.DOCKLOCK_COMPONENT_CACHE = mkdtempSync(join(tmpdir(), 'docklock-component-cache-'));
});

describe('C programs as core modules and as components', () => {
  it('the fixtures are components (layer 1) wrapping the core modules (layer 0)', () => {
    expect(isComponent(component('hello'))).toBe(true);
    expect(isComponent(core('hello'))).toBe(false);
  });

  it.each([
    ['hello', { args: ['one', 'two words'] }],
    ['rand_clock', { determinism: { seed: 'ab'.repeat(32) } }],
    ['tree_io', { args: ['x'], files: { writable: [{ host: 'w', guest: '/work' }] } }],
  ])('%s: same stdout, stderr, exit code and outputs', async (name, manifest) => {
    const a = await run(core(name), manifest);
    const b = await run(component(name), manifest);
    expect(a.result.status).toBe('exited');
    if (name === 'tree_io') expect(a.result.outputs.size).toBeGreaterThan(1);
    expect(visible(b)).toEqual(visible(a));
  });

  it('wasi_suite: the same except the one preview1 probe a component cannot express (an unknown clock id)', async () => {
    const a = visible(await run(core('wasi_suite'), { args: ['a'] }));
    const b = visible(await run(component('wasi_suite'), { args: ['a'] }));
    const lines = (s: unknown): string[] => String(s).split('\n');
    const differ = lines(a.stdout).filter((l, i) => l !== lines(b.stdout)[i]);
    expect(differ).toEqual(['unknown clock EINVAL: ok']);
    expect({ ...b, stdout: '' }).toEqual({ ...a, stdout: '' });
  });

  it('a failing exit status is 1 through the command adapter (WASI 0.2 exit carries ok or err only)', async () => {
    const a = await run(core('hello'), { args: ['fail'] });
    const b = await run(component('hello'), { args: ['fail'] });
    expect([a.result.exitCode, b.result.exitCode]).toEqual([3, 1]);
    expect(text.decode(b.result.stdout)).toBe(text.decode(a.result.stdout));
  });

  it('a component run is deterministic in one process, and its seed changes what it sees', async () => {
    const seeded = (seed: string) => run(component('rand_clock'), { determinism: { seed } });
    const [a, b, c] = [await seeded('01'.repeat(32)), await seeded('01'.repeat(32)), await seeded('02'.repeat(32))];
    expect(a.result.witnessRoot).toEqual(b.result.witnessRoot);
    expect(a.result.stdout).toEqual(b.result.stdout);
    expect(a.result.fuelUsed).toBe(b.result.fuelUsed);
    expect(text.decode(c.result.stdout)).not.toBe(text.decode(a.result.stdout));
    // The clock line is the virtual clock's, the same for both seeds.
    expect(text.decode(c.result.stdout).split('\n')[1]).toBe(text.decode(a.result.stdout).split('\n')[1]);
  });
});

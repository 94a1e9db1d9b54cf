/**
 * The disk cache of instrumented modules (runtime/instrument-cache.ts), which `docklock run` uses:
 * a hit gives the module instrumenting gives, a damaged entry is a miss and is written again, a
 * folder others may write is never used, and the folder stays bounded.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../runtime/engine.ts';
import { MAX_ENTRIES, instrumentCacheDir } from '../../runtime/instrument-cache.ts';
import { runGuest } from '../../runtime/cage/run.ts';
import { compileOptionsFor } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { resultHash } from '../../runtime/result.ts';
import { runOnce } from '../../runtime/cage/inline.ts';
import { COMPONENT_DIR } from '../../scripts/build-fixtures.ts';
import { fixture } from '../run/helpers.ts';
import { wat } from './wat.ts';

const dir = (): string => mkdtempSync(join(tmpdir(), 'docklock-icache-'));
const entries = (d: string): string[] => readdirSync(d).filter((n) => n.endsWith('.dlic'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const manifest = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'm.wasm' });

async function resultWith(engine: Engine, name: string): Promise<string> {
  const out = await runGuest({
    manifest,
    module: fixture(name),
    stdin: new Uint8Array(0),
    inputs: new Map(),
    mode: 'record',
    engine,
  });
  return `${out.result.status} ${hex(resultHash(out.result))} ${hex(out.witnessBytes)}`;
}

describe('the instrumented-module disk cache', () => {
  const saved = process.env.DOCKLOCK_INSTRUMENT_CACHE;
  afterEach(() => {
    if (saved === undefined) delete process.env.DOCKLOCK_INSTRUMENT_CACHE;
    else process.env.DOCKLOCK_INSTRUMENT_CACHE = saved;
  });

  it('a hit in a new engine is the module instrumenting gives, and runs to the same result', async () => {
    const d = dir();
    const plain = new Engine();
    const first = new Engine({ cacheDir: d });
    const opts = compileOptionsFor(manifest);
    const a = await first.compile(fixture('tree_io'), opts);
    expect(entries(d)).toEqual([`${a.key}.dlic`]);
    const second = new Engine({ cacheDir: d });
    const b = await second.compile(fixture('tree_io'), opts);
    const c = await plain.compile(fixture('tree_io'), opts);
    expect(b.key).toBe(c.key);
    expect(hex(b.instrumented)).toBe(hex(c.instrumented));
    expect(b.imports).toEqual(c.imports);
    expect(b.exports).toEqual(c.exports);
    expect(b.memoryLimitPages).toBe(c.memoryLimitPages);
    expect(b.stats).toEqual(c.stats);
    // compileSync takes the same entry.
    expect(hex(new Engine({ cacheDir: d }).compileSync(fixture('tree_io'), opts).instrumented)).toBe(
      hex(c.instrumented),
    );
    for (const name of ['hello', 'tree_io', 'rand_clock'])
      expect(await resultWith(new Engine({ cacheDir: d }), name), name).toBe(await resultWith(plain, name));
  });

  it("keeps a component's core modules too, though they are compiled on a cage thread", async () => {
    const d = dir();
    const component = new Uint8Array(readFileSync(join(COMPONENT_DIR, 'hello.wasm')));
    const run = async (engine?: Engine): Promise<string> => {
      let place = '';
      const out = await runOnce(
        { manifest, module: component, stdin: new Uint8Array(0), inputs: new Map(), mode: 'record' },
        { engine, onPlace: (p) => (place = p) },
      );
      expect(place).toBe('thread');
      return `${out.result.status} ${hex(resultHash(out.result))} ${hex(out.witnessBytes)}`;
    };
    const plain = await run();
    expect(await run(new Engine({ cacheDir: d }))).toBe(plain);
    // The program's module, the preview1 adapter and jco's table shims.
    const kept = entries(d);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(await run(new Engine({ cacheDir: d }))).toBe(plain);
    expect(entries(d)).toEqual(kept);
  });

  it('a damaged or cut entry is a miss, and is written again', async () => {
    const d = dir();
    const opts = compileOptionsFor(manifest);
    const good = await new Engine({ cacheDir: d }).compile(fixture('hello'), opts);
    const file = join(d, `${good.key}.dlic`);
    const bytes = readFileSync(file);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10]! ^= 0xff;
    for (const bad of [flipped, bytes.subarray(0, bytes.length - 100), Buffer.from('not an entry')]) {
      writeFileSync(file, bad);
      const again = await new Engine({ cacheDir: d }).compile(fixture('hello'), opts);
      expect(hex(again.instrumented)).toBe(hex(good.instrumented));
      expect(readFileSync(file).equals(bytes)).toBe(true);
    }
  });

  it('a folder that others may write is not used', async () => {
    const d = dir();
    chmodSync(d, 0o777);
    const m = await new Engine({ cacheDir: d }).compile(fixture('hello'), compileOptionsFor(manifest));
    expect(m.instrumented.length).toBeGreaterThan(0);
    expect(entries(d)).toEqual([]);
  });

  it(`keeps at most ${MAX_ENTRIES} entries`, async () => {
    const d = dir();
    const engine = new Engine({ cacheDir: d, compileCacheSize: 0 });
    for (let i = 0; i < MAX_ENTRIES + 8; i++)
      await engine.compile(wat(`(module (func (export "f") (result i32) (i32.const ${i})))`));
    expect(entries(d).length).toBe(MAX_ENTRIES);
  });

  it('is found from DOCKLOCK_INSTRUMENT_CACHE, XDG_CACHE_HOME or the home folder, and "off" turns it off', () => {
    process.env.DOCKLOCK_INSTRUMENT_CACHE = '/some/where';
    expect(instrumentCacheDir()).toBe('/some/where');
    process.env.DOCKLOCK_INSTRUMENT_CACHE = 'off';
    expect(instrumentCacheDir()).toBeNull();
    delete process.env.DOCKLOCK_INSTRUMENT_CACHE;
    expect(instrumentCacheDir()).toMatch(/docklock[/\\]instrumented$/);
  });
});

/**
 * A component meets the core module's contract: one exact fuel budget spent by all its core
 * instances together, the same statuses, coded rejections for what the cage does not offer, and
 * the transpilation cached on disk by content hash and jco version.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@bytecodealliance/jco';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import type { GuestRunOutcome } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import {
  installedTranspilerVersion,
  transpileCacheKey,
  transpileComponent,
  transpilerVersion,
} from '../../runtime/component/transpile.ts';
import { COMPONENT_DIR } from '../../scripts/build-fixtures.ts';

const component = (name: string): Uint8Array => new Uint8Array(readFileSync(join(COMPONENT_DIR, `${name}.wasm`)));

async function run(module: Uint8Array, manifest: Record<string, unknown> = {}): Promise<GuestRunOutcome> {
  const m = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'x.wasm', ...manifest });
  return runGuest({ manifest: m, module, stdin: new Uint8Array(0), inputs: new Map(), mode: 'record' });
}

let cache: string;
beforeAll(() => {
  cache = mkdtempSync(join(tmpdir(), 'docklock-component-cache-'));
  process.env.DOCKLOCK_COMPONENT_CACHE = cache;
});

describe('one fuel budget for every core instance', () => {
  it('a budget of exactly what the run used is enough, one unit less runs out of fuel at the limit', async () => {
    const full = await run(component('hello'), { args: ['x'] });
    expect(full.result.status).toBe('exited');
    const used = full.result.fuelUsed;
    const exact = await run(component('hello'), { args: ['x'], limits: { fuel: used } });
    expect(exact.result.status).toBe('exited');
    expect(exact.result.fuelUsed).toBe(used);
    expect(exact.result.stdout).toEqual(full.result.stdout);
    const short = await run(component('hello'), { args: ['x'], limits: { fuel: used - 1n } });
    expect(short.result).toMatchObject({ status: 'out_of_fuel', trap: 'out_of_fuel', fuelUsed: used - 1n });
  });

  it('runs out of fuel early, inside the adapter or the program, the same way twice', async () => {
    const a = await run(component('tree_io'), { limits: { fuel: 5000n } });
    const b = await run(component('tree_io'), { limits: { fuel: 5000n } });
    expect(a.result).toMatchObject({ status: 'out_of_fuel', fuelUsed: 5000n });
    expect(b.result.witnessRoot).toEqual(a.result.witnessRoot);
  });
});

describe('rejections', () => {
  it('a component binary jco cannot read: DL_ERR_COMPONENT_INVALID', async () => {
    const bad = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff);
    const r = await run(bad);
    expect(r.result.status).toBe('rejected');
    expect(r.error?.code).toBe('DL_ERR_COMPONENT_INVALID');
  });

  it('an interface the cage does not offer (sockets): DL_ERR_COMPONENT_IMPORT_DENIED', async () => {
    const bytes = await parse(`(component
      (import "wasi:sockets/network@0.2.0" (instance $n (export "f" (func))))
      (core func $f (canon lower (func $n "f")))
      (core module $m (import "x" "f" (func)))
      (core instance (instantiate $m (with "x" (instance (export "f" (func $f)))))))`);
    const r = await run(bytes);
    expect(r.result.status).toBe('rejected');
    expect(r.error).toMatchObject({ code: 'DL_ERR_COMPONENT_IMPORT_DENIED' });
    expect(r.error?.message).toContain('wasi:sockets/network');
  });

  it('wasi:http/outgoing-handler without recorded networking, and sockets or the server side with it: DL_ERR_COMPONENT_IMPORT_DENIED', async () => {
    const importing = (name: string) =>
      parse(`(component
      (import "${name}@0.2.0" (instance $h (export "f" (func))))
      (core func $f (canon lower (func $h "f")))
      (core module $m (import "x" "f" (func)))
      (core instance (instantiate $m (with "x" (instance (export "f" (func $f)))))))`);
    const net = { grants: ['wasi', 'net'], network: { mode: 'record', allow: ['127.0.0.1:1'] } };
    for (const [name, manifest] of [
      ['wasi:http/outgoing-handler', {}],
      ['wasi:sockets/tcp', net],
      ['wasi:http/incoming-handler', net],
    ] as const) {
      const r = await run(await importing(name), manifest);
      expect(r.result.status).toBe('rejected');
      expect(r.error).toMatchObject({ code: 'DL_ERR_COMPONENT_IMPORT_DENIED' });
      expect(r.error?.message).toContain(name);
    }
  });

  it('an interface whose grant is missing: DL_ERR_IMPORT_NOT_GRANTED', async () => {
    const r = await run(component('rand_clock'), { grants: ['wasi', 'clock'] });
    expect(r.result.status).toBe('rejected');
    expect(r.error?.code).toBe('DL_ERR_IMPORT_NOT_GRANTED');
    expect(r.error?.message).toContain('wasi:random/random');
  });

  it('a component that is not a command: DL_ERR_COMPONENT_NO_RUN', async () => {
    const r = await run(await parse('(component (core module $m) (core instance (instantiate $m)))'));
    expect(r.error?.code).toBe('DL_ERR_COMPONENT_NO_RUN');
  });
});

describe('async builtins are refused (jco schedules async tasks with Math.random)', () => {
  const core = (f: string, type: string): string =>
    `(core module $m (import "" "x" (func ${type}))) (core instance (instantiate $m (with "" (instance (export "x" (func ${f}))))))`;
  it.each([
    [
      'waitable-set.new, under a core import name of its own choosing',
      `(core func $b (canon waitable-set.new)) ${core('$b', '(result i32)')}`,
      'canon waitable-set.new',
    ],
    ['task.return', `(core func $b (canon task.return)) ${core('$b', '')}`, 'canon task.return'],
    [
      'stream.new',
      `(type $s (stream u8)) (core func $b (canon stream.new $s)) ${core('$b', '(result i64)')}`,
      'canon stream.new',
    ],
    [
      'an async lower',
      `(import "f" (func $f)) (core func $b (canon lower (func $f) async)) ${core('$b', '(result i32)')}`,
      'canon lower … async',
    ],
    [
      'a builtin in a nested component',
      `(component (core func $b (canon waitable-set.new)) ${core('$b', '(result i32)')})`,
      'canon waitable-set.new',
    ],
  ])('%s: DL_ERR_COMPONENT_UNSUPPORTED', async (_, body, builtin) => {
    const r = await run(await parse(`(component ${body})`));
    expect(r.result.status).toBe('rejected');
    expect(r.error?.code).toBe('DL_ERR_COMPONENT_UNSUPPORTED');
    expect(r.error?.message).toContain(builtin);
  });

  it('a synchronous lower is not refused for being a lower (it fails later, for having no run export)', async () => {
    const r = await run(
      await parse(`(component (import "f" (func $f)) (core func $b (canon lower (func $f))) ${core('$b', '')})`),
    );
    expect(r.error?.code).not.toBe('DL_ERR_COMPONENT_UNSUPPORTED');
  });
});

describe('the transpile cache', () => {
  it('keeps jco output under the content hash and the transpiler version, and reuses it', async () => {
    const bytes = component('hello');
    const t = await transpileComponent(bytes, cache);
    const dir = join(cache, transpileCacheKey(), t.hash);
    expect(transpileCacheKey()).toContain(transpilerVersion());
    expect(existsSync(join(dir, 'component.mjs'))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.wasm'))).toEqual([...t.cores.keys()].sort());
    expect(t.imports).toContain('wasi:cli/stdout');
    expect(await transpileComponent(bytes, cache)).toBe(t);
  });

  it('holds glue that calls a synchronous host import directly (why jco is pinned, docs/components.md)', async () => {
    const t = await transpileComponent(component('wasi_suite'), cache);
    const glue = readFileSync(join(cache, transpileCacheKey(), t.hash, 'component.mjs'), 'utf8');
    // jco ≥ 1.13.1 wraps every host call in task objects (3–6× slower runs of small programs).
    for (const perCall of ['AsyncTask', 'createSubtask', 'startCurrentTask', '_debugLog('])
      expect(glue).not.toContain(perCall);
    // Its state lives inside `instantiate`, so each run starts from none: the module's one
    // top-level statement is that function (the glue is evaluated once per process).
    const top = ts.createSourceFile('component.mjs', glue, ts.ScriptTarget.Latest).statements;
    expect(top.map((st) => ts.SyntaxKind[st.kind])).toEqual(['FunctionDeclaration']);
    expect((top[0] as ts.FunctionDeclaration).name?.text).toBe('instantiate');
  });

  it('is keyed by the pinned jco version, which is the one installed', () => {
    // The key is a constant (a cache hit does not resolve the package); a changed pin must change it.
    expect(transpilerVersion()).toBe(installedTranspilerVersion());
    expect(transpileCacheKey()).toBe(`jco-${installedTranspilerVersion()}-m`);
  });
});

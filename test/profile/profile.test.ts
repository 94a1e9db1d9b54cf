/**
 * Issue 17 through the public entry `docklock/profile`: a profile of a real run accounts for exactly
 * its `fuelUsed` and leaves its result hash alone, the same run gives the same bytes in every
 * format, a recursive and a nested-cage program give the expected stacks, and every output format
 * parses with the tools that read it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile as PProfile } from 'pprof-format';
import { beforeAll, describe, expect, it } from 'vitest';
import { profileBundle, profileModule, renderProfile } from '../../runtime/api/profile.ts';
import type { Profile, ProfileFormat, ProfileReport } from '../../runtime/api/profile.ts';
import type { Evaluation } from '../../runtime/api/evaluate.ts';
import { decodeBundle } from '../../runtime/api/bundle.ts';
import { toHex } from '../../runtime/hash.ts';
import { resultHash } from '../../runtime/result.ts';
import { COMPONENT_DIR } from '../../scripts/build-fixtures.ts';
import { wat } from '../engine/wat.ts';
import { fixture, tempDir } from '../run/helpers.ts';
import { close, serve } from '../challenges/helpers.ts';
import { CHALLENGES, consistent, evaluateExample, folded, manifestOf, plainRun } from './helpers.ts';

const FORMATS: ProfileFormat[] = ['svg', 'html', 'speedscope', 'pprof'];

/** `_start → rec(4) → … → rec(0)`, each `rec(n > 0)` also calling `leaf`, and one indirect call. */
const RECURSIVE = wat(`(module
  (type $t (func (result i32)))
  (memory (export "memory") 1)
  (table 1 funcref)
  (elem (i32.const 0) $leaf)
  (func $leaf (type $t) (i32.const 1))
  (func $rec (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add
        (call $rec (i32.sub (local.get $n) (i32.const 1)))
        (call_indirect (type $t) (i32.const 0))))))
  (func (export "_start") (drop (call $rec (i32.const 4)))))`);

describe('profile of a run', () => {
  it('a recursive program: the exact stacks, calls per path, a total of fuelUsed and the plain result hash', async () => {
    const manifest = manifestOf();
    const plain = await plainRun(RECURSIVE, manifest);
    expect(plain.result.status).toBe('exited');
    const p = await profileModule({ manifest, module: RECURSIVE, stdin: new Uint8Array(0), inputs: new Map() });
    expect(p.result.fuelUsed).toBe(plain.result.fuelUsed);
    expect(p.profile.root.total).toBe(plain.result.fuelUsed);
    expect(p.resultHash).toBe(toHex(resultHash(plain.result)));
    expect(consistent(p.profile.root)).toBe(true);

    const paths = folded(p.profile.root);
    const rec = (depth: number): string => ['module', '_start', ...Array<string>(depth).fill('rec')].join(';');
    const expected = new Set(['module', rec(0)]);
    for (let d = 1; d <= 5; d++) expected.add(rec(d));
    for (let d = 1; d <= 4; d++) expected.add(`${rec(d)};leaf`);
    expect(new Set(paths.keys())).toEqual(expected);
    for (const [path, { calls }] of paths) if (path !== 'module') expect(calls, path).toBe(1n);
    // A callee's entry segment may be charged by its caller (spec: fuel.md#F7): `rec(0)` is nothing
    // but its entry, so its fuel shows on the `rec` that called it; every other `rec` does the same
    // work; `leaf`, reached through the table, pays its own.
    expect(paths.get(rec(5))!.self).toBe(0n);
    expect(paths.get(rec(1))!.self).toBeGreaterThan(0n);
    for (let d = 2; d <= 4; d++) expect(paths.get(rec(d))!.self).toBe(paths.get(rec(1))!.self);
    expect(paths.get(`${rec(4)};leaf`)!.self).toBeGreaterThan(0n);
    expect(p.profile.truncated).toBe(false);
  });

  it('C fixtures: the profile total is fuelUsed and the result hash is the plain run’s', async () => {
    for (const [name, fields] of [
      ['hello', { args: ['a', 'b'] }],
      ['rand_clock', { grants: ['wasi', 'clock', 'random'] }],
      ['wasi_fixes', {}],
    ] as const) {
      const manifest = manifestOf(fields);
      const module = fixture(name);
      const plain = await plainRun(module, manifest);
      const p = await profileModule({ manifest, module, stdin: new Uint8Array(0), inputs: new Map() }, { name });
      expect(p.result.status, name).toBe(plain.result.status);
      expect(p.profile.root.total, name).toBe(plain.result.fuelUsed);
      expect(p.resultHash, name).toBe(toHex(resultHash(plain.result)));
      expect(p.profile.root.name).toBe(name);
      expect(consistent(p.profile.root), name).toBe(true);
      // Names come from the name section: wasi-libc's start path into the program.
      expect(folded(p.profile.root).has(`${name};_start.command_export;_start;__original_main`), name).toBe(true);
    }
  });

  it('mangled names are demangled: C++/Rust legacy and Rust v0 (backreferences, impls, generics); others kept', async () => {
    const module = wat(`(module
      (memory (export "memory") 1)
      (func $_RNvMs8_Cs1wwIxjb0Jwr_22wasi_snapshot_preview1NtB5_5State3new (call $_ZN4core3fmt5write17h0123456789abcdefE))
      (func $_ZN4core3fmt5write17h0123456789abcdefE (call $_RINvNtC3std3mem8align_ofdE))
      (func $_RINvNtC3std3mem8align_ofdE)
      (func $_RNvNvMCs4fqI2P2rA04_13const_genericINtB4_3FooKpE3foo3FOO)
      (func $_RBbroken)
      (func (export "_start")
        (call $_RNvMs8_Cs1wwIxjb0Jwr_22wasi_snapshot_preview1NtB5_5State3new)
        (call $_RNvNvMCs4fqI2P2rA04_13const_genericINtB4_3FooKpE3foo3FOO)
        (call $_RBbroken)))`);
    const p = await profileModule({ manifest: manifestOf(), module, stdin: new Uint8Array(0), inputs: new Map() });
    expect(new Set(folded(p.profile.root).keys())).toEqual(
      new Set([
        'module',
        'module;_start',
        'module;_start;<wasi_snapshot_preview1::State>::new',
        'module;_start;<wasi_snapshot_preview1::State>::new;core::fmt::write',
        'module;_start;<wasi_snapshot_preview1::State>::new;core::fmt::write;std::mem::align_of::<f64>',
        'module;_start;<const_generic::Foo<_>>::foo::FOO',
        'module;_start;_RBbroken',
      ]),
    );
  });

  it('an out-of-fuel run: the overdraft lands on the frame that overran, the total is exactly the budget', async () => {
    const manifest = manifestOf({ limits: { fuel: 40n } });
    const p = await profileModule({ manifest, module: RECURSIVE, stdin: new Uint8Array(0), inputs: new Map() });
    expect(p.result.status).toBe('out_of_fuel');
    expect(p.profile.root.total).toBe(40n);
    expect(consistent(p.profile.root)).toBe(true);
  });
});

describe('profiles of example challenges (bundles, offline)', () => {
  let dir: string;
  let evals: Evaluation[];
  beforeAll(async () => {
    dir = tempDir('docklock-profile-examples-');
    evals = [
      ...(await evaluateExample('sort', ['quicksort.wasm', 'endless-loop.wasm'], join(dir, 'sort'))),
      ...(await evaluateExample('primes', ['sieve.wasm'], join(dir, 'primes'))),
      ...(await evaluateExample('guess', ['good.txt'], join(dir, 'guess'))),
    ];
    // labels fetches its ground truth over HTTP: recorded here, replayed offline once the server is gone.
    const truth = await serve(readFileSync(join(CHALLENGES, 'labels', 'truth.txt')));
    try {
      evals.push(
        ...(await evaluateExample('labels', ['good.txt'], join(dir, 'labels'), {
          env: { TRUTH_URL: `http://${truth.host}/truth.txt` },
          allowHosts: [truth.host],
        })),
      );
    } finally {
      await close(truth.server);
    }
  }, 240_000);

  it('each bundle’s profile totals its fuelUsed and reproduces its result hash (labels: offline, from its recorded HTTP)', async () => {
    expect(evals.length).toBe(5);
    expect(evals[4]!.status).toBe('ok');
    for (const e of evals) {
      expect(e.bundle, e.submission).toBeDefined();
      const r = await profileBundle(readFileSync(e.bundle!), { name: e.submission });
      expect(r.profile.root.total, e.submission).toBe(e.run!.fuelUsed);
      expect(r.resultHash, e.submission).toBe(e.resultHash);
      expect(consistent(r.profile.root), e.submission).toBe(true);
    }
  });

  it('a nested-cage submission is its own subtree: quicksort recursing under the challenge’s call', async () => {
    const qs = evals.find((e) => e.submission === 'quicksort.wasm')!;
    const r = await profileBundle(readFileSync(qs.bundle!), { name: 'qs' });
    const paths = [...folded(r.profile.root).keys()];
    const nested = paths.filter((p) => /;nested submission [0-9a-f]{12}(;|$)/.test(p));
    expect(nested.length).toBeGreaterThan(0);
    // The submission's exported call, then its own recursion, at least three deep.
    expect(
      nested.some((p) =>
        /nested submission [0-9a-f]{12};sort\.command_export;sort;quicksort;quicksort;quicksort/.test(p),
      ),
    ).toBe(true);
    // The nested subtree's fuel is the submission's, not the caller's: the caller frame's self is
    // what remains, and the tree still adds up to the bundle's fuelUsed.
    expect(r.profile.root.total).toBe(qs.run!.fuelUsed);
  });

  it('the same bundle profiled twice gives identical bytes in every format', async () => {
    for (const e of evals) {
      const bytes = readFileSync(e.bundle!);
      const a = await profileBundle(bytes, { name: e.submission });
      const b = await profileBundle(bytes, { name: e.submission });
      for (const f of FORMATS)
        expect(renderProfile(b.profile, f), `${e.submission} ${f}`).toEqual(renderProfile(a.profile, f));
    }
  });

  it('an edited bundle whose replay no longer reproduces it: DL_ERR_PROFILE_DIVERGED', async () => {
    const qs = evals.find((e) => e.submission === 'quicksort.wasm')!;
    const b = decodeBundle(readFileSync(qs.bundle!));
    // Same witness, another stdin: the challenge reads a different submission, so the replay diverges.
    const { encodeBundle } = await import('../../runtime/api/cage.ts');
    const edited = encodeBundle({ ...b, stdin: Uint8Array.of(1, 2, 3) });
    await expect(profileBundle(edited)).rejects.toMatchObject({ code: 'DL_ERR_PROFILE_DIVERGED' });
  });

  it('bytes that are not a bundle: a DL_ERR_BUNDLE_* input error', async () => {
    await expect(profileBundle(Uint8Array.of(1, 2, 3, 4))).rejects.toMatchObject({
      code: expect.stringMatching(/^DL_ERR_BUNDLE_/),
    });
  });
});

describe('components', () => {
  it('a component: every core instance’s fuel, the total is fuelUsed (also out of fuel), the same profile twice', async () => {
    const module = new Uint8Array(readFileSync(join(COMPONENT_DIR, 'tree_io.wasm')));
    for (const fuel of [undefined, 30_000n]) {
      const manifest = manifestOf({ args: ['x'], ...(fuel === undefined ? {} : { limits: { fuel } }) });
      const plain = await plainRun(module, manifest);
      expect(plain.result.status).toBe(fuel === undefined ? 'exited' : 'out_of_fuel');
      const a = await profileModule({ manifest, module, stdin: new Uint8Array(0), inputs: new Map() }, { name: 'c' });
      const b = await profileModule({ manifest, module, stdin: new Uint8Array(0), inputs: new Map() }, { name: 'c' });
      expect(a.profile.root.total).toBe(plain.result.fuelUsed);
      expect(a.resultHash).toBe(toHex(resultHash(plain.result)));
      expect(consistent(a.profile.root)).toBe(true);
      expect(renderProfile(b.profile, 'pprof')).toEqual(renderProfile(a.profile, 'pprof'));
      // The adapter's entry and the program's own code, each core instance's tree under the root.
      const names = a.profile.root.children.map((c) => c.name);
      expect(names).toEqual(expect.arrayContaining(['_start.command_export']));
      expect(names.some((n) => n.startsWith('wasi:cli/run@'))).toBe(true);
      if (fuel === undefined)
        expect(folded(a.profile.root).has('c;_start.command_export;_start;__original_main;__main_void;main')).toBe(
          true,
        );
    }
  });
});

describe('output formats parse', () => {
  let report: ProfileReport;
  let profile: Profile;
  beforeAll(async () => {
    report = await profileModule(
      { manifest: manifestOf(), module: RECURSIVE, stdin: new Uint8Array(0), inputs: new Map() },
      { name: 'rec<&>"run' },
    );
    profile = report.profile;
  });

  it('speedscope: a sampled profile whose weights add up to the total, every stack under the root', () => {
    const json = JSON.parse(new TextDecoder().decode(renderProfile(profile, 'speedscope'))) as {
      $schema: string;
      shared: { frames: { name: string }[] };
      profiles: { type: string; unit: string; endValue: number; samples: number[][]; weights: number[] }[];
    };
    expect(json.$schema).toBe('https://www.speedscope.app/file-format-schema.json');
    const [p] = json.profiles;
    expect(p!.type).toBe('sampled');
    expect(p!.samples.length).toBe(p!.weights.length);
    expect(BigInt(p!.weights.reduce((a, b) => a + b, 0))).toBe(profile.root.total);
    expect(p!.endValue).toBe(Number(profile.root.total));
    const names = json.shared.frames.map((f) => f.name);
    for (const s of p!.samples) expect(names[s[0]!]).toBe('rec<&>"run');
    expect(names).toEqual(expect.arrayContaining(['_start', 'rec', 'leaf']));
  });

  it('pprof: a gzipped profile.proto with fuel and calls, the fuel samples adding up to the total', () => {
    const decoded = PProfile.decode(gunzipSync(renderProfile(profile, 'pprof')));
    const str = (i: number | bigint): string => decoded.stringTable.strings[Number(i)]!;
    expect(decoded.sampleType.map((t) => str(t.type))).toEqual(['fuel', 'calls']);
    let fuel = 0n;
    for (const s of decoded.sample) fuel += BigInt(s.value[0]!);
    expect(fuel).toBe(profile.root.total);
    const fnName = new Map(decoded.function.map((f) => [Number(f.id), str(f.name)]));
    const locFn = new Map(decoded.location.map((l) => [Number(l.id), Number(l.line[0]!.functionId)]));
    // Leaf first, as pprof orders a stack: the deepest `leaf` sample sits under four `rec`s.
    const stacks = decoded.sample.map((s) => s.locationId.map((id) => fnName.get(locFn.get(Number(id))!)!).join(';'));
    expect(stacks).toContain('leaf;rec;rec;rec;rec;_start;rec<&>"run');
  });

  it('SVG and HTML: the names escaped, the total in the title, no external reference', () => {
    const svg = new TextDecoder().decode(renderProfile(profile, 'svg'));
    const html = new TextDecoder().decode(renderProfile(profile, 'html'));
    expect(svg.startsWith('<?xml') || svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('rec&#60;&#38;&#62;&#34;run');
    expect(svg).not.toContain('rec<&>"run');
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    for (const doc of [svg, html]) {
      expect(doc).toContain(profile.root.total.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ','));
      expect(doc).not.toMatch(/(src|href)="https?:/);
    }
  });
});

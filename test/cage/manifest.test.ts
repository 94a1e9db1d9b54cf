import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/errors.ts';
import { toHex } from '../../runtime/hash.ts';
import { MANIFEST_DEFAULTS, parseManifest, parseSize } from '../../runtime/manifest/parse.ts';
import { canonicalManifestBytes, decodeCanonicalManifest, manifestHash } from '../../runtime/manifest/canonical.ts';

const MIN = 'apiVersion: docklock/v1\nkind: Cage\nmodule: ./a.wasm\n';
const SEED = 'ab'.repeat(32);

const FULL_YAML = `
apiVersion: docklock/v1
kind: Cage
module: ./challenge.wasm
entry: run
limits:
  fuel: "20000000000"
  memory: 64MiB
  stack: 2000
  stdout: 64KiB
  stderr: 4096
  output: 1MiB
  wallClockMs: 5000
determinism:
  seed: ${SEED}
  clock: { start: 1800000000000000000, step: 250 }
files:
  inputs:
    - { host: ./data/b.txt, guest: /input/b.txt }
    - { guest: /input/a.txt }
env: { MODE: fast, A_1: "1" }
args: [--level, "3"]
network:
  mode: record
  allow: [API.example.com:443, "10.0.0.1:8080"]
  limits: { maxRequests: 4, maxResponseBytes: 2MiB }
grants: [wasi, net, random]
`;

/** Runs fn and returns the InputError it throws. */
function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

const withField = (path: string, yaml: string): { code: string; field: string | undefined } => {
  const e = inputError(() => parseManifest(MIN + yaml));
  expect(e.where?.field, e.message).toBe(path);
  return { code: e.code, field: e.where?.field };
};

describe('parseManifest', () => {
  it('fills every default for a minimal manifest', () => {
    const m = parseManifest(MIN);
    expect(m.entry).toBe('_start');
    expect(m.limits).toEqual({
      fuel: 10_000_000_000n,
      memory: 256 * 2 ** 20,
      stack: 65536,
      stdout: 2 ** 20,
      stderr: 2 ** 20,
      output: 16 * 2 ** 20,
      wallClockMs: 60_000,
    });
    expect(m.determinism.seed).toEqual(new Uint8Array(32));
    expect(m.determinism.clock).toEqual({ start: 1_700_000_000_000_000_000n, step: 1_000_000n });
    expect(m.files).toEqual({ inputs: [], output: '/output', scratch: '/tmp', writable: [] });
    expect(m.env).toEqual({});
    expect(m.args).toEqual([]);
    expect(m.network.mode).toBe('deny');
    expect(m.grants).toEqual(['clock', 'log', 'random', 'wasi']);
  });

  it('reads a full manifest, normalising sizes, big integers, order and case', () => {
    const m = parseManifest(FULL_YAML);
    expect(m.entry).toBe('run');
    expect(m.limits.fuel).toBe(20_000_000_000n);
    expect(m.limits.memory).toBe(64 * 2 ** 20);
    expect(m.limits.stdout).toBe(65536);
    expect(m.determinism.seed).toEqual(Uint8Array.from(Buffer.from(SEED, 'hex')));
    expect(m.determinism.clock.start).toBe(1_800_000_000_000_000_000n);
    expect(m.files.inputs).toEqual([{ guest: '/input/a.txt' }, { host: './data/b.txt', guest: '/input/b.txt' }]);
    expect(m.env).toEqual({ A_1: '1', MODE: 'fast' });
    expect(m.args).toEqual(['--level', '3']);
    expect(m.network.allow).toEqual(['10.0.0.1:8080', 'api.example.com:443']);
    expect(m.network.limits).toEqual({
      maxRequests: 4,
      maxRequestBytes: 2 ** 20,
      maxResponseBytes: 2 * 2 ** 20,
      timeoutMs: 10_000,
    });
    expect(m.grants).toEqual(['net', 'random', 'wasi']);
  });

  it('reads JSON with the same result as YAML, and the canonical bytes match', () => {
    const m = parseManifest(FULL_YAML);
    const json = JSON.stringify({
      grants: ['random', 'net', 'wasi'],
      network: {
        limits: { maxResponseBytes: '2MiB', maxRequests: 4 },
        allow: ['10.0.0.1:8080', 'api.example.com:443'],
        mode: 'record',
      },
      args: ['--level', '3'],
      env: { A_1: '1', MODE: 'fast' },
      files: { inputs: [{ guest: '/input/a.txt' }, { guest: '/input/b.txt', host: './elsewhere/b.txt' }] },
      determinism: { clock: { step: 250, start: '1800000000000000000' }, seed: SEED.toUpperCase() },
      limits: {
        wallClockMs: 5000,
        output: 1048576,
        stderr: '4096',
        stdout: '64 KiB',
        stack: 2000,
        memory: 67108864,
        fuel: 20000000000,
      },
      entry: 'run',
      module: '/somewhere/else/challenge.wasm',
      kind: 'Cage',
      apiVersion: 'docklock/v1',
    });
    const j = parseManifest(json);
    expect(toHex(canonicalManifestBytes(j))).toBe(toHex(canonicalManifestBytes(m)));
    expect(toHex(manifestHash(j))).toBe(toHex(manifestHash(m)));
  });

  it('canonical bytes change when anything that affects the run changes', () => {
    const base = toHex(manifestHash(parseManifest(MIN)));
    for (const extra of [
      'entry: main',
      'limits: { fuel: 5 }',
      `determinism: { seed: "${SEED}" }`,
      'env: { A: b }',
      'args: [x]',
      'grants: [wasi]',
      'files: { inputs: [{ guest: /in }] }',
    ]) {
      expect(toHex(manifestHash(parseManifest(MIN + extra))), extra).not.toBe(base);
    }
  });

  it('decodeCanonicalManifest reads canonical bytes back (property over options)', () => {
    fc.assert(
      fc.property(
        fc.record({
          fuel: fc.bigInt({ min: 1n, max: (1n << 63n) - 1n }),
          pages: fc.integer({ min: 0, max: 65536 }),
          start: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          env: fc.dictionary(
            fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/),
            fc.string({ maxLength: 10 }).filter((s) => !s.includes('\0')),
          ),
          args: fc.array(
            fc.string({ maxLength: 10 }).filter((s) => !s.includes('\0')),
            { maxLength: 5 },
          ),
        }),
        ({ fuel, pages, start, env, args }) => {
          const m = parseManifest({
            apiVersion: 'docklock/v1',
            kind: 'Cage',
            module: 'x.wasm',
            limits: { fuel, memory: pages * 65536 },
            determinism: { clock: { start } },
            env,
            args,
          });
          const bytes = canonicalManifestBytes(m);
          const back = decodeCanonicalManifest(bytes);
          expect(back).toEqual({ ...m, module: '' });
          expect(toHex(canonicalManifestBytes(back))).toBe(toHex(bytes));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('decodeCanonicalManifest rejects garbage and non-canonical bytes with coded errors', () => {
    expect(inputError(() => decodeCanonicalManifest(Uint8Array.of(0xc1, 0x00))).code).toBe('DL_ERR_MANIFEST_CANONICAL');
    expect(inputError(() => decodeCanonicalManifest(Uint8Array.of(0x90))).code).toBe('DL_ERR_MANIFEST_CANONICAL');
  });

  it('rejects unknown keys at every level, naming the dotted path', () => {
    expect(withField('limit', 'limit: {}').code).toBe('DL_ERR_MANIFEST_UNKNOWN_FIELD');
    expect(withField('limits.memroy', 'limits: { memroy: 1 }').code).toBe('DL_ERR_MANIFEST_UNKNOWN_FIELD');
    expect(withField('determinism.clock.tick', 'determinism: { clock: { tick: 1 } }').code).toBe(
      'DL_ERR_MANIFEST_UNKNOWN_FIELD',
    );
    expect(withField('files.inputs.0.mode', 'files: { inputs: [{ guest: /a, mode: rw }] }').code).toBe(
      'DL_ERR_MANIFEST_UNKNOWN_FIELD',
    );
    expect(withField('network.limits.max', 'network: { limits: { max: 1 } }').code).toBe(
      'DL_ERR_MANIFEST_UNKNOWN_FIELD',
    );
  });

  it('rejects bad values with a code, the field and what is allowed', () => {
    const cases: [string, string, string][] = [
      ['limits.memory', 'limits: { memory: 64 potatoes }', 'DL_ERR_MANIFEST_SIZE'],
      ['limits.memory', 'limits: { memory: 1000 }', 'DL_ERR_MANIFEST_RANGE'],
      ['limits.memory', 'limits: { memory: 8GiB }', 'DL_ERR_MANIFEST_RANGE'],
      ['limits.fuel', 'limits: { fuel: 0 }', 'DL_ERR_MANIFEST_RANGE'],
      ['limits.fuel', 'limits: { fuel: "9223372036854775808" }', 'DL_ERR_MANIFEST_RANGE'],
      ['limits.fuel', 'limits: { fuel: 1.5 }', 'DL_ERR_MANIFEST_TYPE'],
      ['limits.stack', 'limits: { stack: -1 }', 'DL_ERR_MANIFEST_RANGE'],
      // Whole numbers past a double's exact range (YAML reads them as bigints) are out of range too.
      ['limits.stack', 'limits: { stack: 99999999999999999 }', 'DL_ERR_MANIFEST_RANGE'],
      ['limits.wallClockMs', 'limits: { wallClockMs: 1e20 }', 'DL_ERR_MANIFEST_RANGE'],
      ['limits.stack', 'limits: { stack: 1024.5 }', 'DL_ERR_MANIFEST_TYPE'],
      ['network.limits.timeoutMs', 'network: { limits: { timeoutMs: "5" } }', 'DL_ERR_MANIFEST_TYPE'],
      ['determinism.seed', 'determinism: { seed: abc }', 'DL_ERR_MANIFEST_SEED'],
      ['determinism.clock.step', 'determinism: { clock: { step: 0 } }', 'DL_ERR_MANIFEST_RANGE'],
      ['files.inputs.0.guest', 'files: { inputs: [{ guest: relative/path }] }', 'DL_ERR_MANIFEST_PATH'],
      ['files.inputs.0.guest', 'files: { inputs: [{ guest: /a/../b }] }', 'DL_ERR_MANIFEST_PATH'],
      ['files.inputs.0.guest', 'files: { inputs: [{ guest: /output/x }] }', 'DL_ERR_MANIFEST_PATH_OVERLAP'],
      ['files.inputs.0.guest', 'files: { inputs: [{ guest: /tmp }] }', 'DL_ERR_MANIFEST_PATH_OVERLAP'],
      ['files.inputs.1.guest', 'files: { inputs: [{ guest: /in }, { guest: /in/x }] }', 'DL_ERR_MANIFEST_PATH_OVERLAP'],
      [
        'files.inputs.0.guest',
        'files: { output: /data/out, inputs: [{ guest: /data }] }',
        'DL_ERR_MANIFEST_PATH_OVERLAP',
      ],
      ['files.inputs.0.guest', 'files: { inputs: [{ host: ./x }] }', 'DL_ERR_MANIFEST_MISSING_FIELD'],
      ['env.1BAD', 'env: { 1BAD: x }', 'DL_ERR_MANIFEST_ENV'],
      ['env.N', 'env: { N: 3 }', 'DL_ERR_MANIFEST_ENV'],
      ['args.0', 'args: [3]', 'DL_ERR_MANIFEST_TYPE'],
      ['network.mode', 'network: { mode: open }', 'DL_ERR_MANIFEST_NETWORK_MODE'],
      [
        'network.allow.0',
        'network: { mode: record, allow: ["*.example.com:443"] }\ngrants: [net]',
        'DL_ERR_MANIFEST_NETWORK_ALLOW',
      ],
      [
        'network.allow.0',
        'network: { mode: record, allow: ["https://a.com:443"] }\ngrants: [net]',
        'DL_ERR_MANIFEST_NETWORK_ALLOW',
      ],
      [
        'network.allow.0',
        'network: { mode: record, allow: ["a.com:70000"] }\ngrants: [net]',
        'DL_ERR_MANIFEST_NETWORK_ALLOW',
      ],
      ['network.allow', 'network: { allow: ["a.com:443"] }', 'DL_ERR_MANIFEST_CONFLICT'],
      ['grants', 'network: { mode: record }', 'DL_ERR_MANIFEST_CONFLICT'],
      ['network.mode', 'grants: [net]', 'DL_ERR_MANIFEST_CONFLICT'],
      ['grants.1', 'grants: [wasi, docker]', 'DL_ERR_MANIFEST_GRANT'],
      ['grants.1', 'grants: [wasi, wasi]', 'DL_ERR_MANIFEST_DUPLICATE'],
      ['entry', 'entry: 7', 'DL_ERR_MANIFEST_TYPE'],
    ];
    for (const [field, yaml, code] of cases) {
      const e = inputError(() => parseManifest(MIN + yaml));
      expect([e.code, e.where?.field], yaml).toEqual([code, field]);
      expect(e.message.length).toBeGreaterThan(20);
    }
  });

  it('rejects wrong apiVersion, kind, missing module, and non-YAML', () => {
    expect(inputError(() => parseManifest('apiVersion: docklock/v2\nkind: Cage\nmodule: a')).code).toBe(
      'DL_ERR_MANIFEST_API_VERSION',
    );
    expect(inputError(() => parseManifest('apiVersion: docklock/v1\nkind: Pod\nmodule: a')).code).toBe(
      'DL_ERR_MANIFEST_KIND',
    );
    expect(inputError(() => parseManifest('apiVersion: docklock/v1\nkind: Cage')).code).toBe(
      'DL_ERR_MANIFEST_MISSING_FIELD',
    );
    expect(inputError(() => parseManifest('a: [')).code).toBe('DL_ERR_MANIFEST_SYNTAX');
    expect(inputError(() => parseManifest('a: 1\na: 2')).code).toBe('DL_ERR_MANIFEST_SYNTAX');
    expect(inputError(() => parseManifest('- 1')).code).toBe('DL_ERR_MANIFEST_TYPE');
    expect(inputError(() => parseManifest(MIN + 'entry: !custom x')).code).toBe('DL_ERR_MANIFEST_SYNTAX');
    expect(
      inputError(() => parseManifest('a: &a [1]\nb: [*a, *a, *a]\n' + 'c: [' + '*a, '.repeat(200) + '*a]')).code,
    ).toBe('DL_ERR_MANIFEST_SYNTAX');
  });

  it('never throws anything but InputError on arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          parseManifest(MIN + s);
        } catch (e) {
          expect(e).toBeInstanceOf(InputError);
          expect((e as InputError).code).toMatch(/^DL_ERR_MANIFEST_/);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseSize', () => {
  it('accepts bytes, binary and decimal units', () => {
    expect(parseSize('64MiB')).toBe(64 * 2 ** 20);
    expect(parseSize('1GiB')).toBe(2 ** 30);
    expect(parseSize('1 GiB')).toBe(2 ** 30);
    expect(parseSize('65536')).toBe(65536);
    expect(parseSize(65536)).toBe(65536);
    expect(parseSize(65536n)).toBe(65536);
    expect(parseSize('2KB')).toBe(2000);
    expect(parseSize('0')).toBe(0);
  });

  it('rejects anything else with DL_ERR_MANIFEST_SIZE', () => {
    for (const v of ['1.5MiB', '-1', 'MiB', '64mib', '64 M', -1, 1.5, null, '99999999999999TiB']) {
      const e = inputError(() => parseSize(v, 'limits.memory'));
      expect(e.code).toBe('DL_ERR_MANIFEST_SIZE');
      expect(e.where?.field).toBe('limits.memory');
    }
  });

  it('exposes documented defaults', () => {
    expect(MANIFEST_DEFAULTS.fuel).toBe(10_000_000_000n);
  });
});

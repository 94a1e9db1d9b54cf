import { brotliCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  BUNDLE_HEADER_BYTES,
  BUNDLE_MAGIC,
  decodeBundle,
  encodeBundle,
  verifyBundle,
  type BundleContents,
} from '../../runtime/bundle.ts';
import { InputError } from '../../runtime/errors.ts';
import { blake3, toHex } from '../../runtime/hash.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { manifestHash } from '../../runtime/manifest/canonical.ts';
import { inputHash, type RunResult } from '../../runtime/result.ts';
import { WitnessLog } from '../../runtime/witness/log.ts';
import { encodeEntries } from '../../runtime/witness/encoding.ts';
import type { WitnessEntry } from '../../runtime/witness/entry.ts';
import { arbEntry } from './fixtures.ts';

const enc = new TextEncoder();
const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: false });

function makeBundle(
  opts: { writes?: Uint8Array[]; stdin?: Uint8Array; outputs?: Map<string, Uint8Array>; input?: Uint8Array } = {},
): BundleContents {
  const manifest = parseManifest(
    `apiVersion: docklock/v1\nkind: Cage\nmodule: ./m.wasm\nfiles: { inputs: [{ host: ./x, guest: /input/x.txt }] }\nlimits: { fuel: 1000000 }\n`,
  );
  const module = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const stdin = opts.stdin ?? enc.encode('question');
  const inputs = new Map([['/input/x.txt', opts.input ?? enc.encode('input file')]]);
  const log = new WitnessLog();
  (opts.writes ?? [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), Uint8Array.of(9)]).forEach((w, i) =>
    log.append({
      name: 'wasi_snapshot_preview1.random_get',
      args: [1024, w.length],
      result: 0,
      writes: [{ ptr: 1024, bytes: w }],
      fuel: BigInt(i * 10),
    }),
  );
  const { root } = log.finalize();
  const result: RunResult = {
    formatVersion: 1,
    status: 'exited',
    exitCode: 0,
    trap: null,
    fuelUsed: 4242n,
    fuelLimit: 1_000_000n,
    stdout: enc.encode('answer\n'),
    stderr: new Uint8Array(0),
    outputs: opts.outputs ?? new Map([['/output/result.txt', enc.encode('42')]]),
    witnessEntries: log.length,
    witnessRoot: root,
    moduleHash: blake3(module),
    manifestHash: manifestHash(manifest),
    inputHash: inputHash(stdin, inputs),
    instrumenterVersion: 'instrument/1',
    costTableVersion: 'cost/1',
  };
  return { manifest, module, stdin, inputs, witness: log.entries(), result };
}

/** A bundle file around an arbitrary payload, with a correct hash unless told otherwise. */
function wrap(payload: Uint8Array, over: { version?: number; declared?: bigint } = {}): Uint8Array {
  const c = brotliCompressSync(payload);
  const out = new Uint8Array(BUNDLE_HEADER_BYTES + c.length);
  const v = new DataView(out.buffer);
  out.set(BUNDLE_MAGIC);
  v.setUint32(8, over.version ?? 1);
  v.setBigUint64(12, over.declared ?? BigInt(payload.length));
  out.set(c, BUNDLE_HEADER_BYTES);
  out.set(blake3(Uint8Array.from([...out.subarray(8, 20), ...c])), 20);
  return out;
}

function codeOf(bytes: Uint8Array, maxBytes?: number): string {
  try {
    const b = decodeBundle(bytes, maxBytes === undefined ? {} : { maxBytes });
    return verifyBundle(b).ok ? 'ok' : 'verify-failed';
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return e.code;
  }
}

describe('bundle', () => {
  it('round-trips and verifies', () => {
    const src = makeBundle();
    const bytes = encodeBundle(src);
    const b = decodeBundle(bytes);
    expect(b.manifest).toEqual({
      ...src.manifest,
      module: '',
      files: { ...src.manifest.files, inputs: [{ guest: '/input/x.txt' }] },
    });
    expect(b.module).toEqual(src.module);
    expect(b.stdin).toEqual(src.stdin);
    expect(b.inputs).toEqual(src.inputs);
    expect(b.witness).toEqual(src.witness);
    expect(b.result).toEqual(src.result);
    const v = verifyBundle(b);
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect(toHex(v.witnessRoot)).toBe(toHex(src.result.witnessRoot));
    expect(toHex(v.resultHash)).toBe(toHex(v.expectedResultHash));
  });

  it("stores a run's encoded witness as is, and decodes it lazily only when asked", () => {
    const src = makeBundle();
    const encoded = encodeEntries(src.witness as WitnessEntry[]);
    expect(toHex(encodeBundle({ ...src, witness: encoded }))).toBe(toHex(encodeBundle(src)));
    const lazy = decodeBundle(encodeBundle(src), { lazyWitness: true });
    expect(toHex(lazy.witnessBytes)).toBe(toHex(encoded));
    expect(lazy.witness).toEqual(src.witness);
    // A witness that does not decode: the eager decoder refuses the bundle; the lazy one when read.
    const broken = encodeBundle({ ...src, witness: Uint8Array.of(0x91, 0x02) }); // [2]: an unknown entry version
    expect(codeOf(broken)).toBe('DL_ERR_BUNDLE_SCHEMA');
    const b = decodeBundle(broken, { lazyWitness: true });
    expect(() => b.witness).toThrow(
      expect.objectContaining({ code: 'DL_ERR_BUNDLE_SCHEMA', where: { field: 'witness.0', entry: 0 } }),
    );
  });

  it('round-trips arbitrary witness entries, stdin and outputs (property)', () => {
    fc.assert(
      fc.property(
        fc.array(arbEntry, { maxLength: 8 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.uint8Array({ maxLength: 50 })),
        (entries, stdin, outs) => {
          const src = makeBundle({
            stdin,
            outputs: new Map(Object.entries(outs).map(([k, v]) => [`/output/${k}`, v])),
          });
          const witness = entries.map((e, i) => ({
            ...e,
            index: i,
            args: e.args.map((a) => (Object.is(a, -0) ? 0 : a)),
            result: Object.is(e.result, -0) ? 0 : e.result,
          }));
          const log = new WitnessLog();
          witness.forEach(({ index: _, ...e }) => log.append(e));
          const full = {
            ...src,
            witness: log.entries(),
            result: { ...src.result, witnessEntries: log.length, witnessRoot: log.finalize().root },
          };
          const b = decodeBundle(encodeBundle(full));
          expect(b.witness).toEqual(log.entries());
          expect(b.result).toEqual(full.result);
          expect(verifyBundle(b).ok).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('every flipped byte fails decode with a coded error or fails verification', () => {
    const bytes = encodeBundle(makeBundle());
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const copy = bytes.slice();
        copy[i] ^= mask;
        const code = codeOf(copy);
        expect(code, `byte ${i} mask ${mask}`).not.toBe('ok');
        expect(code === 'verify-failed' || code.startsWith('DL_ERR_BUNDLE_'), code).toBe(true);
      }
    }
  });

  it('every truncation fails with a coded error', () => {
    const bytes = encodeBundle(makeBundle());
    for (let n = 0; n < bytes.length; n++) {
      const code = codeOf(bytes.subarray(0, n));
      expect(code.startsWith('DL_ERR_BUNDLE_'), `length ${n}: ${code}`).toBe(true);
    }
    expect(codeOf(new Uint8Array(0))).toBe('DL_ERR_BUNDLE_BAD_MAGIC');
    expect(codeOf(bytes.subarray(0, 30))).toBe('DL_ERR_BUNDLE_CORRUPT');
  });

  it('rejects bad magic and unknown versions', () => {
    expect(codeOf(enc.encode('PK\u0003\u0004 a zip file, not a bundle........................................'))).toBe(
      'DL_ERR_BUNDLE_BAD_MAGIC',
    );
    expect(codeOf(wrap(Uint8Array.of(0xc0), { version: 3 }))).toBe('DL_ERR_BUNDLE_UNSUPPORTED_VERSION');
  });

  it('refuses giant declared lengths before inflating, and lying ones while inflating', () => {
    expect(codeOf(wrap(Uint8Array.of(0xc0), { declared: 1n << 60n }))).toBe('DL_ERR_BUNDLE_TOO_LARGE');
    expect(codeOf(wrap(Uint8Array.of(0xc0), { declared: (1n << 64n) - 1n }))).toBe('DL_ERR_BUNDLE_TOO_LARGE');
    expect(codeOf(wrap(new Uint8Array(1000), { declared: 10n }))).toBe('DL_ERR_BUNDLE_CORRUPT');
    expect(codeOf(wrap(new Uint8Array(10), { declared: 1000n }))).toBe('DL_ERR_BUNDLE_CORRUPT');
  });

  it('stops a decompression bomb at the configured cap', () => {
    // 16 MiB of zeros compresses to a few bytes; declared honestly it is over a 1 MiB cap, and
    // declared as 1 MiB it is cut off after 1 MiB of output.
    const bomb = new Uint8Array(16 * 2 ** 20);
    const honest = wrap(bomb);
    expect(honest.length).toBeLessThan(1000);
    expect(codeOf(honest, 2 ** 20)).toBe('DL_ERR_BUNDLE_TOO_LARGE');
    expect(codeOf(wrap(bomb, { declared: BigInt(2 ** 20) }), 2 ** 20)).toBe('DL_ERR_BUNDLE_CORRUPT');
  });

  it('hostile payloads with a valid hash give CORRUPT or SCHEMA, never a crash', () => {
    const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
    expect(codeOf(wrap(hex('c1c1')))).toBe('DL_ERR_BUNDLE_CORRUPT');
    expect(codeOf(wrap(hex('ddffffffff')))).toBe('DL_ERR_BUNDLE_CORRUPT');
    expect(codeOf(wrap(hex('c6fffffff0' + '00')))).toBe('DL_ERR_BUNDLE_CORRUPT');
    expect(codeOf(wrap(hex('91'.repeat(100_000) + 'c0')))).toBe('DL_ERR_BUNDLE_CORRUPT');
    expect(codeOf(wrap(packr.pack({ manifest: 1 })))).toBe('DL_ERR_BUNDLE_SCHEMA');
    expect(codeOf(wrap(packr.pack([1, 2, 3, 4, 5, 6, 7])))).toBe('DL_ERR_BUNDLE_SCHEMA');
    const good = packr.unpack(decodeInner(encodeBundle(makeBundle()))) as unknown[];
    const variants: [number, unknown][] = [
      [0, Uint8Array.of(0x90)],
      [1, 'not bytes'],
      [
        3,
        [
          ['/b', Uint8Array.of(1)],
          ['/a', Uint8Array.of(2)],
        ],
      ],
      [3, [['relative', Uint8Array.of(1)]]],
      [4, [[1, 0, 'x', [], null, [], 5n, null]]],
      [4, packr.pack([1, 0, 'x', [], null, [], 5, null])],
      [4, packr.pack([1, 1, 'x', [], null, [], 5n, null])],
      [4, Uint8Array.of(0x91)],
      [5, [1, 'exploded']],
      [6, new Uint8Array(31)],
    ];
    for (const [i, v] of variants) {
      const p = [...good];
      p[i] = v;
      expect(codeOf(wrap(packr.pack(p))), `field ${i}`).toBe('DL_ERR_BUNDLE_SCHEMA');
    }
    const r = [...(good[5] as unknown[])];
    r[1] = 'won';
    expect(codeOf(wrap(packr.pack([...good.slice(0, 5), r, good[6]])))).toBe('DL_ERR_BUNDLE_SCHEMA');
  });

  it('random mutations of a valid payload never escape as uncoded errors (property)', () => {
    const good = decodeInner(encodeBundle(makeBundle()));
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        const p = good.slice();
        p[pos % p.length] ^= x;
        const code = codeOf(wrap(p));
        expect(code === 'ok' || code === 'verify-failed' || code.startsWith('DL_ERR_BUNDLE_'), code).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('verifyBundle names what does not match', () => {
    const src = makeBundle();
    const problems = (mut: (b: ReturnType<typeof decodeBundle>) => void): string[] => {
      const b = decodeBundle(encodeBundle(src));
      mut(b);
      return verifyBundle(b).problems.map((p) => p.code);
    };
    expect(problems((b) => (b.witness[0].writes[0].bytes[0] ^= 1))).toEqual([
      'DL_ERR_BUNDLE_WITNESS_ROOT_MISMATCH',
      'DL_ERR_BUNDLE_RESULT_HASH_MISMATCH',
    ]);
    expect(problems((b) => b.witness.pop())).toContain('DL_ERR_BUNDLE_WITNESS_COUNT_MISMATCH');
    expect(problems((b) => (b.module = Uint8Array.of(0)))).toEqual([
      'DL_ERR_BUNDLE_MODULE_HASH_MISMATCH',
      'DL_ERR_BUNDLE_RESULT_HASH_MISMATCH',
    ]);
    expect(problems((b) => (b.stdin = Uint8Array.of(0)))).toEqual([
      'DL_ERR_BUNDLE_INPUT_HASH_MISMATCH',
      'DL_ERR_BUNDLE_RESULT_HASH_MISMATCH',
    ]);
    expect(problems((b) => (b.result.exitCode = 1))).toEqual(['DL_ERR_BUNDLE_RESULT_HASH_MISMATCH']);
    expect(problems((b) => b.inputs.set('/input/y.txt', Uint8Array.of(1)))).toContain('DL_ERR_BUNDLE_INPUTS_MISMATCH');
    expect(problems((b) => (b.result.fuelUsed = 2_000_000n))).toContain('DL_ERR_BUNDLE_FUEL_OVER_LIMIT');
    expect(problems((b) => (b.witness[1] = { ...b.witness[1], index: 7 }))).toContain('DL_ERR_BUNDLE_WITNESS_INVALID');
  });
});

/** The uncompressed payload of a bundle (test helper, trusts the bundle). */
function decodeInner(bundle: Uint8Array): Uint8Array {
  const { brotliDecompressSync } = process.getBuiltinModule('node:zlib');
  return new Uint8Array(brotliDecompressSync(bundle.subarray(BUNDLE_HEADER_BYTES)));
}

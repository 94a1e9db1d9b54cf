/**
 * The canonical reader refuses MessagePack extension types, which docklock never writes and
 * msgpackr would otherwise turn into references, typed arrays, BigInts, Sets, Dates, … while
 * the witness's own reader refuses them: the two must read the same bytes the same way.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { assertNoExtensions, canonicalPackr } from '../../runtime/msgpack.ts';
import { decodeEntries, encodeEntries } from '../../runtime/witness/encoding.ts';
import { witnessLogFromEncoded } from '../../runtime/witness/decode-log.ts';

const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.string(),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('v'), { maxLength: 20 }),
  ),
})).v;

/** Every ext form, with a payload of bytes that are themselves ext markers. */
const EXTENSIONS: [string, Uint8Array][] = [
  ['fixext 1', Uint8Array.of(0xd4, 0x42, 0xd4)],
  ['fixext 2', Uint8Array.of(0xd5, 0x69, 0x00, 0x00)],
  ['fixext 4', Uint8Array.of(0xd6, 0xff, 0, 0, 0, 0)],
  ['fixext 8', Uint8Array.of(0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0)],
  ['fixext 16', Uint8Array.of(0xd8, 0x74, ...new Uint8Array(16))],
  ['ext 8', Uint8Array.of(0xc7, 2, 0x74, 0x01, 0x07)],
  ['ext 16', Uint8Array.of(0xc8, 0, 1, 0x62, 0)],
  ['ext 32', Uint8Array.of(0xc9, 0, 0, 0, 1, 0x78, 0)],
];

describe('canonical MessagePack reading', () => {
  it('reads back everything the canonical encoder writes, one value or several (property)', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (values) => {
        const parts = values.map((v) => canonicalPackr.pack(v));
        const all = Uint8Array.from(parts.flatMap((p) => [...p]));
        expect(() => assertNoExtensions(all)).not.toThrow();
        // Read back, each value packs to the same bytes again.
        const back = canonicalPackr.unpackMultiple(all).map((v) => [...canonicalPackr.pack(v)]);
        expect(back).toEqual(parts.map((p) => [...p]));
      }),
      { numRuns: 300 },
    );
  });

  it.each(EXTENSIONS)('refuses %s, alone and nested, and only where it is a value', (_name, ext) => {
    // msgpackr itself reads some of them (the control: the check can fail).
    const plain = new Packr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' });
    const inArray = Uint8Array.of(0x93, 0x01, ...ext, 0xc0);
    for (const bytes of [ext, inArray, Uint8Array.of(0x81, 0xa1, 0x6b, ...ext)])
      expect(() => canonicalPackr.unpack(bytes)).toThrow(/extension type at byte/);
    expect(() => canonicalPackr.unpackMultiple(Uint8Array.of(0x01, ...ext))).toThrow(/extension type at byte 1/);
    // The same bytes inside a string or a binary are data, not markers.
    const text = new TextDecoder('latin1').decode(ext);
    const [bin, str] = canonicalPackr.unpack(canonicalPackr.pack([ext, text])) as [Uint8Array, string];
    expect([...bin]).toEqual([...ext]);
    expect(str).toBe(text);
    if (ext[1] === 0x42 || ext[1] === 0x74) expect(() => plain.unpack(ext)).not.toThrow();
  });

  it('a witness whose write pointer became a reference extension is refused by both readers (regression)', () => {
    // Found by witness-decode-log.test.ts's property (seed 1385583708): one byte of a witness,
    // uint32 0xce turned into fixext 2 0xd5 with type 0x69, made msgpackr read the next value
    // in its place, and the witness decoded to a write at pointer 0 that its bytes do not hold.
    const entries = [
      {
        index: 0,
        name: 'wasi_snapshot_preview1.random_get',
        args: [65536, 8],
        result: 0n,
        writes: [{ ptr: 1761882368, bytes: new Uint8Array(8) }],
        fuel: 0n,
      },
    ];
    const bytes = encodeEntries(entries).slice();
    const at = bytes.findIndex((b, i) => b === 0xce && bytes[i + 1] === 0x69);
    expect(at).toBeGreaterThan(0);
    bytes[at] = 0xd5;
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
        return undefined;
      } catch (e) {
        return (e as { code?: string }).code;
      }
    };
    expect(codeOf(() => decodeEntries(bytes))).toMatch(/^DL_ERR_WITNESS_/);
    expect(codeOf(() => witnessLogFromEncoded(bytes).entries())).toMatch(/^DL_ERR_WITNESS_/);
  });
});

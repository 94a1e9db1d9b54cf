import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/errors.ts';
import type { WitnessEntry } from '../../runtime/witness/entry.ts';
import { arbEntry } from './fixtures.ts';
import {
  decodeEntries,
  decodeEntry,
  encodeEntries,
  encodeEntry,
  entryTuple,
  EntryEncoder,
  WITNESS_ENTRY_VERSION,
  witnessPackr,
} from '../../runtime/witness/encoding.ts';

/** Object.is keeps -0 apart from 0, which MessagePack's integer formats do not. */
const normalise = (e: WitnessEntry): WitnessEntry => ({
  ...e,
  args: e.args.map((a) => (Object.is(a, -0) ? 0 : a)),
  result: Object.is(e.result, -0) ? 0 : e.result,
});

describe('witness entry encoding', () => {
  it('round-trips every entry, keeping number and bigint apart (property)', () => {
    fc.assert(
      fc.property(arbEntry, (e) => {
        const d = decodeEntry(encodeEntry(e));
        expect(d).toEqual(normalise(e));
        d.args.forEach((a, i) => expect(typeof a).toBe(typeof e.args[i]));
        expect(typeof d.result).toBe(typeof e.result);
      }),
      { numRuns: 300 },
    );
  });

  it('the fast encoder emits exactly msgpackr bytes for the fixed-order tuple (property)', () => {
    const enc = new EntryEncoder();
    fc.assert(
      fc.property(arbEntry, (e) => {
        const expected = Buffer.from(witnessPackr.pack(entryTuple(e))).toString('hex');
        expect(Buffer.from(enc.encode(e, false)).toString('hex')).toBe(expected);
        expect(Buffer.from(enc.encode(e, true)).toString('hex')).toBe('00' + expected);
      }),
      { numRuns: 300 },
    );
  });

  it('i32 5 and i64 5n encode differently', () => {
    const base = { index: 0, name: 'x', result: null, writes: [], fuel: 0n };
    const a = encodeEntry({ ...base, args: [5] });
    const b = encodeEntry({ ...base, args: [5n] });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(decodeEntry(b).args[0]).toBe(5n);
  });

  it('starts with a fixed array of 8 and the version tag', () => {
    const b = encodeEntry({ index: 0, name: 'x', args: [], result: null, writes: [], fuel: 0n });
    expect(b[0]).toBe(0x98);
    expect(b[1]).toBe(WITNESS_ENTRY_VERSION);
  });

  it('rejects impossible values at encode time', () => {
    const base = { index: 0, name: 'x', args: [], result: null, writes: [], fuel: 0n };
    expect(() => encodeEntry({ ...base, fuel: -1n })).toThrow(RangeError);
    expect(() => encodeEntry({ ...base, args: [1n << 64n] })).toThrow(RangeError);
    expect(() => encodeEntry({ ...base, index: -1 })).toThrow(RangeError);
    expect(() => encodeEntry({ ...base, args: ['1' as unknown as number] })).toThrow(TypeError);
  });

  const codeOf = (bytes: Uint8Array): string => {
    try {
      decodeEntry(bytes);
      return 'ok';
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      return (e as InputError).code;
    }
  };

  it('decoding hostile bytes gives coded InputErrors', () => {
    const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
    expect(codeOf(new Uint8Array(0))).toBe('DL_ERR_WITNESS_MALFORMED');
    // msgpackr reads the never-used 0xc1 as undefined: a schema error, not a parse error.
    expect(codeOf(hex('c1'))).toBe('DL_ERR_WITNESS_SCHEMA');
    expect(codeOf(hex('ddffffffff'))).toBe('DL_ERR_WITNESS_MALFORMED');
    expect(codeOf(hex('c6ffffffff00'))).toBe('DL_ERR_WITNESS_MALFORMED');
    expect(codeOf(hex('91'.repeat(200_000) + 'c0'))).toBe('DL_ERR_WITNESS_MALFORMED');
    expect(codeOf(hex('9802'))).toBe('DL_ERR_WITNESS_MALFORMED');
    expect(codeOf(witnessPackr.pack([2, 0, 'x', [], null, [], 0n, null]))).toBe('DL_ERR_WITNESS_VERSION');
    expect(codeOf(witnessPackr.pack({ a: 1 }))).toBe('DL_ERR_WITNESS_SCHEMA');
    expect(codeOf(witnessPackr.pack([1, 0, 'x', [], null, [], 0, null]))).toBe('DL_ERR_WITNESS_SCHEMA');
    expect(codeOf(witnessPackr.pack([1, 0, 'x', ['s'], null, [], 0n, null]))).toBe('DL_ERR_WITNESS_SCHEMA');
    expect(codeOf(witnessPackr.pack([1, 0, 'x', [], null, [[1]], 0n, null]))).toBe('DL_ERR_WITNESS_SCHEMA');
    expect(codeOf(witnessPackr.pack([1, -1, 'x', [], null, [], 0n, null]))).toBe('DL_ERR_WITNESS_SCHEMA');
    expect(codeOf(witnessPackr.pack([1, 0, 'x', [], null, [], 0n, null, 7]))).toBe('DL_ERR_WITNESS_SCHEMA');
    const err = (() => {
      try {
        decodeEntry(witnessPackr.pack([1, 0, 7, [], null, [], 0n, null]), 12);
      } catch (e) {
        return e as InputError;
      }
    })();
    expect(err?.where).toEqual({ entry: 12, field: 'name' });
  });

  it('random bytes and mutated encodings never crash the decoder (property)', () => {
    fc.assert(
      fc.property(
        arbEntry,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.uint8Array({ maxLength: 64 }),
        (e, pos, x, junk) => {
          const b = encodeEntry(e).slice();
          b[pos % b.length] ^= x;
          const code = codeOf(b);
          expect(code === 'ok' || code.startsWith('DL_ERR_WITNESS_')).toBe(true);
          const j = codeOf(junk);
          expect(j === 'ok' || j.startsWith('DL_ERR_WITNESS_')).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('witness entry sequences', () => {
  it('encodeEntries is the concatenation of encodeEntry, and decodeEntries reads it back (property)', () => {
    fc.assert(
      fc.property(fc.array(arbEntry, { maxLength: 12 }), (list) => {
        const entries = list.map((e, i) => normalise({ ...e, index: i }));
        const blob = encodeEntries(entries);
        expect(Buffer.from(blob).toString('hex')).toBe(
          entries.map((e) => Buffer.from(encodeEntry(e)).toString('hex')).join(''),
        );
        expect(decodeEntries(blob)).toEqual(entries);
      }),
      { numRuns: 150 },
    );
  });

  it('rejects truncated sequences and out-of-place indices with coded errors', () => {
    const base = { name: 'x', args: [], result: null, writes: [], fuel: 0n };
    const blob = encodeEntries([
      { ...base, index: 0 },
      { ...base, index: 1 },
    ]);
    expect(decodeEntries(new Uint8Array(0))).toEqual([]);
    expect(() => decodeEntries(blob.subarray(0, blob.length - 1))).toThrow(
      expect.objectContaining({ code: 'DL_ERR_WITNESS_MALFORMED' }),
    );
    expect(() => decodeEntries(encodeEntries([{ ...base, index: 1 }]))).toThrow(
      expect.objectContaining({ code: 'DL_ERR_WITNESS_SCHEMA', where: { entry: 0, field: 'index' } }),
    );
  });

  it('rejects more arguments or names than a witness log holds, and accepts the limits', () => {
    const base = { name: 'x', result: null, writes: [], fuel: 0n };
    expect(
      decodeEntries(encodeEntries([{ ...base, index: 0, args: new Array<number>(255).fill(1) }]))[0].args,
    ).toHaveLength(255);
    expect(() => decodeEntries(encodeEntries([{ ...base, index: 0, args: new Array<number>(256).fill(1) }]))).toThrow(
      expect.objectContaining({ code: 'DL_ERR_WITNESS_SCHEMA', where: { entry: 0, field: 'args' } }),
    );
    const named = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ ...base, index: i, args: [], name: `m.f${i}` }));
    expect(decodeEntries(encodeEntries(named(65_536)))).toHaveLength(65_536);
    expect(() => decodeEntries(encodeEntries(named(65_537)))).toThrow(
      expect.objectContaining({ code: 'DL_ERR_WITNESS_SCHEMA', where: { entry: 65_536, field: 'name' } }),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../runtime/hash.ts';
import { decodeEntries, encodeEntries, witnessPackr } from '../../runtime/witness/encoding.ts';
import { witnessLogFromEncoded } from '../../runtime/witness/decode-log.ts';
import { commitEntries } from '../../runtime/witness/log.ts';
import { arbEntry } from './fixtures.ts';

/** What each reader makes of the bytes: the entries, or the error code. */
function both(bytes: Uint8Array): { ours: unknown; theirs: unknown } {
  const run = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (e) {
      return { error: (e as { code?: string }).code ?? String(e) };
    }
  };
  return { ours: run(() => witnessLogFromEncoded(bytes).entries()), theirs: run(() => decodeEntries(bytes)) };
}

const indexed = fc.array(arbEntry, { maxLength: 25 }).map((list) => list.map((e, i) => ({ ...e, index: i })));

describe('witnessLogFromEncoded', () => {
  it('reads what decodeEntries reads, entry for entry, with the same root (property)', () => {
    fc.assert(
      fc.property(indexed, (entries) => {
        const bytes = encodeEntries(entries);
        const log = witnessLogFromEncoded(bytes);
        expect(log.entries()).toEqual(decodeEntries(bytes));
        expect(toHex(log.finalize().root)).toBe(toHex(commitEntries(entries).root));
      }),
      { numRuns: 150 },
    );
  });

  it('accepts and rejects exactly what decodeEntries does, on mutated and truncated witnesses (property)', () => {
    fc.assert(
      fc.property(
        indexed,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (entries, flips, cut) => {
          const bytes = encodeEntries(entries).slice();
          if (bytes.length === 0) return;
          for (const [at, v] of flips) bytes[at % bytes.length] = v;
          for (const b of [bytes, bytes.subarray(0, cut % (bytes.length + 1))]) {
            const { ours, theirs } = both(b);
            const accepted = (x: unknown): boolean => Array.isArray(x);
            expect(
              accepted(ours),
              `ours ${JSON.stringify(ours, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)).slice(0, 200)} theirs ${JSON.stringify(theirs, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)).slice(0, 200)}`,
            ).toBe(accepted(theirs));
            if (accepted(ours)) expect(ours).toEqual(theirs);
            else expect((ours as { error: string }).error).toMatch(/^DL_ERR_WITNESS_/);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads every number form msgpackr reads, and rejects other types in numeric fields', () => {
    const tuple = (args: unknown[], fuel: unknown = 5n) => witnessPackr.pack([1, 0, 'm.f', args, null, [], fuel, null]);
    expect(witnessLogFromEncoded(witnessPackr.pack([1, 0, 'm.f', [], null, [], 5n, null])).entries()[0]).toMatchObject({
      name: 'm.f',
      fuel: 5n,
    });
    // Hand-made forms msgpackr never writes but reads: int8 / int16 holding positives, float32;
    // then float64, int64 and uint64.
    const hand = Uint8Array.of(
      0x98,
      0x01,
      0x00,
      0xa3,
      0x6d,
      0x2e,
      0x66,
      0x96,
      0xd0,
      0x05,
      0xd1,
      0x00,
      0x07,
      0xca,
      0x3d,
      0xcc,
      0xcc,
      0xcd,
      0xcb,
      0x3f,
      0xb9,
      0x99,
      0x99,
      0x99,
      0x99,
      0x99,
      0x9a,
      0xd3,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xfe,
      0xcf,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xc0,
      0x90,
      0xd3,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      9,
      0xc0,
    );
    const { ours, theirs } = both(hand);
    expect(ours).toEqual(theirs);
    expect((ours as { args: unknown[] }[])[0].args).toEqual([5, 7, Math.fround(0.1), 0.1, -2n, (1n << 64n) - 1n]);
    for (const bad of [tuple(['s']), tuple([null]), tuple([], 5), tuple([], -1n), tuple([true])]) {
      const r = both(bad);
      expect(r.ours).toEqual(r.theirs);
      expect(r.ours).toMatchObject({ error: 'DL_ERR_WITNESS_SCHEMA' });
    }
  });
});

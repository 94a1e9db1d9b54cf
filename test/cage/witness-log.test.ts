import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../runtime/hash.ts';
import { encodeEntries, encodeEntry } from '../../runtime/witness/encoding.ts';
import { commitEntries, WitnessLog } from '../../runtime/witness/log.ts';
import { inclusionProof, leafHash, merkleRoot, verifyInclusion } from '../../runtime/witness/merkle.ts';
import { arbEntry } from './fixtures.ts';

const call = (i: number, bytes: Uint8Array) => ({
  name: 'wasi_snapshot_preview1.random_get',
  args: [1024, bytes.length],
  result: 0,
  writes: [{ ptr: 1024, bytes }],
  fuel: BigInt(i) * 100n,
});

describe('WitnessLog', () => {
  it('numbers entries from 0 and returns them', () => {
    const log = new WitnessLog();
    expect(log.append(call(0, Uint8Array.of(1)))).toBe(0);
    expect(log.append({ ...call(1, Uint8Array.of(2)), data: Uint8Array.of(9) })).toBe(1);
    expect(log.length).toBe(2);
    expect(log.entry(1).index).toBe(1);
    expect(log.entry(1).data).toEqual(Uint8Array.of(9));
    expect(log.entries().map((e) => e.index)).toEqual([0, 1]);
    expect(() => log.entry(2)).toThrow(RangeError);
  });

  it('copies written bytes, so later changes to guest memory do not alter the record', () => {
    const memory = new Uint8Array(64).fill(7);
    const log = new WitnessLog();
    for (let i = 0; i < 3000; i++) log.append(call(i, memory.subarray(8, 16)));
    const before = toHex(log.finalize().root);
    memory.fill(0);
    expect(toHex(log.entry(2999).writes[0].bytes)).toBe('0707070707070707');
    expect(toHex(log.finalize().root)).toBe(before);
  });

  it('finalize equals the Merkle root over encoded entries, with valid inclusion proofs (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 40 }), (writes) => {
        const log = new WitnessLog();
        writes.forEach((w, i) => log.append(call(i, w)));
        const { root, leaves } = log.finalize();
        const encoded = log.entries().map(encodeEntry);
        expect(toHex(root)).toBe(toHex(merkleRoot(encoded)));
        expect(leaves.map(toHex)).toEqual(encoded.map((b) => toHex(leafHash(b))));
        leaves.forEach((_, i) => expect(verifyInclusion(inclusionProof(leaves, i), root)).toBe(true));
      }),
      { numRuns: 80 },
    );
  });

  it('empty log has root H("")', () => {
    expect(toHex(new WitnessLog().finalize().root)).toBe(
      'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262',
    );
  });

  it('commitEntries rejects entries out of position', () => {
    const log = new WitnessLog();
    log.append(call(0, Uint8Array.of(1)));
    expect(() => commitEntries([{ ...log.entry(0), index: 3 }])).toThrow(RangeError);
  });

  it('a different byte, argument type or order changes the root', () => {
    const mk = (f: (log: WitnessLog) => void): string => {
      const log = new WitnessLog();
      f(log);
      return toHex(log.finalize().root);
    };
    const base = mk((l) => [0, 1].forEach((i) => l.append(call(i, Uint8Array.of(i)))));
    expect(mk((l) => [1, 0].forEach((i) => l.append(call(i, Uint8Array.of(i)))))).not.toBe(base);
    expect(mk((l) => [0, 1].forEach((i) => l.append({ ...call(i, Uint8Array.of(i)), args: [1024n, 1] })))).not.toBe(
      base,
    );
  });

  it('stores arbitrary entries exactly, and finalize (from columns) equals commitEntries (property)', () => {
    fc.assert(
      fc.property(fc.array(arbEntry, { maxLength: 150 }), (list) => {
        const log = new WitnessLog();
        const expected = list.map((e, i) => {
          const { index: _, ...rest } = e;
          expect(log.append(rest)).toBe(i);
          return { ...e, index: i };
        });
        expect(log.entries()).toEqual(expected);
        expect(toHex(log.finalize().root)).toBe(toHex(commitEntries(expected).root));
        expect(toHex(log.finalize().root)).toBe(toHex(merkleRoot(expected.map(encodeEntry))));
      }),
      { numRuns: 60 },
    );
  });

  it('keeps many entries and bytes across arena and column growth, including big writes', () => {
    const log = new WitnessLog();
    const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
    for (let i = 0; i < 20_000; i++)
      log.append(call(i, i % 5000 === 0 ? big : Uint8Array.of(i & 0xff, i >> 8, 1, 2, 3, 4, 5, 6)));
    expect(log.length).toBe(20_000);
    expect(log.entry(5000).writes[0].bytes).toEqual(big);
    expect([...log.entry(12_345).writes[0].bytes]).toEqual([12_345 & 0xff, 12_345 >> 8, 1, 2, 3, 4, 5, 6]);
    expect(log.entry(19_999).fuel).toBe(1_999_900n);
    expect(toHex(log.finalize().root)).toBe(toHex(commitEntries(log.entries()).root));
  });

  it('rejects impossible values at append and leaves the log unchanged', () => {
    const log = new WitnessLog();
    log.append(call(0, Uint8Array.of(1)));
    const before = toHex(log.finalize().root);
    expect(() => log.append({ ...call(1, Uint8Array.of(1)), fuel: -1n })).toThrow(RangeError);
    expect(() => log.append({ ...call(1, Uint8Array.of(1)), args: [1, 1n << 64n] })).toThrow(RangeError);
    expect(() => log.append({ ...call(1, Uint8Array.of(1)), result: 'x' as unknown as number })).toThrow(TypeError);
    expect(() => log.append({ ...call(1, Uint8Array.of(1)), writes: [{ ptr: -4, bytes: Uint8Array.of(1) }] })).toThrow(
      RangeError,
    );
    expect(log.length).toBe(1);
    log.append(call(1, Uint8Array.of(2)));
    expect(log.entry(1).args).toEqual([1024, 1]);
    const again = new WitnessLog();
    again.append(call(0, Uint8Array.of(1)));
    again.append(call(1, Uint8Array.of(2)));
    expect(toHex(log.finalize().root)).toBe(toHex(again.finalize().root));
    expect(before).not.toBe(toHex(log.finalize().root));
  });
});

describe('WitnessLog.appendCall (the host-call fast path)', () => {
  const words = (fuel: bigint): [number, number] => [Number(fuel & 0xffff_ffffn), Number(fuel >> 32n)];

  it('stores exactly what append stores: same entries, leaves and root (property)', () => {
    fc.assert(
      fc.property(fc.array(arbEntry, { maxLength: 120 }), (list) => {
        const generic = new WitnessLog();
        const fast = new WitnessLog();
        for (const { index: _, ...e } of list) {
          generic.append(e);
          const [lo, hi] = words(e.fuel);
          // A longer argument array than the arity: only the first `arity` values are recorded.
          fast.appendCall(fast.intern(e.name), [...e.args, 99], e.args.length, e.result, lo, hi, e.writes, e.data);
        }
        expect(fast.entries()).toEqual(generic.entries());
        const a = fast.finalize();
        const b = generic.finalize();
        expect(toHex(a.root)).toBe(toHex(b.root));
        expect(a.leaves.map(toHex)).toEqual(b.leaves.map(toHex));
        expect(toHex(a.root)).toBe(toHex(commitEntries(generic.entries()).root));
      }),
      { numRuns: 60 },
    );
  });

  it('keeps entries exact across chunks, long records and many names, in any access order', () => {
    const log = new WitnessLog();
    const big = new Uint8Array(1_100_000).map((_, i) => (i * 7) & 0xff); // longer than a chunk
    const expected = [];
    for (let i = 0; i < 30_000; i++) {
      const name = `m.f${i % 300}`; // past 255 names: the escaped name id form
      const bytes = i % 15_000 === 7 ? big : Uint8Array.of(i & 0xff, i >> 8, i >> 16);
      const fuel = BigInt(i) * 0x1_0000_0001n;
      const e = {
        name,
        args: [i, -i, i / 3, BigInt(-i)],
        result: i % 3 === 0 ? null : BigInt(i) << 40n,
        writes: [{ ptr: i, bytes }],
        fuel,
      };
      const [lo, hi] = words(fuel);
      expect(log.appendCall(log.intern(name), e.args, e.args.length, e.result, lo, hi, e.writes, undefined)).toBe(i);
      expected.push({ index: i, ...e });
    }
    // Random access before sequential: the record index is built on demand.
    for (const i of [29_999, 15_007, 0, 7, 12_345]) expect(log.entry(i)).toEqual(expected[i]);
    expect(log.entries()).toEqual(expected);
    expect(toHex(log.finalize().root)).toBe(toHex(commitEntries(expected).root));
  });

  it('rejects an unknown name id, bad fuel words and bad values, and leaves the log unchanged', () => {
    const log = new WitnessLog();
    const id = log.intern('wasi_snapshot_preview1.random_get');
    const w = [{ ptr: 8, bytes: Uint8Array.of(1) }];
    log.appendCall(id, [8, 1], 2, 0, 5, 0, w, undefined);
    const before = toHex(log.finalize().root);
    expect(() => log.appendCall(id + 1, [8, 1], 2, 0, 5, 0, w, undefined)).toThrow(RangeError);
    expect(() => log.appendCall(id, [8, 1], 2, 0, -1, 0, w, undefined)).toThrow(RangeError);
    expect(() => log.appendCall(id, [8, 1], 2, 0, 0, 2 ** 32, w, undefined)).toThrow(RangeError);
    expect(() => log.appendCall(id, [8, 1n << 64n], 2, 0, 5, 0, w, undefined)).toThrow(RangeError);
    expect(() => log.appendCall(id, [8, 1], 2, 'x' as unknown as number, 5, 0, w, undefined)).toThrow(TypeError);
    expect(() =>
      log.appendCall(id, [8, 1], 2, 0, 5, 0, [{ ptr: 2 ** 32, bytes: Uint8Array.of(1) }], undefined),
    ).toThrow(RangeError);
    // A failing append that needed a fresh chunk must not leave an empty one behind.
    expect(() =>
      log.appendCall(
        id,
        [8, 'x' as unknown as number],
        2,
        0,
        5,
        0,
        [{ ptr: 0, bytes: new Uint8Array(10_000) }],
        undefined,
      ),
    ).toThrow(TypeError);
    expect(log.length).toBe(1);
    expect(toHex(log.finalize().root)).toBe(before);
    log.appendCall(id, [9, 1], 2, 0, 6, 0, w, undefined);
    expect(log.entries().map((e) => e.args)).toEqual([
      [8, 1],
      [9, 1],
    ]);
    expect(toHex(log.finalize().root)).toBe(toHex(commitEntries(log.entries()).root));
  });

  it('gives back -0 exactly, while encoding it as MessagePack does (as 0)', () => {
    const log = new WitnessLog();
    log.append({ name: 'm.f', args: [-0, 0], result: -0, writes: [], fuel: 1n });
    expect(Object.is(log.entry(0).args[0], -0)).toBe(true);
    expect(Object.is(log.entry(0).args[1], 0)).toBe(true);
    expect(Object.is(log.entry(0).result, -0)).toBe(true);
    expect(toHex(log.finalize().root)).toBe(
      toHex(merkleRoot([encodeEntry({ index: 0, name: 'm.f', args: [0, 0], result: 0, writes: [], fuel: 1n })])),
    );
  });
});

describe('WitnessLog.finalize({ encode: true })', () => {
  it('gives exactly the bytes encodeEntries gives for the entries, with the same root (property)', () => {
    fc.assert(
      fc.property(fc.array(arbEntry, { maxLength: 60 }), (list) => {
        const log = new WitnessLog();
        for (const { index: _, ...e } of list) log.append(e);
        const c = log.finalize({ encode: true });
        expect(toHex(c.encoded!)).toBe(toHex(encodeEntries(log.entries())));
        expect(toHex(c.root)).toBe(toHex(log.finalize().root));
        expect(log.finalize().encoded).toBeUndefined();
      }),
      { numRuns: 60 },
    );
  });
});

describe('WitnessLog raw-word appends, comparison and release', () => {
  const I32 = 0x7f;
  const I64 = 0x7e;
  const arg = fc.oneof(
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) => [I32, v] as const),
    fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((v) => [I64, v] as const),
  );
  const call = fc.record({
    args: fc.array(arg, { maxLength: 15 }),
    result: fc.oneof(
      fc.constant(null),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.double(),
    ),
    writes: fc.array(fc.record({ ptr: fc.nat({ max: 2 ** 32 - 1 }), bytes: fc.uint8Array({ maxLength: 9000 }) }), {
      maxLength: 4,
    }),
    fuel: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    data: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined, freq: 5 }),
  });

  it('appendRaw stores exactly what appendCall stores, across chunk ends (property)', () => {
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 150 }), (calls) => {
        const raw = new WitnessLog();
        const viaValues = new WitnessLog();
        const src = new Int32Array(2 + 30);
        for (const c of calls) {
          const params = c.args.map(([t]) => t);
          const id = raw.intern(`m.f${params.join('_')}`);
          let w = 2;
          for (const [t, v] of c.args) {
            if (t === I32) src[w++] = v as number;
            else {
              src[w++] = Number(BigInt.asUintN(32, v as bigint)) | 0;
              src[w++] = Number(BigInt.asUintN(32, (v as bigint) >> 32n)) | 0;
            }
          }
          const lo = Number(c.fuel & 0xffff_ffffn);
          const hi = Number(c.fuel >> 32n);
          viaValues.appendCall(
            viaValues.intern(`m.f${params.join('_')}`),
            c.args.map(([, v]) => v),
            c.args.length,
            c.result,
            lo,
            hi,
            c.writes,
            c.data,
          );
          const i = raw.appendRaw(raw.rawShape(id, params, 2), src, c.result, lo, hi, c.writes, c.data);
          // As a replay compares: the entry just appended, against the recording.
          expect(raw.sameEntry(i, viaValues)).toBe(true);
        }
        expect(raw.entries()).toEqual(viaValues.entries());
        expect(toHex(raw.finalize().root)).toBe(toHex(viaValues.finalize().root));
        for (let i = 0; i < calls.length; i++) expect(raw.sameEntry(i, viaValues)).toBe(true);
        // Out of order too (the cursor falls back to the record index), and against a different log.
        const other = WitnessLog.from(viaValues.entries().map((e) => ({ ...e, fuel: e.fuel ^ 1n })));
        for (const i of [calls.length - 1, 0, Math.floor(calls.length / 2), calls.length - 1]) {
          expect(viaValues.sameEntry(i, raw)).toBe(true);
          expect(raw.sameEntry(i, other)).toBe(false);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('rejects a shape of another log and impossible types', () => {
    const a = new WitnessLog();
    const b = new WitnessLog();
    const shape = a.rawShape(a.intern('m.f'), [I32], 0);
    b.intern('m.f');
    expect(() => b.appendRaw(shape, Int32Array.of(1), 0, 0, 0, [], undefined)).toThrow(RangeError);
    expect(() => a.rawShape(0, [0x7c], 0)).toThrow(RangeError);
    expect(() => a.rawShape(5, [I32], 0)).toThrow(RangeError);
    expect(b.length).toBe(0);
  });

  it('sameEntry compares what the leaf hash covers: names by text, -0 as 0, types, bytes and data', () => {
    const entry = {
      name: 'm.f',
      args: [1, 2n],
      result: 0,
      writes: [{ ptr: 4, bytes: Uint8Array.of(9, 8, 7) }],
      fuel: 77n,
    };
    const a = new WitnessLog();
    a.intern('m.other'); // the same name gets a different id in each log
    a.append(entry);
    a.append({ ...entry, args: [-0, 2n] });
    const b = new WitnessLog();
    b.append(entry);
    b.append({ ...entry, args: [0, 2n] });
    expect(a.sameEntry(0, b)).toBe(true);
    expect(a.sameEntry(1, b)).toBe(true);
    const differs = (change: Partial<typeof entry> & { data?: Uint8Array }): boolean => {
      const c = new WitnessLog();
      c.append({ ...entry, ...change });
      return a.sameEntry(0, c);
    };
    expect(differs({ args: [1n, 2n] })).toBe(false);
    expect(differs({ args: [1, 3n] })).toBe(false);
    expect(differs({ result: 1 })).toBe(false);
    expect(differs({ writes: [{ ptr: 4, bytes: Uint8Array.of(9, 8, 6) }] })).toBe(false);
    expect(differs({ writes: [{ ptr: 5, bytes: Uint8Array.of(9, 8, 7) }] })).toBe(false);
    expect(differs({ fuel: 78n })).toBe(false);
    expect(differs({ name: 'm.g' })).toBe(false);
    expect(differs({ data: Uint8Array.of(1) })).toBe(false);
    expect(differs({})).toBe(true);
    expect(() => a.sameEntry(2, b)).toThrow(RangeError);
  });

  it('release gives the memory to the next log and keeps entries built before it intact', () => {
    const first = new WitnessLog();
    const id = first.intern('m.f');
    const bytes = new Uint8Array(64);
    for (let i = 0; i < 60_000; i++)
      first.appendCall(id, [i], 1, 0, i, 0, [{ ptr: 0, bytes: bytes.fill(i & 0xff) }], undefined);
    const root = toHex(first.finalize().root);
    const kept = first.entries();
    first.release();
    first.release();
    expect(() => first.entry(0)).not.toThrow(); // built before the release
    expect(() => first.finalize()).toThrow(/release/);
    expect(() => first.appendCall(id, [1], 1, 0, 1, 0, [], undefined)).toThrow(/release/);
    const second = new WitnessLog();
    const id2 = second.intern('m.f');
    for (let i = 0; i < 60_000; i++)
      second.appendCall(id2, [-i], 1, 1, i, 0, [{ ptr: 0, bytes: bytes.fill(0xee) }], undefined);
    expect(kept[59_999].writes[0].bytes.every((b) => b === (59_999 & 0xff))).toBe(true);
    expect(toHex(commitEntries(kept).root)).toBe(root);
    const unbuilt = new WitnessLog();
    unbuilt.append({ name: 'm.f', args: [], result: null, writes: [], fuel: 0n });
    unbuilt.release();
    expect(() => unbuilt.entries()).toThrow(/release/);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEscrowDb } from '../../escrow/db.ts';
import fc from 'fast-check';
import { decodeChange, encodeChange, valueHash } from '../../state/change-codec.ts';
import { SqliteStateStore, type StateWrite } from '../../state/store.ts';

const enc = new TextEncoder();
const k = (s: string): Uint8Array => enc.encode(s);
const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);
const put = (key: string, value: string | null): StateWrite => ({
  key: k(key),
  value: value === null ? null : k(value),
});

let dir: string;
let db: DatabaseSync;
let store: SqliteStateStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dl-state-'));
  db = openEscrowDb(dir);
  store = new SqliteStateStore(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('versioned challenge state', () => {
  it('a snapshot keeps seeing the values of its version after later commits', () => {
    expect(store.head('board')).toBe(0);
    expect(store.apply({ state: 'board', base: 0, reads: [], writes: [put('alice', '10'), put('bob', '7')] })).toEqual({
      applied: true,
      version: 1,
    });
    const v1 = store.head('board');
    expect(
      store.apply({ state: 'board', base: 1, reads: [{ key: k('alice'), version: 1 }], writes: [put('alice', '12')] }),
    ).toEqual({ applied: true, version: 2 });
    expect(text(store.get('board', k('alice'), v1).entry?.value)).toBe('10');
    expect(text(store.get('board', k('alice'), 2).entry?.value)).toBe('12');
    expect(store.get('board', k('carol'), 2)).toEqual({ entry: undefined, version: 0 });
    // Another state with the same keys is independent.
    expect(store.head('other')).toBe(0);
    expect(store.get('other', k('alice'), 5).entry).toBeUndefined();
  });

  it('a deletion hides the key from later snapshots and has a version of its own', () => {
    store.apply({ state: 's', base: 0, reads: [], writes: [put('a', '1'), put('b', '2'), put('c', '3')] });
    store.apply({ state: 's', base: 1, reads: [], writes: [put('b', null)] });
    expect(store.get('s', k('b'), 2)).toEqual({ entry: undefined, version: 2 });
    expect(text(store.get('s', k('b'), 1).entry?.value)).toBe('2');
    expect(store.scan('s', k(''), 10, 2).map((e) => text(e.key))).toEqual(['a', 'c']);
    expect(store.scan('s', k(''), 10, 1).map((e) => text(e.key))).toEqual(['a', 'b', 'c']);
  });

  it('scans in byte order from a start key, bounded', () => {
    const keys = ['b', 'a', 'ab', 'B', '\u00ff', 'aa'].sort();
    store.apply({
      state: 's',
      base: 0,
      reads: [],
      writes: keys.map((x) => put(x, x)).sort((p, q) => Buffer.compare(p.key, q.key)),
    });
    expect(store.scan('s', k('a'), 3, 1).map((e) => text(e.key))).toEqual(['a', 'aa', 'ab']);
    expect(store.scan('s', k('ab'), 10, 1).map((e) => text(e.key))).toEqual(['ab', 'b', '\u00ff']);
    expect(store.scan('s', k(''), 0, 1)).toEqual([]);
    expect(() => store.scan('s', k(''), 1025, 1)).toThrow(expect.objectContaining({ code: 'DL_ERR_STATE_SCAN_LIMIT' }));
  });

  it('refuses a change whose read moved, and one that writes a key written after its snapshot', () => {
    store.apply({ state: 's', base: 0, reads: [], writes: [put('x', '1')] });
    // Two runs both computed at version 1.
    const first = store.apply({ state: 's', base: 1, reads: [{ key: k('x'), version: 1 }], writes: [put('x', '2')] });
    const second = store.apply({ state: 's', base: 1, reads: [{ key: k('x'), version: 1 }], writes: [put('x', '3')] });
    expect(first).toEqual({ applied: true, version: 2 });
    expect(second).toMatchObject({ applied: false, conflict: { kind: 'read', expected: 1, current: 2 } });
    // A blind write computed at version 1 also loses to the commit at version 2.
    const blind = store.apply({ state: 's', base: 1, reads: [], writes: [put('x', '4')] });
    expect(blind).toMatchObject({ applied: false, conflict: { kind: 'write', expected: 1, current: 2 } });
    // A read of an absent key conflicts when someone creates it.
    const absent = { state: 's', base: 2, reads: [{ key: k('y'), version: 0 }], writes: [put('z', '1')] };
    store.apply({ state: 's', base: 2, reads: [], writes: [put('y', 'new')] });
    expect(store.apply(absent)).toMatchObject({ applied: false, conflict: { kind: 'read', expected: 0, current: 3 } });
    expect(text(store.get('s', k('x'), store.head('s')).entry?.value)).toBe('2');
    expect(store.get('s', k('z'), store.head('s')).entry).toBeUndefined();
  });

  it('hostile sizes are coded errors and write nothing', () => {
    const before = store.head('s');
    const cases: [StateWrite[], string][] = [
      [[{ key: new Uint8Array(257), value: k('v') }], 'DL_ERR_STATE_KEY_SIZE'],
      [[{ key: new Uint8Array(0), value: k('v') }], 'DL_ERR_STATE_KEY_SIZE'],
      [[{ key: k('a'), value: new Uint8Array(64 * 1024 + 1) }], 'DL_ERR_STATE_VALUE_SIZE'],
      [[put('b', '1'), put('a', '1')], 'DL_ERR_STATE_WRITE_SET'],
      [[put('a', '1'), put('a', '2')], 'DL_ERR_STATE_WRITE_SET'],
      [Array.from({ length: 4097 }, (_, i) => put(String(i).padStart(5, '0'), '')), 'DL_ERR_STATE_WRITE_SET'],
      [
        Array.from({ length: 200 }, (_, i) => ({ key: k(String(i).padStart(4, '0')), value: new Uint8Array(60_000) })),
        'DL_ERR_STATE_WRITE_SET',
      ],
    ];
    for (const [writes, code] of cases)
      expect(() => store.apply({ state: 's', base: 0, reads: [], writes })).toThrow(expect.objectContaining({ code }));
    expect(() => store.apply({ state: 's', base: 9, reads: [], writes: [put('a', '1')] })).toThrow(
      expect.objectContaining({ code: 'DL_ERR_STATE_SNAPSHOT' }),
    );
    expect(store.head('s')).toBe(before);
    expect(store.scan('s', k(''), 10, 100)).toEqual([]);
  });

  it('a failure inside the transaction rolls the writes back', () => {
    expect(() =>
      store.apply({ state: 's', base: 0, reads: [], writes: [put('a', '1')] }, () => {
        throw new Error('recording the decision failed');
      }),
    ).toThrow('recording the decision failed');
    expect(store.head('s')).toBe(0);
    expect(store.get('s', k('a'), 1).entry).toBeUndefined();
  });

  it('a change that scanned conflicts with any later commit to its state', () => {
    store.apply({ state: 's', base: 0, reads: [], writes: [put('a', '1'), put('c', '3')] });
    const scans = [{ start: k('a'), limit: 10, keys: [k('a'), k('c')] }];
    store.apply({ state: 's', base: 1, reads: [], writes: [put('b', 'new')] });
    // Its writes touch nothing that moved, but a key appeared inside the range it scanned.
    const out = store.apply({ state: 's', base: 1, reads: [], writes: [put('z', '1')], scans });
    expect(out).toMatchObject({ applied: false, conflict: { kind: 'scan', expected: 1, current: 2 } });
    expect(store.apply({ state: 's', base: 2, reads: [], writes: [put('z', '1')], scans }).applied).toBe(true);
  });

  it("checks a run's reads and scans against the store at its snapshot", () => {
    store.apply({ state: 's', base: 0, reads: [], writes: [put('a', '1'), put('b', '2')] });
    const honest = {
      state: 's',
      base: 1,
      reads: [
        { key: k('a'), version: 1, valueHash: valueHash(k('1')) },
        { key: k('x'), version: 0, valueHash: null },
      ],
      writes: [],
      scans: [{ start: k('a'), limit: 5, keys: [k('a'), k('b')] }],
    };
    expect(store.snapshotMismatch(honest, valueHash)).toBeUndefined();
    const lied = { ...honest, reads: [{ key: k('a'), version: 1, valueHash: valueHash(k('999')) }] };
    expect(store.snapshotMismatch(lied, valueHash)).toContain('a value the store did not hold');
    const hid = { ...honest, scans: [{ start: k('a'), limit: 5, keys: [k('a')] }] };
    expect(store.snapshotMismatch(hid, valueHash)).toContain('the store has 2 there');
    const wrongVersion = { ...honest, reads: [{ key: k('b'), version: 0, valueHash: null }] };
    expect(store.snapshotMismatch(wrongVersion, valueHash)).toContain('at 1 the store has version 1');
  });

  it('any bytes either decode to a change that re-encodes to the same bytes or fail with a code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          expect(encodeChange(decodeChange(bytes))).toEqual(bytes);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('DL_ERR_STATE_CHANGE_MALFORMED');
        }
      }),
      { numRuns: 2000 },
    );
    // A count that claims more entries than bytes left fails before allocating anything.
    const huge = new Uint8Array(8);
    new DataView(huge.buffer).setUint32(0, 0xffffffff, true);
    expect(() => decodeChange(huge)).toThrow(expect.objectContaining({ code: 'DL_ERR_STATE_CHANGE_MALFORMED' }));
  });

  it('commits survive closing and reopening the database', () => {
    store.apply({ state: 's', base: 0, reads: [], writes: [put('a', '1')] });
    db.close();
    db = openEscrowDb(dir);
    store = new SqliteStateStore(db);
    expect(store.head('s')).toBe(1);
    expect(text(store.get('s', k('a'), 1).entry?.value)).toBe('1');
  });
});

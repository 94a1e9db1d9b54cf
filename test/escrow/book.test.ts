import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EscrowBook, type EscrowInput } from '../../escrow/book.ts';
import { decodeChange, encodeChange } from '../../state/change-codec.ts';
import { openEscrowDb } from '../../escrow/db.ts';
import { SqliteStateStore } from '../../state/store.ts';

const enc = new TextEncoder();
const k = (s: string): Uint8Array => enc.encode(s);

let dir: string;
let db: DatabaseSync;
let state: SqliteStateStore;
let book: EscrowBook;
let now = 1_000_000;

function reopen(): void {
  if (db?.isOpen) db.close();
  db = openEscrowDb(dir);
  state = new SqliteStateStore(db);
  book = new EscrowBook(db, state, () => now);
}

const input = (over: Partial<EscrowInput> = {}): EscrowInput => ({
  state: 'board',
  miner: 'miner-1',
  submissionHash: 'aa'.repeat(32),
  resultHash: 'bb'.repeat(32),
  base: state.head('board'),
  reads: [{ key: k('alice'), version: state.get('board', k('alice'), state.head('board')).version }],
  writes: [{ key: k('alice'), value: k('12') }],
  ttlMs: 60_000,
  ...over,
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dl-escrow-'));
  reopen();
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the escrow book', () => {
  it('holds a change away from the state until it is committed, then applies it once', () => {
    const { record, revertToken } = book.open(input());
    expect(record.status).toBe('pending');
    expect(revertToken.length).toBeGreaterThan(20);
    expect(state.head('board')).toBe(0);
    const out = book.commit(record.id, 'jury of 3 matched');
    expect(out).toMatchObject({ committed: true, version: 1, record: { status: 'committed', committedVersion: 1 } });
    expect(state.get('board', k('alice'), 1).entry?.value).toEqual(k('12'));
    expect(() => book.commit(record.id, 'again')).toThrow(expect.objectContaining({ code: 'DL_ERR_ESCROW_DECIDED' }));
    expect(state.head('board')).toBe(1);
  });

  it('two escrows that write the same key: exactly one commits, the other conflicts and can be rebased', () => {
    const a = book.open(input({ miner: 'a' })).record;
    const b = book.open(input({ miner: 'b', writes: [{ key: k('alice'), value: k('99') }] })).record;
    expect(book.commit(a.id, 'ok').committed).toBe(true);
    const second = book.commit(b.id, 'ok');
    expect(second).toMatchObject({ committed: false, conflict: { kind: 'read', expected: 0, current: 1 } });
    expect(book.get(b.id).status).toBe('pending');
    // Re-run against the new snapshot, then commit.
    const rebased = book.rebase(b.id, {
      base: 1,
      reads: [{ key: k('alice'), version: 1 }],
      writes: [{ key: k('alice'), value: k('100') }],
      resultHash: 'cc'.repeat(32),
    });
    expect(rebased).toMatchObject({ base: 1, attempts: 1, resultHash: 'cc'.repeat(32) });
    expect(book.commit(b.id, 'ok')).toMatchObject({ committed: true, version: 2 });
    expect(state.get('board', k('alice'), 2).entry?.value).toEqual(k('100'));
  });

  it('a revert needs the escrow own token, and works once', () => {
    const one = book.open(input());
    const two = book.open(input());
    expect(() => book.revert(one.record.id, { token: two.revertToken }, 'x')).toThrow(
      expect.objectContaining({ code: 'DL_ERR_ESCROW_TOKEN' }),
    );
    expect(book.revert(one.record.id, { token: one.revertToken }, 'client withdrew').status).toBe('reverted');
    expect(() => book.revert(one.record.id, { token: one.revertToken }, 'x')).toThrow(
      expect.objectContaining({ code: 'DL_ERR_ESCROW_DECIDED' }),
    );
    expect(() => book.commit(one.record.id, 'x')).toThrow(expect.objectContaining({ code: 'DL_ERR_ESCROW_DECIDED' }));
    expect(state.head('board')).toBe(0);
    expect(() => book.get('esc_nope')).toThrow(expect.objectContaining({ code: 'DL_ERR_ESCROW_NOT_FOUND' }));
  });

  it('TTL expiry reverts pending escrows; a hold waits for a person and survives a restart', () => {
    const pending = book.open(input({ ttlMs: 1000 })).record;
    const held = book.open(input({ ttlMs: 1000 })).record;
    book.hold(held.id, 'low reputation: review');
    now += 1000;
    expect(book.expire()).toEqual([pending.id]);
    expect(book.get(pending.id).status).toBe('expired');
    reopen();
    expect(book.get(held.id)).toMatchObject({ status: 'held', reason: 'low reputation: review' });
    expect(book.list({ status: 'held' }).map((r) => r.id)).toEqual([held.id]);
    expect(book.commit(held.id, 'reviewed by ops')).toMatchObject({ committed: true });
  });

  it('refuses bad TTLs and oversized write sets before storing anything', () => {
    for (const ttlMs of [0, -1, 1.5, 8 * 24 * 3600 * 1000])
      expect(() => book.open(input({ ttlMs }))).toThrow(expect.objectContaining({ code: 'DL_ERR_ESCROW_TTL' }));
    expect(() => book.open(input({ writes: [{ key: new Uint8Array(300), value: null }] }))).toThrow(
      expect.objectContaining({ code: 'DL_ERR_STATE_KEY_SIZE' }),
    );
    expect(book.list()).toEqual([]);
  });

  it('the change codec round-trips and refuses truncated bytes', () => {
    const change = {
      reads: [{ key: k('a'), version: 3 }],
      writes: [
        { key: k('a'), value: k('x') },
        { key: k('b'), value: null },
      ],
    };
    const bytes = encodeChange(change);
    expect(decodeChange(bytes)).toEqual({ ...change, scans: [] });
    for (const cut of [1, 5, bytes.length - 1])
      expect(() => decodeChange(bytes.subarray(0, cut))).toThrow(
        expect.objectContaining({ code: 'DL_ERR_STATE_CHANGE_MALFORMED' }),
      );
  });
});

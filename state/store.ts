/**
 * Versioned challenge state (MVCC). Every committed change gets the next version of its state and
 * writes its keys at that version; nothing is overwritten in place. A snapshot is therefore one
 * number — the state's head when the run began — and taking one costs the same for 1 k keys as for
 * 1 M (bench:escrow). A run reads "the newest version ≤ V" of each key and never sees a later
 * commit.
 *
 * Commits are optimistic: a change carries the versions it read and the snapshot it was computed
 * at, and applies only if every key it read is still at that version and no key it writes was
 * written after its snapshot (first committer wins). Otherwise nothing is written and the caller
 * learns the first conflicting key.
 *
 * `StateStore` is the small interface the escrow and the cage use, so a shared server can stand behind it
 * later; `SqliteStateStore` is the embedded default (node:sqlite, WAL, synchronous=FULL so an
 * acknowledged commit survives power loss).
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { StateError } from './errors.ts';
import { STATE_LIMITS, type StateLimits } from './limits.ts';

/** A key's value as a snapshot sees it. `version` is the commit that wrote it. */
export interface StateEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly version: number;
}

/** A key a run read, and the version it saw (0: the key did not exist; a deletion has its own version). */
export interface StateRead {
  readonly key: Uint8Array;
  readonly version: number;
  /**
   * BLAKE3 of the value the run saw, or null for none. A run's change always carries it, so the
   * escrow can check the read against the store ({@link SqliteStateStore.snapshotMismatch});
   * undefined where a caller built the change by hand and nothing can be checked.
   */
  readonly valueHash?: Uint8Array | null;
}

/**
 * One ordered read of the snapshot a run made (`state_scan`): the live keys ≥ `start`, at most
 * `limit`, as the store returned them. The escrow repeats it to check that nothing was left out.
 */
export interface StateScan {
  readonly start: Uint8Array;
  readonly limit: number;
  readonly keys: readonly Uint8Array[];
}

/** A key a run wrote: a new value, or `null` to delete it. */
export interface StateWrite {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/** What a run wants to commit: computed at snapshot `base`, with what it read and wrote. */
export interface StateChange {
  readonly state: string;
  readonly base: number;
  readonly reads: readonly StateRead[];
  readonly writes: readonly StateWrite[];
  /** A change that scanned conflicts with every later commit to its state (a new key may fall in a range). */
  readonly scans?: readonly StateScan[];
}

/** Why a change cannot apply: the first key (in byte order) whose version moved. */
export interface StateConflict {
  readonly key: Uint8Array;
  /** For a read: the version the run saw. For a write or a scan: the run's snapshot. */
  readonly expected: number;
  readonly current: number;
  /** `scan`: the change scanned and the state moved on; `key` is the first scan's start. */
  readonly kind: 'read' | 'write' | 'scan';
}

export type ApplyOutcome =
  | { readonly applied: true; readonly version: number }
  | { readonly applied: false; readonly conflict: StateConflict };

export interface StateStore {
  readonly limits: StateLimits;
  /** The state's newest committed version (0 for a state never written): a snapshot. */
  head(state: string): number;
  /** The key as of version `at`, or undefined (absent or deleted) with the version that says so. */
  get(state: string, key: Uint8Array, at: number): { entry: StateEntry | undefined; version: number };
  /** Live keys ≥ `start` in byte order as of `at`, at most `limit` (≤ limits.maxScanEntries). */
  scan(state: string, start: Uint8Array, limit: number, at: number): StateEntry[];
  /**
   * Applies the change atomically if it does not conflict. `alsoInTransaction` runs inside the
   * same transaction (the escrow records its decision there, so apply and record are one).
   */
  apply(change: StateChange, alsoInTransaction?: (version: number) => void): ApplyOutcome;
}

type Row = Record<string, unknown>;

export const STATE_SCHEMA = `
CREATE TABLE IF NOT EXISTS state_heads (state TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state_kv (
  state TEXT NOT NULL, key BLOB NOT NULL, version INTEGER NOT NULL, value BLOB,
  PRIMARY KEY (state, key, version)) WITHOUT ROWID;
`;

/** Byte-wise comparison, the order of keys everywhere (SQLite compares BLOBs with memcmp). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Refuses keys and values over the limits with a coded error naming which. */
export function checkKey(key: Uint8Array, limits: StateLimits, field = 'key'): void {
  if (key.length === 0 || key.length > limits.maxKeyBytes)
    throw new StateError(
      'DL_ERR_STATE_KEY_SIZE',
      `a state key is ${key.length} bytes; keys are 1 to ${limits.maxKeyBytes} bytes`,
      { field },
    );
}

/** Checks a write set against the limits: sorted, unique keys, sizes and totals within the caps. */
export function checkWrites(writes: readonly StateWrite[], limits: StateLimits): void {
  if (writes.length > limits.maxWriteKeys)
    throw new StateError(
      'DL_ERR_STATE_WRITE_SET',
      `the write set has ${writes.length} keys; at most ${limits.maxWriteKeys} are allowed`,
      { field: 'writes' },
    );
  let bytes = 0;
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i]!;
    checkKey(w.key, limits, `writes[${i}].key`);
    if (i > 0 && compareKeys(writes[i - 1]!.key, w.key) >= 0)
      throw new StateError('DL_ERR_STATE_WRITE_SET', 'write-set keys must be unique and in byte order', {
        field: `writes[${i}].key`,
      });
    if (w.value !== null && w.value.length > limits.maxValueBytes)
      throw new StateError(
        'DL_ERR_STATE_VALUE_SIZE',
        `a state value is ${w.value.length} bytes; at most ${limits.maxValueBytes} are allowed`,
        { field: `writes[${i}].value` },
      );
    bytes += w.key.length + (w.value?.length ?? 0);
  }
  if (bytes > limits.maxWriteBytes)
    throw new StateError(
      'DL_ERR_STATE_WRITE_SET',
      `the write set holds ${bytes} bytes; at most ${limits.maxWriteBytes} are allowed`,
      { field: 'writes' },
    );
}

export class SqliteStateStore implements StateStore {
  readonly limits: StateLimits;
  readonly #db: DatabaseSync;
  readonly #head: StatementSync;
  readonly #setHead: StatementSync;
  readonly #get: StatementSync;
  readonly #latest: StatementSync;
  readonly #scan: StatementSync;
  readonly #put: StatementSync;

  /** `db` is opened by the caller (escrow/db.ts) so the escrow's own tables share its transactions. */
  constructor(db: DatabaseSync, limits: StateLimits = STATE_LIMITS) {
    this.#db = db;
    this.limits = limits;
    db.exec(STATE_SCHEMA);
    this.#head = db.prepare('SELECT version FROM state_heads WHERE state = ?');
    this.#setHead = db.prepare(
      'INSERT INTO state_heads VALUES (?, ?) ON CONFLICT(state) DO UPDATE SET version = excluded.version',
    );
    this.#get = db.prepare(
      'SELECT version, value FROM state_kv WHERE state = ? AND key = ? AND version <= ? ORDER BY version DESC LIMIT 1',
    );
    this.#latest = db.prepare('SELECT version FROM state_kv WHERE state = ? AND key = ? ORDER BY version DESC LIMIT 1');
    this.#scan = db.prepare(
      `SELECT a.key, a.version, a.value FROM state_kv AS a
       WHERE a.state = ?1 AND a.key >= ?2 AND a.version = (
         SELECT max(b.version) FROM state_kv AS b WHERE b.state = ?1 AND b.key = a.key AND b.version <= ?3)
       AND a.value IS NOT NULL ORDER BY a.key LIMIT ?4`,
    );
    this.#put = db.prepare('INSERT INTO state_kv VALUES (?, ?, ?, ?)');
  }

  head(state: string): number {
    const r = this.#head.get(state) as Row | undefined;
    return r === undefined ? 0 : Number(r.version);
  }

  get(state: string, key: Uint8Array, at: number): { entry: StateEntry | undefined; version: number } {
    checkKey(key, this.limits);
    const r = this.#get.get(state, key, at) as Row | undefined;
    if (r === undefined) return { entry: undefined, version: 0 };
    const version = Number(r.version);
    if (r.value === null) return { entry: undefined, version };
    return { entry: { key, value: new Uint8Array(r.value as Uint8Array), version }, version };
  }

  scan(state: string, start: Uint8Array, limit: number, at: number): StateEntry[] {
    if (start.length > this.limits.maxKeyBytes) checkKey(start, this.limits, 'start');
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > this.limits.maxScanEntries)
      throw new StateError(
        'DL_ERR_STATE_SCAN_LIMIT',
        `a scan asked for ${limit} entries; ask for 0 to ${this.limits.maxScanEntries} and continue from the last key`,
        { field: 'limit' },
      );
    return (this.#scan.all(state, start, at, limit) as Row[]).map((r) => ({
      key: new Uint8Array(r.key as Uint8Array),
      value: new Uint8Array(r.value as Uint8Array),
      version: Number(r.version),
    }));
  }

  /** The first conflict of a change against the current head, or undefined. Read-only. */
  conflictOf(change: StateChange): StateConflict | undefined {
    const latest = (key: Uint8Array): number => {
      const r = this.#latest.get(change.state, key) as Row | undefined;
      return r === undefined ? 0 : Number(r.version);
    };
    let first: StateConflict | undefined;
    const consider = (c: StateConflict): void => {
      if (first === undefined || compareKeys(c.key, first.key) < 0) first = c;
    };
    for (const r of change.reads) {
      const current = latest(r.key);
      if (current !== r.version) consider({ key: r.key, expected: r.version, current, kind: 'read' });
    }
    for (const w of change.writes) {
      const current = latest(w.key);
      if (current > change.base) consider({ key: w.key, expected: change.base, current, kind: 'write' });
    }
    const scans = change.scans ?? [];
    if (first === undefined && scans.length > 0) {
      const head = this.head(change.state);
      if (head > change.base) first = { key: scans[0]!.start, expected: change.base, current: head, kind: 'scan' };
    }
    return first;
  }

  /**
   * Whether a run's reads and scans are what this store held at the run's snapshot: each read's
   * version and value hash, each scan's keys. A run recorded against another store (or a bundle
   * edited to claim other values) is caught here, before anything is escrowed. Returns the first
   * mismatch, described, or undefined.
   */
  snapshotMismatch(change: StateChange, hash: (value: Uint8Array) => Uint8Array): string | undefined {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    for (const r of change.reads) {
      const { entry, version } = this.get(change.state, r.key, change.base);
      if (version !== r.version)
        return `key 0x${hex(r.key)} was read at version ${r.version}; at ${change.base} the store has version ${version}`;
      if (r.valueHash === undefined) continue;
      const actual = entry === undefined ? null : hash(entry.value);
      if ((actual === null) !== (r.valueHash === null) || (actual !== null && hex(actual) !== hex(r.valueHash!)))
        return `key 0x${hex(r.key)} was read with a value the store did not hold at version ${change.base}`;
    }
    for (const s of change.scans ?? []) {
      const keys = this.scanAll(change.state, s.start, s.limit, change.base).map((e) => hex(e.key));
      if (keys.join(',') !== s.keys.map(hex).join(','))
        return `a scan from 0x${hex(s.start)} saw ${s.keys.length} keys; the store has ${keys.length} there at version ${change.base}`;
    }
    return undefined;
  }

  /** As {@link scan}, for limits past one page (a run's scan may ask for its limit plus its own deletions). */
  scanAll(state: string, start: Uint8Array, limit: number, at: number): StateEntry[] {
    const out: StateEntry[] = [];
    let from = start;
    while (out.length < limit) {
      const page = this.scan(state, from, Math.min(limit - out.length, this.limits.maxScanEntries), at);
      out.push(...page);
      if (page.length < this.limits.maxScanEntries) break;
      const last = page[page.length - 1]!.key;
      from = new Uint8Array(last.length + 1);
      from.set(last);
    }
    return out;
  }

  apply(change: StateChange, alsoInTransaction?: (version: number) => void): ApplyOutcome {
    const [out] = this.applyAll([{ change, ...(alsoInTransaction === undefined ? {} : { also: alsoInTransaction }) }]);
    if (out instanceof Error) throw out;
    return out!;
  }

  /**
   * Applies several changes in one transaction (one fsync for all), in order, each as if alone: a
   * change that conflicts, or whose checks or `also` throw, is rolled back to its savepoint and
   * the others still apply. Returns each one's outcome, or the error it failed with.
   */
  applyAll(items: readonly { change: StateChange; also?: (version: number) => void }[]): (ApplyOutcome | Error)[] {
    const out: (ApplyOutcome | Error)[] = [];
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const { change, also } of items) {
        this.#db.exec('SAVEPOINT one');
        try {
          out.push(this.#applyInTransaction(change, also));
          this.#db.exec('RELEASE one');
        } catch (err) {
          this.#db.exec('ROLLBACK TO one');
          this.#db.exec('RELEASE one');
          out.push(err instanceof Error ? err : new Error(String(err)));
        }
      }
      this.#db.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  #applyInTransaction(change: StateChange, also?: (version: number) => void): ApplyOutcome {
    checkWrites(change.writes, this.limits);
    for (let i = 0; i < change.reads.length; i++) checkKey(change.reads[i]!.key, this.limits, `reads[${i}].key`);
    const head = this.head(change.state);
    if (!Number.isSafeInteger(change.base) || change.base < 0 || change.base > head)
      throw new StateError(
        'DL_ERR_STATE_SNAPSHOT',
        `the change was computed at version ${change.base} of "${change.state}", whose head is ${head}`,
        { field: 'base' },
      );
    const conflict = this.conflictOf(change);
    if (conflict !== undefined) return { applied: false, conflict };
    const version = head + 1;
    for (const w of change.writes) this.#put.run(change.state, w.key, version, w.value);
    this.#setHead.run(change.state, version);
    also?.(version);
    return { applied: true, version };
  }
}

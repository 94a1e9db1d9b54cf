/**
 * The escrow book: every speculative evaluation's result and state change, sequestered under an id
 * with a revert token and a time to live, until the gate (escrow/gate.ts) or a person decides.
 *
 *   pending ──commit──► committed      (write set applied; the same transaction marks it)
 *      │  └───hold────► held ──commit/revert──► …   (waits for a person; never expires)
 *      ├──revert──────► reverted
 *      └──TTL─────────► expired        (a revert the clock made)
 *
 * Every transition is one UPDATE guarded by the current status, so a decision is made once even
 * when two callers race, and a commit's write set and its status change are one SQLite transaction:
 * after a crash an escrow is either applied and `committed` or untouched and still open.
 */
import { randomBytes } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { blake3, toHex } from '../index.ts';
import { decodeChange, encodeChange, writeSetHash } from '../state/change-codec.ts';
import { EscrowError } from './errors.ts';
import {
  type StateConflict,
  type StateRead,
  type StateScan,
  type StateWrite,
  type SqliteStateStore,
  checkWrites,
} from '../state/store.ts';

export type EscrowStatus = 'pending' | 'held' | 'committed' | 'reverted' | 'expired';
export const OPEN_STATUSES: readonly EscrowStatus[] = ['pending', 'held'];

/** What an evaluation hands to the escrow. */
export interface EscrowInput {
  readonly state: string;
  readonly miner: string;
  /** BLAKE3 of the submission, hex. */
  readonly submissionHash: string;
  /** The run's result hash, hex: what jurors must reproduce. */
  readonly resultHash: string;
  /** The bundle jurors replay (content hash, hex), if there is one. */
  readonly bundleHash?: string;
  /** The snapshot the run read. */
  readonly base: number;
  readonly reads: readonly StateRead[];
  readonly writes: readonly StateWrite[];
  /** The run's ordered reads (a change that scanned conflicts with any later commit). */
  readonly scans?: readonly StateScan[];
  readonly ttlMs: number;
}

export interface EscrowRecord {
  readonly id: string;
  readonly state: string;
  readonly miner: string;
  readonly submissionHash: string;
  readonly resultHash: string;
  readonly bundleHash: string | null;
  readonly base: number;
  readonly reads: readonly StateRead[];
  readonly writes: readonly StateWrite[];
  readonly scans: readonly StateScan[];
  readonly writeSetHash: string;
  readonly status: EscrowStatus;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly decidedAt: number | null;
  /** The state version a commit produced. */
  readonly committedVersion: number | null;
  /** Why it is in its status (the gate's explanation, or the operator's words). */
  readonly reason: string | null;
  /** Evaluations against newer snapshots after a conflict. */
  readonly attempts: number;
}

export type CommitOutcome =
  | { readonly committed: true; readonly version: number; readonly record: EscrowRecord }
  | { readonly committed: false; readonly conflict: StateConflict; readonly record: EscrowRecord };

/** Longest time to live an escrow may ask for: a week. */
export const MAX_TTL_MS = 7 * 24 * 3600 * 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS escrows (
  id TEXT PRIMARY KEY, state TEXT NOT NULL, miner TEXT NOT NULL, submission_hash TEXT NOT NULL,
  result_hash TEXT NOT NULL, bundle_hash TEXT, base INTEGER NOT NULL, change BLOB NOT NULL,
  write_set_hash TEXT NOT NULL, token_hash TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, decided_at INTEGER, committed_version INTEGER, reason TEXT, attempts INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS escrows_status ON escrows (status, expires_at);
`;

type Row = Record<string, unknown>;

const tokenHash = (token: string): string => toHex(blake3(new TextEncoder().encode(token)));

export class EscrowBook {
  readonly #db: DatabaseSync;
  readonly #state: SqliteStateStore;
  readonly #now: () => number;
  readonly #s: Record<
    'insert' | 'get' | 'list' | 'listAll' | 'decide' | 'due' | 'tokenOf' | 'rebase' | 'countByStatus',
    StatementSync
  >;

  constructor(db: DatabaseSync, state: SqliteStateStore, now: () => number = Date.now) {
    this.#db = db;
    this.#state = state;
    this.#now = now;
    db.exec(SCHEMA);
    const p = (sql: string): StatementSync => db.prepare(sql);
    this.#s = {
      insert: p('INSERT INTO escrows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, 0)'),
      get: p('SELECT * FROM escrows WHERE id = ?'),
      list: p('SELECT * FROM escrows WHERE status = ? ORDER BY created_at, id LIMIT ?'),
      listAll: p('SELECT * FROM escrows ORDER BY created_at, id LIMIT ?'),
      decide: p(
        `UPDATE escrows SET status = ?, decided_at = ?, reason = ?, committed_version = ?
         WHERE id = ? AND status IN ('pending', 'held')`,
      ),
      due: p("SELECT id FROM escrows WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at, id"),
      tokenOf: p('SELECT token_hash FROM escrows WHERE id = ?'),
      countByStatus: p('SELECT status, count(*) AS n FROM escrows GROUP BY status'),
      rebase: p(
        "UPDATE escrows SET base = ?, change = ?, write_set_hash = ?, result_hash = ?, bundle_hash = ?, attempts = attempts + 1 WHERE id = ? AND status IN ('pending', 'held')",
      ),
    };
  }

  /** Sequesters a result. The revert token is returned once and stored only as its hash. */
  open(input: EscrowInput): { record: EscrowRecord; revertToken: string } {
    if (!Number.isSafeInteger(input.ttlMs) || input.ttlMs <= 0 || input.ttlMs > MAX_TTL_MS)
      throw new EscrowError(
        'DL_ERR_ESCROW_TTL',
        `ttl ${String(input.ttlMs)} ms: give whole milliseconds from 1 to ${MAX_TTL_MS}`,
        { field: 'ttlMs' },
      );
    checkWrites(input.writes, this.#state.limits);
    const id = `esc_${randomBytes(12).toString('hex')}`;
    const revertToken = randomBytes(24).toString('base64url');
    const now = this.#now();
    this.#s.insert.run(
      id,
      input.state,
      input.miner,
      input.submissionHash,
      input.resultHash,
      input.bundleHash ?? null,
      input.base,
      encodeChange(input),
      writeSetHash(input.writes),
      tokenHash(revertToken),
      'pending',
      now,
      now + input.ttlMs,
    );
    return { record: this.get(id), revertToken };
  }

  get(id: string): EscrowRecord {
    const r = this.#s.get.get(id) as Row | undefined;
    if (r === undefined)
      throw new EscrowError('DL_ERR_ESCROW_NOT_FOUND', `no escrow has the id ${JSON.stringify(id)}`, { field: 'id' });
    return recordOf(r);
  }

  /** How many escrows are in each status. */
  countByStatus(): Record<EscrowStatus, number> {
    const out: Record<EscrowStatus, number> = { pending: 0, held: 0, committed: 0, reverted: 0, expired: 0 };
    for (const r of this.#s.countByStatus.all() as Row[]) out[r.status as EscrowStatus] = Number(r.n);
    return out;
  }

  list(options: { status?: EscrowStatus; limit?: number } = {}): EscrowRecord[] {
    const limit = options.limit ?? 1000;
    const rows = options.status === undefined ? this.#s.listAll.all(limit) : this.#s.list.all(options.status, limit);
    return (rows as Row[]).map(recordOf);
  }

  /**
   * Applies the write set and marks the escrow committed, in one transaction, if no key it read or
   * writes moved since its snapshot. On a conflict nothing changes and the escrow stays open.
   */
  /**
   * Applies an open escrow's write set and records the commit, in one transaction; `also` runs in
   * it too (the escrow moves the miner's reputation there: one fsync a commit, not two).
   */
  commit(id: string, reason: string, also?: () => void): CommitOutcome {
    const [out] = this.commitAll([{ id, reason, ...(also === undefined ? {} : { also }) }]);
    if (out instanceof Error) throw out;
    return out!;
  }

  /**
   * Commits several escrows in one transaction (one fsync for all), in order, each as if alone:
   * one that conflicts or fails leaves the others applied. Returns each one's outcome or error.
   */
  commitAll(items: readonly { id: string; reason: string; also?: () => void }[]): (CommitOutcome | Error)[] {
    const out: (CommitOutcome | Error)[] = [];
    const open: { at: number; record: EscrowRecord; item: (typeof items)[number] }[] = [];
    for (const item of items) {
      try {
        open.push({ at: out.length, record: this.#open(item.id), item });
        out.push(new Error('not applied'));
      } catch (err) {
        out.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    const applied = this.#state.applyAll(
      open.map(({ record, item }) => ({
        change: record,
        also: (version: number) => {
          this.#decide(item.id, 'committed', item.reason, version);
          item.also?.();
        },
      })),
    );
    open.forEach(({ at, record, item }, i) => {
      const a = applied[i]!;
      out[at] =
        a instanceof Error
          ? a
          : a.applied
            ? { committed: true, version: a.version, record: this.get(item.id) }
            : { committed: false, conflict: a.conflict, record };
    });
    return out;
  }

  /** Moves a pending escrow to review. */
  hold(id: string, reason: string): EscrowRecord {
    const record = this.#open(id);
    if (record.status === 'held') return record;
    this.#db
      .prepare("UPDATE escrows SET status = 'held', reason = ? WHERE id = ? AND status = 'pending'")
      .run(reason, id);
    return this.get(id);
  }

  /**
   * Discards an open escrow. A client proves it opened the escrow with its revert token; the gate and
   * a local operator pass `{ by: … }` instead.
   */
  revert(id: string, authority: { token: string } | { by: string }, reason: string): EscrowRecord {
    const row = this.#s.tokenOf.get(id) as Row | undefined;
    if (row === undefined) this.get(id);
    if ('token' in authority && tokenHash(authority.token) !== row!.token_hash)
      throw new EscrowError('DL_ERR_ESCROW_TOKEN', `the revert token is not the one issued for escrow ${id}`, {
        field: 'token',
      });
    this.#open(id);
    this.#decide(id, 'reverted', reason, null);
    return this.get(id);
  }

  /** Ends every pending escrow whose TTL passed (held ones wait for a person). Returns their ids. */
  expire(): string[] {
    const now = this.#now();
    const ids = (this.#s.due.all(now) as Row[]).map((r) => r.id as string);
    for (const id of ids) this.#s.decide.run('expired', now, 'its time to live ran out before a decision', null, id);
    return ids;
  }

  /** Replaces an open escrow's change with one recomputed at a newer snapshot (after a conflict). */
  rebase(
    id: string,
    next: {
      base: number;
      reads: readonly StateRead[];
      writes: readonly StateWrite[];
      scans?: readonly StateScan[];
      resultHash: string;
      bundleHash?: string;
    },
  ): EscrowRecord {
    this.#open(id);
    checkWrites(next.writes, this.#state.limits);
    this.#s.rebase.run(
      next.base,
      encodeChange(next),
      writeSetHash(next.writes),
      next.resultHash,
      next.bundleHash ?? null,
      id,
    );
    return this.get(id);
  }

  #open(id: string): EscrowRecord {
    const record = this.get(id);
    if (!OPEN_STATUSES.includes(record.status))
      throw new EscrowError('DL_ERR_ESCROW_DECIDED', `escrow ${id} is already ${record.status}`, {
        field: record.status,
      });
    return record;
  }

  #decide(id: string, status: EscrowStatus, reason: string, version: number | null): void {
    if (this.#s.decide.run(status, this.#now(), reason, version, id).changes !== 1) {
      const now = this.get(id);
      throw new EscrowError('DL_ERR_ESCROW_DECIDED', `escrow ${id} is already ${now.status}`, { field: now.status });
    }
  }
}

/** A stored change that does not decode is the store's corruption, not the caller's input. */
function storedChange(r: Row): ReturnType<typeof decodeChange> {
  try {
    return decodeChange(new Uint8Array(r.change as Uint8Array));
  } catch (err) {
    throw new EscrowError('DL_ERR_ESCROW_CORRUPT', `escrow ${String(r.id)}: ${(err as Error).message}`, {
      field: 'change',
      ...((err as { where?: { offset?: number } }).where ?? {}),
    });
  }
}

function recordOf(r: Row): EscrowRecord {
  const change = storedChange(r);
  return {
    id: r.id as string,
    state: r.state as string,
    miner: r.miner as string,
    submissionHash: r.submission_hash as string,
    resultHash: r.result_hash as string,
    bundleHash: (r.bundle_hash as string | null) ?? null,
    base: Number(r.base),
    reads: change.reads,
    writes: change.writes,
    scans: change.scans,
    writeSetHash: r.write_set_hash as string,
    status: r.status as EscrowStatus,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
    committedVersion: r.committed_version === null ? null : Number(r.committed_version),
    reason: (r.reason as string | null) ?? null,
    attempts: Number(r.attempts),
  };
}

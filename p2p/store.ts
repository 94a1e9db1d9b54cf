/**
 * The node's embedded store: claims, verdicts, claim states and peer scores in node:sqlite (WAL).
 *
 * Chosen by measurement (bench/RESULTS.md, "P2P node"): node:sqlite commits a row in ~0.15–0.25 ms
 * and answers a 500-row time-window query in ~1–6 ms; lmdb writes 3–5× faster but is a native
 * addon (a prebuilt binary per platform), as is better-sqlite3 (a native build here). A confirmed
 * claim costs about five writes, ~1 ms, far under the network's own cost, and node:sqlite ships
 * with Node 24 and gives SQL for the sync windows.
 *
 * Envelopes are stored as received (signed bytes), so anything served to a peer or written into a
 * dispute is exactly what its signer signed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { P2PError } from './errors.ts';

export type ClaimState = 'pending' | 'confirmed' | 'disputed' | 'expired';

export interface ClaimRow {
  id: string;
  claimer: string;
  issuedAt: number;
  receivedAt: number;
  envelope: Uint8Array;
  bundleHash: string;
  state: ClaimState;
  stateAt: number;
  /** Id of the verdict that disputed the claim. */
  disputedBy: string | null;
}

export interface VerdictRow {
  id: string;
  claimId: string;
  replayer: string;
  issuedAt: number;
  receivedAt: number;
  outcome: 'match' | 'diverge';
  envelope: Uint8Array;
}

export interface PeerRow {
  peerId: string;
  score: number;
  penalties: number;
  updatedAt: number;
}

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (
  id TEXT PRIMARY KEY, claimer TEXT NOT NULL, issued_at INTEGER NOT NULL, received_at INTEGER NOT NULL,
  envelope BLOB NOT NULL, bundle_hash TEXT NOT NULL, state TEXT NOT NULL, state_at INTEGER NOT NULL, disputed_by TEXT);
CREATE INDEX IF NOT EXISTS claims_issued ON claims (issued_at);
CREATE INDEX IF NOT EXISTS claims_state ON claims (state);
CREATE TABLE IF NOT EXISTS verdicts (
  id TEXT PRIMARY KEY, claim_id TEXT NOT NULL, replayer TEXT NOT NULL, issued_at INTEGER NOT NULL, received_at INTEGER NOT NULL,
  outcome TEXT NOT NULL, envelope BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS verdicts_claim ON verdicts (claim_id);
-- No index on verdicts.issued_at: no query uses one, and it made each verdict insert ~40 % dearer.
DROP INDEX IF EXISTS verdicts_issued;
CREATE TABLE IF NOT EXISTS peers (peer_id TEXT PRIMARY KEY, score REAL NOT NULL, penalties INTEGER NOT NULL, updated_at INTEGER NOT NULL);
`;
/** Bumped when the tables change; a store of another version is refused rather than misread. */
export const STORE_VERSION = '1';

type Row = Record<string, unknown>;

function claimRow(r: Row): ClaimRow {
  return {
    id: r.id as string,
    claimer: r.claimer as string,
    issuedAt: Number(r.issued_at),
    receivedAt: Number(r.received_at),
    envelope: new Uint8Array(r.envelope as Uint8Array),
    bundleHash: r.bundle_hash as string,
    state: r.state as ClaimState,
    stateAt: Number(r.state_at),
    disputedBy: (r.disputed_by as string | null) ?? null,
  };
}

function verdictRow(r: Row): VerdictRow {
  return {
    id: r.id as string,
    claimId: r.claim_id as string,
    replayer: r.replayer as string,
    issuedAt: Number(r.issued_at),
    receivedAt: Number(r.received_at),
    outcome: r.outcome as 'match' | 'diverge',
    envelope: new Uint8Array(r.envelope as Uint8Array),
  };
}

type ClaimMeta = Pick<ClaimRow, 'claimer' | 'issuedAt' | 'state' | 'disputedBy'>;

export class Store {
  readonly #db: DatabaseSync;
  readonly #s: Record<string, StatementSync>;
  // Write-through copy of recent claims' meta rows: every verdict, state update and replay decision
  // read it (a query each, a third of the node's sqlite time in the bench:p2p profile). Only this
  // class writes claims; emptied on a rollback (it may hold a row the rollback undid) and when full.
  readonly #meta = new Map<string, ClaimMeta>();

  constructor(dataDir: string) {
    try {
      mkdirSync(dataDir, { recursive: true });
      this.#db = new DatabaseSync(join(dataDir, 'node.db'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new P2PError(
        'DL_ERR_P2P_STORE',
        code === 'EEXIST'
          ? `the dataDir ${dataDir} is a file, not a directory`
          : `cannot open the store in ${dataDir}: ${code ?? (err as Error).message}`,
        { field: 'dataDir' },
        { cause: err },
      );
    }
    this.#db.exec(SCHEMA);
    const v = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get('version') as Row | undefined;
    if (v === undefined) this.#db.prepare('INSERT INTO meta VALUES (?, ?)').run('version', STORE_VERSION);
    else if (v.value !== STORE_VERSION)
      throw new P2PError(
        'DL_ERR_P2P_STORE',
        `the store in ${dataDir} is version ${String(v.value)}; this node reads version ${STORE_VERSION} (use another dataDir)`,
        { field: 'dataDir' },
      );
    const p = (sql: string): StatementSync => this.#db.prepare(sql);
    this.#s = {
      insertClaim: p('INSERT OR IGNORE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)'),
      getClaim: p('SELECT * FROM claims WHERE id = ?'),
      hasClaim: p('SELECT 1 FROM claims WHERE id = ?'),
      claimMeta: p('SELECT claimer, issued_at, state, disputed_by FROM claims WHERE id = ?'),
      verdictFacts: p('SELECT id, replayer, issued_at, outcome FROM verdicts WHERE claim_id = ?'),
      hasVerdict: p('SELECT 1 FROM verdicts WHERE id = ?'),
      setState: p('UPDATE claims SET state = ?, state_at = ?, disputed_by = COALESCE(?, disputed_by) WHERE id = ?'),
      listClaims: p('SELECT * FROM claims ORDER BY issued_at DESC, id LIMIT ?'),
      listByState: p('SELECT * FROM claims WHERE state = ? ORDER BY issued_at DESC, id LIMIT ?'),
      pendingBefore: p("SELECT id FROM claims WHERE state = 'pending' AND issued_at < ?"),
      claimsWindow: p(
        'SELECT envelope FROM claims WHERE issued_at >= ? AND issued_at < ? ORDER BY issued_at, id LIMIT ?',
      ),
      countStates: p('SELECT state, COUNT(*) AS n FROM claims GROUP BY state'),
      insertVerdict: p('INSERT OR IGNORE INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?)'),
      verdictsOf: p('SELECT * FROM verdicts WHERE claim_id = ? ORDER BY issued_at, id'),
      listVerdicts: p('SELECT * FROM verdicts ORDER BY received_at DESC, id LIMIT ?'),
      getVerdict: p('SELECT * FROM verdicts WHERE id = ?'),
      verdictsWindow: p(
        'SELECT v.envelope FROM verdicts v JOIN claims c ON c.id = v.claim_id WHERE c.issued_at >= ? AND c.issued_at < ? ORDER BY c.issued_at, v.id LIMIT ?',
      ),
      getPeer: p('SELECT * FROM peers WHERE peer_id = ?'),
      putPeer: p(
        'INSERT INTO peers VALUES (?, ?, ?, ?) ON CONFLICT(peer_id) DO UPDATE SET score = excluded.score, penalties = excluded.penalties, updated_at = excluded.updated_at',
      ),
      listPeers: p('SELECT * FROM peers ORDER BY score, peer_id'),
    };
  }

  /** @returns false when the claim was already stored. */
  addClaim(r: Omit<ClaimRow, 'state' | 'stateAt' | 'disputedBy'>): boolean {
    const added =
      this.#s.insertClaim!.run(
        r.id,
        r.claimer,
        r.issuedAt,
        r.receivedAt,
        r.envelope,
        r.bundleHash,
        'pending',
        r.receivedAt,
      ).changes === 1;
    if (added) this.#remember(r.id, { claimer: r.claimer, issuedAt: r.issuedAt, state: 'pending', disputedBy: null });
    return added;
  }

  #remember(id: string, m: ClaimMeta): void {
    if (this.#meta.size >= 10_000) this.#meta.clear();
    this.#meta.set(id, m);
  }

  claim(id: string): ClaimRow | undefined {
    const r = this.#s.getClaim!.get(id) as Row | undefined;
    return r === undefined ? undefined : claimRow(r);
  }

  /** A claim's row without its envelope (the hot path needs only these). */
  claimMeta(id: string): ClaimMeta | undefined {
    const hit = this.#meta.get(id);
    if (hit !== undefined) return { ...hit };
    const r = this.#s.claimMeta!.get(id) as Row | undefined;
    if (r === undefined) return undefined;
    const m: ClaimMeta = {
      claimer: r.claimer as string,
      issuedAt: Number(r.issued_at),
      state: r.state as ClaimState,
      disputedBy: (r.disputed_by as string | null) ?? null,
    };
    this.#remember(id, m);
    return { ...m };
  }

  /** What the quorum rule reads of a claim's verdicts (no envelopes). */
  verdictFacts(claimId: string): Pick<VerdictRow, 'id' | 'replayer' | 'issuedAt' | 'outcome'>[] {
    return (this.#s.verdictFacts!.all(claimId) as Row[]).map((r) => ({
      id: r.id as string,
      replayer: r.replayer as string,
      issuedAt: Number(r.issued_at),
      outcome: r.outcome as 'match' | 'diverge',
    }));
  }

  /** Whether a claim or verdict with this id is stored (a duplicate is dropped before its signature check). */
  has(kind: 'claim' | 'verdict', id: string): boolean {
    if (kind === 'claim' && this.#meta.has(id)) return true;
    return (kind === 'claim' ? this.#s.hasClaim! : this.#s.hasVerdict!).get(id) !== undefined;
  }

  setState(id: string, state: ClaimState, at: number, disputedBy: string | null = null): void {
    this.#s.setState!.run(state, at, disputedBy, id);
    const m = this.#meta.get(id);
    if (m !== undefined) this.#meta.set(id, { ...m, state, disputedBy: disputedBy ?? m.disputedBy });
  }

  claims(limit: number, state?: ClaimState): ClaimRow[] {
    const rows = state === undefined ? this.#s.listClaims!.all(limit) : this.#s.listByState!.all(state, limit);
    return (rows as Row[]).map(claimRow);
  }

  pendingIssuedBefore(t: number): string[] {
    return (this.#s.pendingBefore!.all(t) as Row[]).map((r) => r.id as string);
  }

  stateCounts(): Record<ClaimState, number> {
    const out: Record<ClaimState, number> = { pending: 0, confirmed: 0, disputed: 0, expired: 0 };
    for (const r of this.#s.countStates!.all() as Row[]) out[r.state as ClaimState] = Number(r.n);
    return out;
  }

  /** @returns false when the verdict was already stored. */
  addVerdict(r: VerdictRow): boolean {
    return (
      this.#s.insertVerdict!.run(r.id, r.claimId, r.replayer, r.issuedAt, r.receivedAt, r.outcome, r.envelope)
        .changes === 1
    );
  }

  verdict(id: string): VerdictRow | undefined {
    const r = this.#s.getVerdict!.get(id) as Row | undefined;
    return r === undefined ? undefined : verdictRow(r);
  }

  verdictsOf(claimId: string): VerdictRow[] {
    return (this.#s.verdictsOf!.all(claimId) as Row[]).map(verdictRow);
  }

  verdicts(limit: number): VerdictRow[] {
    return (this.#s.listVerdicts!.all(limit) as Row[]).map(verdictRow);
  }

  /** Envelopes of claims issued in [from, to), then of their verdicts, at most `limit` of each. */
  window(from: number, to: number, limit: number): { claims: Uint8Array[]; verdicts: Uint8Array[] } {
    const env = (rows: unknown[]): Uint8Array[] => (rows as Row[]).map((r) => new Uint8Array(r.envelope as Uint8Array));
    return {
      claims: env(this.#s.claimsWindow!.all(from, to, limit)),
      verdicts: env(this.#s.verdictsWindow!.all(from, to, limit)),
    };
  }

  peer(peerId: string): PeerRow | undefined {
    const r = this.#s.getPeer!.get(peerId) as Row | undefined;
    return r === undefined
      ? undefined
      : {
          peerId: r.peer_id as string,
          score: Number(r.score),
          penalties: Number(r.penalties),
          updatedAt: Number(r.updated_at),
        };
  }

  putPeer(p: PeerRow): void {
    this.#s.putPeer!.run(p.peerId, p.score, p.penalties, p.updatedAt);
  }

  peers(): PeerRow[] {
    return (this.#s.listPeers!.all() as Row[]).map((r) => ({
      peerId: r.peer_id as string,
      score: Number(r.score),
      penalties: Number(r.penalties),
      updatedAt: Number(r.updated_at),
    }));
  }

  /**
   * Runs `fn` in one transaction: a tick that expires hundreds of claims commits once, not once a
   * claim. Not re-entrant; `fn` must be synchronous (node:sqlite is).
   */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      this.#meta.clear();
      throw e;
    }
  }

  close(): void {
    this.#db.close();
  }
}

/**
 * The escrow service: sequesters speculative evaluations, collects jurors' verdicts, asks the gate
 * and carries out what it decides — and writes every decision with its inputs to a hash-chained
 * audit log (audit/chain-log.ts, the broker's format: `docklock broker audit verify` reads it).
 *
 * Durable state is all in one SQLite database (escrow/db.ts): the state, the escrows, the verdicts
 * and the reputations. The gate's decision is logged (fsync'd) before it is carried out, and the
 * outcome after its transaction. If the process dies between the two, the database is the truth:
 * at the next start every decision without an outcome line gets an `escrow.recover` line saying
 * what the database holds (applied once, or not at all).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ChainLog, type ChainEntry, type ChainLogErrors } from '../audit/chain-log.ts';
import { blake3, toHex, writeFileAtomic } from '../index.ts';
import { type CommitOutcome, EscrowBook, type EscrowInput, type EscrowRecord } from './book.ts';
import { openEscrowDb } from './db.ts';
import { lockDir } from './dir-lock.ts';
import { type EntropyReading, readEntropy } from './entropy.ts';
import { EscrowError } from './errors.ts';
import { EscrowMetrics } from './metrics.ts';
import { GATE_DEFAULTS, type GateDecision, type GateRules, type JurorVerdict, decide } from './gate.ts';
import { REPUTATION_DEFAULTS, type ReputationConfig, Reputations } from './reputation.ts';
import { SqliteStateStore, type StateRead, type StateScan, type StateWrite } from '../state/store.ts';
import { valueHash } from '../state/change-codec.ts';
import { stateChangeOf, verifyBundleBytes } from '../runtime/api/bundle.ts';

/** What the escrow writes to its audit log. */
export interface EscrowAuditEvent {
  action:
    | 'escrow.open'
    | 'escrow.verdict'
    | 'escrow.decide'
    | 'escrow.commit'
    | 'escrow.conflict'
    | 'escrow.rebase'
    | 'escrow.hold'
    | 'escrow.revert'
    | 'escrow.expire'
    | 'escrow.recover';
  escrow: string;
  /** Who acted: `gate`, `operator:<name>`, `client` (revert token), `clock` (TTL). */
  by: string;
  reasons?: readonly string[];
  decision?: Omit<GateDecision, 'reasons'>;
  verdict?: JurorVerdict;
  version?: number;
  resultHash?: string;
}

export interface EscrowConfig {
  readonly gate: GateRules;
  readonly reputation: ReputationConfig;
  /** Default time to live of an escrow. */
  readonly ttlMs: number;
  /** Re-evaluations against a newer snapshot after a conflict before the escrow is held. */
  readonly maxRebases: number;
  /**
   * `full` (default): every acknowledged change survives power loss (SQLite synchronous=FULL, an
   * fsync per transaction). `process`: it survives the process being killed, not the machine
   * losing power (synchronous=NORMAL in WAL mode); several times the decisions per second.
   */
  readonly durability?: 'full' | 'process';
}

export const ESCROW_DEFAULTS: EscrowConfig = {
  gate: GATE_DEFAULTS,
  reputation: REPUTATION_DEFAULTS,
  ttlMs: 3600 * 1000,
  maxRebases: 2,
  durability: 'full',
};

/** What an evaluation produced, to be escrowed. */
export interface SpeculativeResult {
  readonly state: string;
  readonly miner: string;
  readonly submission: Uint8Array;
  readonly resultHash: string;
  /** The run's bundle: what jurors replay. */
  readonly bundle?: Uint8Array;
  readonly base: number;
  readonly reads: readonly StateRead[];
  readonly writes: readonly StateWrite[];
  readonly scans?: readonly StateScan[];
  readonly ttlMs?: number;
}

/** A recorded run to escrow: its bundle says everything else (state, snapshot, change, result). */
export interface RecordedRun {
  readonly bundle: Uint8Array;
  readonly miner: string;
  /** The submission's bytes (entropy, hash); default the bundle's `/input/submission`, else its module. */
  readonly submission?: Uint8Array;
  readonly ttlMs?: number;
}

/** Re-runs an evaluation against a newer snapshot after a conflict. */
export type Reevaluate = (
  record: EscrowRecord,
  base: number,
) => Promise<Omit<SpeculativeResult, 'state' | 'miner' | 'submission' | 'ttlMs'>>;

const ESCROW_AUDIT_ERRORS: ChainLogErrors = {
  chainBroken: (message) => new EscrowError('DL_ERR_ESCROW_AUDIT', message, { field: 'audit' }),
  write: (message, cause) => new EscrowError('DL_ERR_ESCROW_AUDIT', message, { field: 'audit' }, { cause }),
};

const VERDICTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS escrow_verdicts (
  escrow_id TEXT NOT NULL, juror TEXT NOT NULL, result_hash TEXT, detail TEXT, seq INTEGER NOT NULL,
  PRIMARY KEY (escrow_id, juror));
CREATE TABLE IF NOT EXISTS escrow_entropy (escrow_id TEXT PRIMARY KEY, bits_per_byte REAL NOT NULL);
`;

export class Escrow {
  readonly dataDir: string;
  readonly config: EscrowConfig;
  readonly state: SqliteStateStore;
  readonly book: EscrowBook;
  readonly reputations: Reputations;
  /** Prometheus metrics of this escrow (`docklock escrow serve` exposes them at /metrics). */
  readonly metrics: EscrowMetrics;
  readonly #db: DatabaseSync;
  readonly #audit: ChainLog<EscrowAuditEvent>;
  readonly #s: Record<'addVerdict' | 'verdicts' | 'clearVerdicts' | 'putEntropy' | 'entropy', StatementSync>;
  readonly #unlock: () => void;
  readonly #commits: {
    id: string;
    reason: string;
    also: () => void;
    resolve: (o: CommitOutcome) => void;
    reject: (e: unknown) => void;
  }[] = [];
  #seq = 0;

  private constructor(
    dataDir: string,
    config: EscrowConfig,
    db: DatabaseSync,
    audit: ChainLog<EscrowAuditEvent>,
    now: () => number,
    unlock: () => void,
  ) {
    this.#unlock = unlock;
    this.dataDir = dataDir;
    this.config = config;
    this.#db = db;
    this.#audit = audit;
    this.state = new SqliteStateStore(db);
    this.book = new EscrowBook(db, this.state, now);
    this.reputations = new Reputations(db, config.reputation, now);
    this.metrics = new EscrowMetrics(() => this.book.countByStatus());
    db.exec(VERDICTS_SCHEMA);
    const p = (sql: string): StatementSync => db.prepare(sql);
    this.#s = {
      addVerdict: p('INSERT OR IGNORE INTO escrow_verdicts VALUES (?, ?, ?, ?, ?)'),
      verdicts: p('SELECT juror, result_hash, detail FROM escrow_verdicts WHERE escrow_id = ? ORDER BY seq, juror'),
      clearVerdicts: p('DELETE FROM escrow_verdicts WHERE escrow_id = ?'),
      putEntropy: p('INSERT OR REPLACE INTO escrow_entropy VALUES (?, ?)'),
      entropy: p('SELECT bits_per_byte FROM escrow_entropy WHERE escrow_id = ?'),
    };
    const max = db.prepare('SELECT max(seq) AS m FROM escrow_verdicts').get() as { m: number | null };
    this.#seq = (max.m ?? 0) + 1;
  }

  /** Opens (or creates) an escrow in `dataDir`: `escrow.db`, `audit.jsonl`, `bundles/`. */
  static async open(
    dataDir: string,
    config: EscrowConfig = ESCROW_DEFAULTS,
    now: () => number = Date.now,
  ): Promise<Escrow> {
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new EscrowError(
        'DL_ERR_ESCROW_STORE',
        (err as NodeJS.ErrnoException).code === 'EEXIST'
          ? `the escrow data directory ${dataDir} is a file, not a directory`
          : `cannot create the escrow data directory ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { field: 'dataDir' },
        { cause: err },
      );
    }
    const unlock = lockDir(dataDir);
    let db: DatabaseSync;
    try {
      db = openEscrowDb(dataDir, config.durability ?? 'full');
    } catch (err) {
      unlock();
      throw err;
    }
    try {
      const audit = await ChainLog.openChain<EscrowAuditEvent>(join(dataDir, 'audit.jsonl'), ESCROW_AUDIT_ERRORS);
      mkdirSync(join(dataDir, 'bundles'), { recursive: true, mode: 0o700 });
      const escrow = new Escrow(dataDir, config, db, audit, now, unlock);
      await escrow.#recover();
      return escrow;
    } catch (err) {
      db.close();
      unlock();
      throw err;
    }
  }

  async close(): Promise<void> {
    try {
      await this.#audit.close();
      this.#db.close();
    } finally {
      this.#unlock();
    }
  }

  /**
   * Escrows a recorded run of a challenge with the `state` grant. Fails closed before anything is
   * stored: the bundle must verify, the run must have exited 0, and every value it read must be
   * what this store held at its snapshot (a run recorded elsewhere, or a bundle edited to claim
   * other values, is refused).
   * @throws {EscrowError} `DL_ERR_ESCROW_RUN` for a bundle that cannot be escrowed.
   */
  async escrowRun(run: RecordedRun): Promise<{ record: EscrowRecord; revertToken: string }> {
    const refuse = (message: string): never => {
      throw new EscrowError('DL_ERR_ESCROW_RUN', message, { field: 'bundle' });
    };
    let v: ReturnType<typeof verifyBundleBytes>;
    try {
      v = verifyBundleBytes(run.bundle);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return refuse(`the bundle does not decode (${e.code ?? 'error'}: ${e.message ?? String(err)})`);
    }
    if (!v.ok) refuse(`the bundle does not verify: ${v.problems.map((p) => p.message).join('; ')}`);
    const b = v.bundle;
    if (b.result.status !== 'exited' || b.result.exitCode !== 0)
      refuse(
        `the run ended ${b.result.status}${b.result.exitCode === null ? '' : ` with exit code ${b.result.exitCode}`}; only a run that exited 0 is escrowed`,
      );
    const change = stateChangeOf(b.witness);
    if (change === null) return refuse('the run has no state change: its manifest does not grant `state`');
    if (change.version > this.state.head(change.state))
      refuse(`the run read version ${change.version} of "${change.state}", which this store has not reached`);
    const mismatch = this.state.snapshotMismatch({ ...change, base: change.version }, valueHash);
    if (mismatch !== undefined) refuse(`the run's reads are not this store's state: ${mismatch}`);
    return this.escrow({
      state: change.state,
      miner: run.miner,
      submission: run.submission ?? b.inputs.get('/input/submission') ?? b.module,
      resultHash: toHex(b.resultHash),
      bundle: run.bundle,
      base: change.version,
      reads: change.reads,
      writes: change.writes,
      scans: change.scans,
      ...(run.ttlMs === undefined ? {} : { ttlMs: run.ttlMs }),
    });
  }

  /** Sequesters a result: stores its bundle, reads the submission's entropy, opens the escrow. */
  async escrow(result: SpeculativeResult): Promise<{ record: EscrowRecord; revertToken: string }> {
    let bundleHash: string | undefined;
    if (result.bundle !== undefined) {
      bundleHash = toHex(blake3(result.bundle));
      await writeFileAtomic(this.bundlePath(bundleHash), result.bundle);
    }
    const input: EscrowInput = {
      state: result.state,
      miner: result.miner,
      submissionHash: toHex(blake3(result.submission)),
      resultHash: result.resultHash,
      ...(bundleHash === undefined ? {} : { bundleHash }),
      base: result.base,
      reads: result.reads,
      writes: result.writes,
      ...(result.scans === undefined ? {} : { scans: result.scans }),
      ttlMs: result.ttlMs ?? this.config.ttlMs,
    };
    const opened = this.book.open(input);
    if (this.config.gate.entropy !== undefined)
      this.#s.putEntropy.run(opened.record.id, readEntropy(result.submission, this.config.gate.entropy).bitsPerByte);
    await this.#log({ action: 'escrow.open', escrow: opened.record.id, by: 'client', resultHash: result.resultHash });
    return opened;
  }

  bundlePath(hash: string): string {
    if (!/^[0-9a-f]{64}$/.test(hash))
      throw new EscrowError('DL_ERR_ESCROW_NOT_FOUND', `${JSON.stringify(hash)} is not a bundle hash`, {
        field: 'bundleHash',
      });
    return join(this.dataDir, 'bundles', `${hash}.dlb`);
  }

  /** The escrow's bundle bytes, checked against its hash. */
  bundleOf(record: EscrowRecord): Uint8Array {
    if (record.bundleHash === null)
      throw new EscrowError('DL_ERR_ESCROW_NOT_FOUND', `escrow ${record.id} has no bundle to replay`, {
        field: 'bundleHash',
      });
    const bytes = new Uint8Array(readFileSync(this.bundlePath(record.bundleHash)));
    if (toHex(blake3(bytes)) !== record.bundleHash)
      throw new EscrowError(
        'DL_ERR_ESCROW_CORRUPT',
        `the stored bundle of escrow ${record.id} does not match its hash`,
        {
          field: 'bundleHash',
        },
      );
    return bytes;
  }

  /**
   * Records a juror's verdict (a juror's first verdict counts) and, unless told not to, lets the
   * gate decide. Verdicts arriving one by one (a P2P node's) commit as soon as the quorum matches.
   */
  async addVerdict(
    id: string,
    verdict: JurorVerdict,
    options: { reevaluate?: Reevaluate; decide?: boolean } = {},
  ): Promise<GateDecision> {
    await this.addVerdicts(id, [verdict]);
    return options.decide === false ? this.gateDecision(this.book.get(id)) : this.decide(id, options.reevaluate);
  }

  /**
   * Records a jury's verdicts together: one transaction for all of them (one fsync, not one each),
   * their audit entries in one write. The gate is not asked; `decide` does that once.
   */
  async addVerdicts(id: string, verdicts: readonly JurorVerdict[]): Promise<void> {
    this.book.get(id);
    const added: JurorVerdict[] = [];
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const v of verdicts)
        if (this.#s.addVerdict.run(id, v.juror, v.resultHash, v.detail ?? null, this.#seq++).changes === 1)
          added.push(v);
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
    await Promise.all(added.map((v) => this.#log({ action: 'escrow.verdict', escrow: id, by: v.juror, verdict: v })));
  }

  verdicts(id: string): JurorVerdict[] {
    return (this.#s.verdicts.all(id) as { juror: string; result_hash: string | null; detail: string | null }[]).map(
      (r) => ({
        juror: r.juror,
        resultHash: r.result_hash,
        ...(r.detail === null ? {} : { detail: r.detail }),
      }),
    );
  }

  /** What the gate says now, from the stored verdicts. Pure: changes nothing. */
  gateDecision(record: EscrowRecord): GateDecision {
    const band = this.config.gate.entropy;
    const h = this.#s.entropy.get(record.id) as { bits_per_byte: number } | undefined;
    const entropy: EntropyReading | null =
      band === undefined || h === undefined
        ? null
        : { bitsPerByte: h.bits_per_byte, flagged: Math.abs(h.bits_per_byte - band.baseline) > band.tolerance, band };
    return decide({
      resultHash: record.resultHash,
      verdicts: this.verdicts(record.id),
      reputation: this.reputations.of(record.miner),
      entropy,
      rules: this.config.gate,
    });
  }

  /**
   * Asks the gate and carries out its decision. A commit that conflicts is re-evaluated against the
   * newer snapshot (its jury starts again) up to `maxRebases` times, then held.
   */
  async decide(id: string, reevaluate?: Reevaluate): Promise<GateDecision> {
    const record = this.book.get(id);
    if (record.status !== 'pending') return this.gateDecision(record);
    const d = this.gateDecision(record);
    if (d.outcome === 'wait') return d;
    const { reasons, ...decision } = d;
    this.metrics.decisions.inc({ outcome: d.outcome });
    await this.#log({ action: 'escrow.decide', escrow: id, by: 'gate', reasons, decision });
    if (d.outcome === 'revert') await this.revert(id, { by: 'gate' }, reasons.join('; '));
    else if (d.outcome === 'hold') await this.hold(id, 'gate', reasons.join('; '));
    else if (d.outcome === 'commit') await this.#commit(record, 'gate', reasons.join('; '), reevaluate);
    return d;
  }

  async #commit(record: EscrowRecord, by: string, reason: string, reevaluate?: Reevaluate): Promise<void> {
    const stopTimer = this.metrics.commitSeconds.startTimer();
    const out = await this.#commitTogether(record.id, reason, () => this.reputations.record(record.miner, 'committed'));
    stopTimer();
    if (out.committed) {
      await this.#log({ action: 'escrow.commit', escrow: record.id, by, version: out.version, reasons: [reason] });
      return;
    }
    const c = out.conflict;
    const what = { read: 'a key it read', write: 'a key it writes', scan: 'the state it scanned' }[c.kind];
    const why = `${what} moved from version ${c.expected} to ${c.current} (key 0x${Buffer.from(c.key).toString('hex')})`;
    await this.#log({ action: 'escrow.conflict', escrow: record.id, by, reasons: [why] });
    if (reevaluate === undefined || record.attempts >= this.config.maxRebases) {
      await this.hold(
        record.id,
        by,
        `${why}; ${reevaluate === undefined ? 'no re-evaluation available' : `${record.attempts} re-evaluations already`}: review`,
      );
      return;
    }
    const base = this.state.head(record.state);
    let next: Awaited<ReturnType<Reevaluate>>;
    try {
      next = await reevaluate(record, base);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      await this.hold(
        record.id,
        by,
        `${why}; re-evaluation at version ${base} failed (${e.code ?? 'error'}: ${e.message ?? String(err)}): review`,
      );
      return;
    }
    let bundleHash: string | undefined;
    if (next.bundle !== undefined) {
      bundleHash = toHex(blake3(next.bundle));
      await writeFileAtomic(this.bundlePath(bundleHash), next.bundle);
    }
    this.book.rebase(record.id, { ...next, base: next.base, ...(bundleHash === undefined ? {} : { bundleHash }) });
    this.#s.clearVerdicts.run(record.id);
    await this.#log({
      action: 'escrow.rebase',
      escrow: record.id,
      by,
      version: next.base,
      resultHash: next.resultHash,
      reasons: [why],
    });
  }

  /**
   * Commits made in the same turn of the event loop (decisions in flight finish together) go into
   * one SQLite transaction: one fsync for all of them, each still applied as if alone.
   */
  #commitTogether(id: string, reason: string, also: () => void): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      this.#commits.push({ id, reason, also, resolve, reject });
      if (this.#commits.length === 1)
        setImmediate(() => {
          const batch = this.#commits.splice(0);
          let outs: (CommitOutcome | Error)[];
          try {
            outs = this.book.commitAll(batch);
          } catch (err) {
            for (const b of batch) b.reject(err);
            return;
          }
          outs.forEach((o, i) => (o instanceof Error ? batch[i]!.reject(o) : batch[i]!.resolve(o)));
        });
    });
  }

  /** A person's commit of a held (or pending) escrow. */
  async commitByOperator(id: string, operator: string, reason: string): Promise<EscrowRecord> {
    await this.#commit(this.book.get(id), `operator:${operator}`, reason);
    return this.book.get(id);
  }

  async hold(id: string, by: string, reason: string): Promise<EscrowRecord> {
    const r = this.book.hold(id, reason);
    await this.#log({ action: 'escrow.hold', escrow: id, by, reasons: [reason] });
    return r;
  }

  /** Reverts with the client's token, or by the gate or an operator; a gate revert lowers reputation. */
  async revert(id: string, authority: { token: string } | { by: string }, reason: string): Promise<EscrowRecord> {
    const r = this.book.revert(id, authority, reason);
    const by = 'token' in authority ? 'client' : authority.by;
    if (by === 'gate') this.reputations.record(r.miner, 'reverted');
    await this.#log({ action: 'escrow.revert', escrow: id, by, reasons: [reason] });
    return r;
  }

  /** Ends pending escrows whose time to live ran out. */
  async expire(): Promise<string[]> {
    const ids = this.book.expire();
    for (const id of ids) await this.#log({ action: 'escrow.expire', escrow: id, by: 'clock' });
    return ids;
  }

  /** Closes decisions the last process logged but did not live to log the outcome of. */
  async #recover(): Promise<void> {
    const open = new Set<string>();
    for (const e of await this.#audit.entries()) {
      if (e.action === 'escrow.decide') open.add(e.escrow);
      else if (e.action !== 'escrow.verdict' && e.action !== 'escrow.open') open.delete(e.escrow);
    }
    for (const id of open) {
      const r = this.book.get(id);
      await this.#log({
        action: 'escrow.recover',
        escrow: id,
        by: 'recovery',
        reasons: [`the process stopped after the gate decided; the database holds it as ${r.status}`],
        ...(r.committedVersion === null ? {} : { version: r.committedVersion }),
      });
    }
  }

  #log(event: EscrowAuditEvent): Promise<ChainEntry<EscrowAuditEvent>> {
    this.metrics.events.inc({ action: event.action.slice('escrow.'.length) });
    return this.#audit.append(event);
  }
}

/**
 * Miner reputation: a score in [min, max] that the gate reads to size the jury and the review
 * threshold. Outcomes move it (a commit raises it by `commitGain` of the distance to `max`, a
 * revert lowers it by `revertLoss`), and it decays toward `initial` with a half-life, so old good
 * or bad behaviour fades and nobody is locked out forever.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';

export interface ReputationConfig {
  readonly initial: number;
  readonly min: number;
  readonly max: number;
  readonly commitGain: number;
  readonly revertLoss: number;
  readonly halfLifeMs: number;
}

export const REPUTATION_DEFAULTS: ReputationConfig = {
  initial: 0.5,
  min: 0,
  max: 1,
  commitGain: 0.1,
  revertLoss: 0.25,
  halfLifeMs: 7 * 24 * 3600 * 1000,
};

/** The score `score` recorded at `at` has decayed to by `now`. */
export function decayed(score: number, at: number, now: number, c: ReputationConfig): number {
  const dt = Math.max(0, now - at);
  return c.initial + (score - c.initial) * 0.5 ** (dt / c.halfLifeMs);
}

/** The score after one outcome, bounded. */
export function moved(score: number, outcome: 'committed' | 'reverted', c: ReputationConfig): number {
  const next = outcome === 'committed' ? score + (c.max - score) * c.commitGain : score - c.revertLoss;
  return Math.min(c.max, Math.max(c.min, next));
}

export class Reputations {
  readonly #config: ReputationConfig;
  readonly #now: () => number;
  readonly #get: StatementSync;
  readonly #put: StatementSync;

  constructor(db: DatabaseSync, config: ReputationConfig = REPUTATION_DEFAULTS, now: () => number = Date.now) {
    this.#config = config;
    this.#now = now;
    db.exec(
      'CREATE TABLE IF NOT EXISTS reputations (miner TEXT PRIMARY KEY, score REAL NOT NULL, updated_at INTEGER NOT NULL)',
    );
    this.#get = db.prepare('SELECT score, updated_at FROM reputations WHERE miner = ?');
    this.#put = db.prepare(
      'INSERT INTO reputations VALUES (?, ?, ?) ON CONFLICT(miner) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at',
    );
  }

  /** The miner's score now (the initial score for a miner never seen). */
  of(miner: string): number {
    const r = this.#get.get(miner) as { score: number; updated_at: number } | undefined;
    return r === undefined ? this.#config.initial : decayed(r.score, Number(r.updated_at), this.#now(), this.#config);
  }

  /** Records an outcome; returns the new score. */
  record(miner: string, outcome: 'committed' | 'reverted'): number {
    const next = moved(this.of(miner), outcome, this.#config);
    this.#put.run(miner, next, this.#now());
    return next;
  }
}

/**
 * The breaker's recent events, newest last, in a fixed-size ring (the audit log keeps them all).
 * `GET /v1/breaker/history` reads it, filtered to the caller's services unless the caller is an
 * admin.
 */
import type { BreakerAction } from './rules.ts';

/** What happened to one trip. */
export type BreakerOutcome = 'acted' | 'suppressed' | 'failed';

/** One trip and what the breaker did about it. */
export interface BreakerEvent {
  seq: number;
  /** ISO time of the trip. */
  time: string;
  /** Container ID. */
  id: string;
  service: string;
  owner: string;
  rule: string;
  /** The rule's expression. */
  expression: string;
  action: BreakerAction;
  outcome: BreakerOutcome;
  /** `ok`, a suppression reason (`grace`, `cooldown`, `monitor`, …) or an error code. */
  reason: string;
  mode: 'enforce' | 'monitor';
  /** How long the condition had held, ms. */
  heldMs: number;
  /** Values of the signals the rule reads, at the trip. */
  signals: Record<string, number>;
  /** Identical suppressed trips folded into this one since the previous event of the kind. */
  repeats: number;
  /** Failure message, for `failed`. */
  detail?: string;
}

/** A bounded event list. */
export class BreakerHistory {
  #cap: number;
  #ring: (BreakerEvent | undefined)[];
  #next = 0;
  #seq = 0;

  constructor(capacity: number) {
    this.#cap = capacity;
    this.#ring = new Array<BreakerEvent | undefined>(capacity);
  }

  /** Adds an event, assigning its `seq`. */
  add(e: Omit<BreakerEvent, 'seq'>): BreakerEvent {
    const ev: BreakerEvent = { seq: this.#seq++, ...e };
    this.#ring[this.#next] = ev;
    this.#next = (this.#next + 1) % this.#cap;
    return ev;
  }

  /**
   * Refills the history from the audit log's breaker entries, oldest first (at start, so
   * `GET /v1/breaker/history` answers across restarts); only the newest `capacity` stay.
   * @returns how many events were restored
   */
  restore(entries: readonly { breaker?: Omit<BreakerEvent, 'seq'> }[]): number {
    let n = 0;
    for (const e of entries) {
      if (e.breaker === undefined) continue;
      this.add(e.breaker);
      n++;
    }
    return n;
  }

  /**
   * Events, oldest first.
   * @param filter - owner (omit for all), service name or ID, and the newest `limit`
   */
  list(filter: { owner?: string; service?: string; limit?: number } = {}): BreakerEvent[] {
    const out: BreakerEvent[] = [];
    for (let k = 0; k < this.#cap; k++) {
      const e = this.#ring[(this.#next + k) % this.#cap];
      if (e === undefined) continue;
      if (filter.owner !== undefined && e.owner !== filter.owner) continue;
      if (filter.service !== undefined && e.service !== filter.service && e.id !== filter.service) continue;
      out.push(e);
    }
    if (filter.limit === undefined) return out;
    // slice(-0) is the whole array: a limit of 0 asks for none.
    return filter.limit === 0 ? [] : out.slice(-filter.limit);
  }
}

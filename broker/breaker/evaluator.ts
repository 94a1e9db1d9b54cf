/**
 * Pure rule evaluation: samples in, trips out, the clock passed in. A rule trips when its
 * condition has held on every sample for at least its `for` duration; it then re-arms, so a
 * condition that keeps holding trips again after another full duration. A sample on which the
 * condition does not hold resets it.
 *
 * | t (s) | pids_per_sec | `pids_per_sec > 50 for 2s` |
 * |---|---|---|
 * | 0 | 80 | holding since 0 |
 * | 1 | 90 | held 1 s |
 * | 2 | 85 | held 2 s → **trip**, re-armed at 2 |
 * | 3 | 10 | reset |
 */
import { ruleMatches } from './rules.ts';
import type { Rule } from './rules.ts';
import type { Signals } from './signals/sample.ts';

/** A rule whose condition held long enough. */
export interface Trip {
  rule: Rule;
  /** When the condition started holding (ms). */
  since: number;
  at: number;
}

/** Tracks, per service and rule, since when each condition has held. */
export class Evaluator {
  readonly rules: readonly Rule[];
  #since = new Map<string, Map<string, number>>();

  constructor(rules: readonly Rule[]) {
    this.rules = rules;
  }

  /**
   * Feeds one service's signals.
   * @param service - a stable key (the container ID)
   * @param signals - derived signals of the newest sample
   * @param now - clock time of the sample, ms
   * @param only - evaluate these rules only (the others' state is left as it is); default all
   * @returns the rules that tripped on this sample
   */
  step(service: string, signals: Signals, now: number, only: readonly Rule[] = this.rules): Trip[] {
    let state = this.#since.get(service);
    if (state === undefined) {
      state = new Map();
      this.#since.set(service, state);
    }
    const trips: Trip[] = [];
    for (const rule of only) {
      if (!ruleMatches(rule, signals)) {
        state.delete(rule.name);
        continue;
      }
      const since = state.get(rule.name) ?? now;
      if (now - since >= rule.forMs) {
        trips.push({ rule, since, at: now });
        state.set(rule.name, now);
      } else state.set(rule.name, since);
    }
    return trips;
  }

  /** Forgets a service (it stopped or was removed). */
  forget(service: string): void {
    this.#since.delete(service);
  }
}

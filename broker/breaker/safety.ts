/**
 * The breaker's safety limits, checked in this order before any action:
 *
 * 1. `not_owned`: the container does not carry the broker's labels — never touched;
 * 2. `grace`: the service started less than `grace` ago;
 * 3. `cooldown`: the breaker acted on this service less than `cooldown` ago;
 * 4. `service_hourly_cap`: `maxActionsPerHour.perService` actions on it in the last hour;
 * 5. `total_hourly_cap`: `maxActionsPerHour.total` actions on all services in the last hour;
 * 6. `monitor`: monitor mode — report what would have been done, do nothing.
 *
 * Suppressed trips do not count towards cooldown or caps, except in monitor mode, where the
 * would-be action is recorded so the report shows what enforce mode would have done. The clock is
 * passed in.
 */

/** Why an action was not taken. */
export type SuppressReason = 'not_owned' | 'grace' | 'cooldown' | 'service_hourly_cap' | 'total_hourly_cap' | 'monitor';
export const SUPPRESS_REASONS: readonly SuppressReason[] = [
  'not_owned',
  'grace',
  'cooldown',
  'service_hourly_cap',
  'total_hourly_cap',
  'monitor',
];

/** Limits; all durations in ms. */
export interface SafetyLimits {
  mode: 'enforce' | 'monitor';
  graceMs: number;
  cooldownMs: number;
  maxPerServicePerHour: number;
  maxTotalPerHour: number;
}

const HOUR_MS = 3_600_000;

/** Decides whether a trip may become an action, and remembers actions taken. */
export class SafetyGate {
  readonly limits: SafetyLimits;
  #byService = new Map<string, number[]>();
  #all: number[] = [];

  constructor(limits: SafetyLimits) {
    this.limits = limits;
  }

  /**
   * @param service - container ID
   * @param owned - whether the container carries the broker's managed and owner labels
   * @param startedAt - when the service (re)started, ms on the same clock
   * @param now - the clock
   * @returns undefined when the action may go ahead, else why not
   */
  check(service: string, owned: boolean, startedAt: number, now: number): SuppressReason | undefined {
    if (!owned) return 'not_owned';
    if (now - startedAt < this.limits.graceMs) return 'grace';
    const mine = this.#prune(this.#byService.get(service), now);
    const last = mine[mine.length - 1];
    if (last !== undefined && now - last < this.limits.cooldownMs) return 'cooldown';
    if (mine.length >= this.limits.maxPerServicePerHour) return 'service_hourly_cap';
    this.#all = this.#prune(this.#all, now);
    if (this.#all.length >= this.limits.maxTotalPerHour) return 'total_hourly_cap';
    if (this.limits.mode === 'monitor') return 'monitor';
    return undefined;
  }

  /** Records an action taken on a service (counts towards cooldown and both caps). */
  record(service: string, now: number): void {
    const mine = this.#prune(this.#byService.get(service), now);
    mine.push(now);
    this.#byService.set(service, mine);
    this.#all.push(now);
  }

  /** Actions in the last hour (all services). */
  actionsLastHour(now: number): number {
    this.#all = this.#prune(this.#all, now);
    return this.#all.length;
  }

  #prune(list: number[] | undefined, now: number): number[] {
    if (list === undefined) return [];
    let k = 0;
    while (k < list.length && now - list[k]! >= HOUR_MS) k++;
    return k === 0 ? list : list.slice(k);
  }
}

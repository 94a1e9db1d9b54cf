/**
 * The breaker's safety limits, checked in this order before any action:
 *
 * 1. `not_owned`: the container does not carry the broker's labels — never touched;
 * 2. `grace`: the service started less than `grace` ago, and has not tripped a rule in the last
 *    hour (see below);
 * 3. `cooldown`: the breaker acted on this service less than `cooldown` ago;
 * 4. `service_hourly_cap`: `maxActionsPerHour.perService` actions on it in the last hour;
 * 5. `total_hourly_cap`: `maxActionsPerHour.total` actions on all services in the last hour;
 * 6. `owner_hourly_cap`: `maxActionsPerHour.perOwner` actions on the owner's services in the last
 *    hour, so one owner's runaways cannot use up the total and leave other owners' unchecked;
 * 7. `monitor`: monitor mode — report what would have been done, do nothing.
 *
 * Everything is keyed by the service (owner and name), never by the container: a restart keeps
 * the ID but resets Docker's `StartedAt`, and a remove-and-deploy makes a new ID, and neither may
 * buy a service a fresh grace, cooldown or cap. A service that tripped a rule (a "strike") within
 * the last hour keeps the grace it was given at its first strike: restarting it does not start a
 * new one.
 *
 * Suppressed trips do not count towards cooldown or caps, except in monitor mode, where the
 * would-be action is recorded so the report shows what enforce mode would have done. The clock is
 * passed in.
 */

/** Why an action was not taken. */
export type SuppressReason =
  | 'not_owned'
  | 'grace'
  | 'cooldown'
  | 'service_hourly_cap'
  | 'total_hourly_cap'
  | 'owner_hourly_cap'
  | 'monitor';
export const SUPPRESS_REASONS: readonly SuppressReason[] = [
  'not_owned',
  'grace',
  'cooldown',
  'service_hourly_cap',
  'total_hourly_cap',
  'owner_hourly_cap',
  'monitor',
];

/** Limits; all durations in ms. */
export interface SafetyLimits {
  mode: 'enforce' | 'monitor';
  graceMs: number;
  cooldownMs: number;
  maxPerServicePerHour: number;
  maxTotalPerHour: number;
  /** Default: no per-owner limit beyond the total. */
  maxPerOwnerPerHour?: number;
}

/** What the gate needs to know about the service a trip is on. */
export interface SafetySubject {
  owner: string;
  /** The service name (unique per owner). */
  name: string;
  /** Whether the container carries the broker's managed and owner labels. */
  owned: boolean;
  /** When the container (re)started, ms on the gate's clock. */
  startedAt: number;
}

/** One breaker event as the audit log keeps it, for rebuilding the gate after a broker restart. */
export interface PastTrip {
  owner: string;
  service: string;
  /** ISO time of the trip. */
  time: string;
  outcome: 'acted' | 'suppressed' | 'failed';
  reason: string;
}

const HOUR_MS = 3_600_000;

/** The key of a service: owner and name never contain `/`. */
export function serviceKey(owner: string, name: string): string {
  return `${owner}/${name}`;
}

interface ServiceState {
  /** Actions (ms) in the last hour. */
  actions: number[];
  /** Trips (ms) in the last hour, acted on or not. */
  strikes: number[];
  /** The start time the grace counts from while there are strikes. */
  graceFrom: number;
}

/** Decides whether a trip may become an action, and remembers trips and actions. */
export class SafetyGate {
  readonly limits: SafetyLimits;
  #services = new Map<string, ServiceState>();
  #owners = new Map<string, number[]>();
  #all: number[] = [];

  constructor(limits: SafetyLimits) {
    this.limits = limits;
  }

  /**
   * @param s - the service the trip is on
   * @param now - the clock
   * @returns undefined when the action may go ahead, else why not
   */
  check(s: SafetySubject, now: number): SuppressReason | undefined {
    if (!s.owned) return 'not_owned';
    const st = this.#state(serviceKey(s.owner, s.name), now);
    const from = st.strikes.length > 0 ? Math.min(st.graceFrom, s.startedAt) : s.startedAt;
    if (now - from < this.limits.graceMs) return 'grace';
    const last = st.actions[st.actions.length - 1];
    if (last !== undefined && now - last < this.limits.cooldownMs) return 'cooldown';
    if (st.actions.length >= this.limits.maxPerServicePerHour) return 'service_hourly_cap';
    this.#all = prune(this.#all, now);
    if (this.#all.length >= this.limits.maxTotalPerHour) return 'total_hourly_cap';
    const mine = prune(this.#owners.get(s.owner), now);
    this.#owners.set(s.owner, mine);
    if (this.limits.maxPerOwnerPerHour !== undefined && mine.length >= this.limits.maxPerOwnerPerHour)
      return 'owner_hourly_cap';
    if (this.limits.mode === 'monitor') return 'monitor';
    return undefined;
  }

  /**
   * Records a trip, acted on or not: from the first strike of an hour on, the service's grace
   * counts from the start it had then, whatever restarts follow.
   */
  strike(s: Pick<SafetySubject, 'owner' | 'name' | 'startedAt'>, now: number): void {
    const st = this.#state(serviceKey(s.owner, s.name), now);
    if (st.strikes.length === 0) st.graceFrom = s.startedAt;
    st.strikes.push(now);
  }

  /** Records an action taken on a service (counts towards cooldown and every cap). */
  record(s: Pick<SafetySubject, 'owner' | 'name'>, now: number): void {
    this.#state(serviceKey(s.owner, s.name), now).actions.push(now);
    const mine = prune(this.#owners.get(s.owner), now);
    mine.push(now);
    this.#owners.set(s.owner, mine);
    this.#all.push(now);
  }

  /**
   * Rebuilds strikes and actions of the last hour from the audit log's breaker events (oldest
   * first) at a broker start, so restarting the broker buys no service a fresh grace, cooldown or
   * cap. The start a past strike's grace counted from is not recorded: it is taken as the strike's
   * time less the grace (the grace is over by then), the earliest it can have been.
   */
  restore(events: readonly PastTrip[], now: number): void {
    for (const e of events) {
      const at = Date.parse(e.time);
      // A trip on a container that was not the broker's was never a strike (see `#handle`).
      if (!Number.isFinite(at) || now - at >= HOUR_MS || at > now || e.reason === 'not_owned') continue;
      const s = { owner: e.owner, name: e.service, startedAt: at - this.limits.graceMs };
      this.strike(s, at);
      // What `#handle` counted: every action tried (acted or failed) and monitor mode's would-be actions.
      if (e.outcome !== 'suppressed' || e.reason === 'monitor') this.record(s, at);
    }
  }

  /**
   * Whether a service's circuit is open: in enforce mode, the service (or its owner) has used its
   * hourly cap, so the breaker could not act on it again. The broker then refuses to start it.
   * @returns which cap, and when the oldest action counted leaves the window (ms); undefined when closed
   */
  open(
    owner: string,
    name: string,
    now: number,
  ): { cap: 'service_hourly_cap' | 'owner_hourly_cap'; actions: number; until: number } | undefined {
    if (this.limits.mode !== 'enforce') return undefined;
    const st = this.#services.get(serviceKey(owner, name));
    if (st !== undefined) {
      st.actions = prune(st.actions, now);
      if (st.actions.length >= this.limits.maxPerServicePerHour)
        return { cap: 'service_hourly_cap', actions: st.actions.length, until: st.actions[0]! + HOUR_MS };
    }
    const cap = this.limits.maxPerOwnerPerHour;
    if (cap === undefined) return undefined;
    const mine = prune(this.#owners.get(owner), now);
    this.#owners.set(owner, mine);
    return mine.length >= cap
      ? { cap: 'owner_hourly_cap', actions: mine.length, until: mine[0]! + HOUR_MS }
      : undefined;
  }

  /** Actions in the last hour (all services). */
  actionsLastHour(now: number): number {
    this.#all = prune(this.#all, now);
    return this.#all.length;
  }

  #state(key: string, now: number): ServiceState {
    let st = this.#services.get(key);
    if (st === undefined) {
      st = { actions: [], strikes: [], graceFrom: 0 };
      this.#services.set(key, st);
    }
    st.actions = prune(st.actions, now);
    st.strikes = prune(st.strikes, now);
    return st;
  }
}

function prune(list: number[] | undefined, now: number): number[] {
  if (list === undefined) return [];
  let k = 0;
  while (k < list.length && now - list[k]! >= HOUR_MS) k++;
  return k === 0 ? list : list.slice(k);
}

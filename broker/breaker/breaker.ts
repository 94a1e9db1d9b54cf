/**
 * The circuit breaker: every `interval` it lists the running broker-owned services, reads each
 * one's counters, derives signals, evaluates the rules, passes every trip through the safety gate
 * and acts (or records why not). Each trip becomes one history event and one audit entry:
 *
 * | audit `action` | `decision` | when |
 * |---|---|---|
 * | `breaker.action` | allowed | the action was taken |
 * | `breaker.suppressed` | denied | grace, cooldown, an hourly cap, monitor mode or not owned (`reason` says which) |
 * | `breaker.failed` | error | Docker refused the action (`DL_ERR_BREAKER_ACTION`) |
 * | `breaker.watch` | info | a service is first sampled: its source and which signals hold |
 *
 * Repeats of the same suppressed trip (service, rule, reason) within one cooldown are counted in
 * the metrics and folded into the next event's `repeats` instead of each writing a line.
 */
import type { AuditEvent } from '../audit.ts';
import { Errors } from '../errors.ts';
import type { BreakerConfig } from './config.ts';
import { Evaluator } from './evaluator.ts';
import type { Trip } from './evaluator.ts';
import { BreakerHistory } from './history.ts';
import type { BreakerEvent } from './history.ts';
import type { BreakerMetrics } from './metrics.ts';
import { ruleSignals } from './rules.ts';
import type { Rule } from './rules.ts';
import { SafetyGate, serviceKey } from './safety.ts';
import type { SuppressReason } from './safety.ts';
import { SIGNALS, deriveSignals } from './signals/sample.ts';
import type { RawSample, Signals } from './signals/sample.ts';
import type { Actuator, Inventory, SignalSource, WatchedService } from './sources.ts';

/** Where audit entries go (the broker's AuditLog). */
export interface AuditSink {
  append(e: AuditEvent): Promise<unknown>;
}

/** What the breaker needs; tests inject recorded sources, a fake actuator and a manual clock. */
export interface BreakerDeps {
  config: BreakerConfig;
  inventory: Inventory;
  source: SignalSource;
  actuator: Actuator;
  audit: AuditSink;
  metrics: BreakerMetrics;
  /** Wall clock, ms. Default `Date.now`. */
  now?: () => number;
  /** Cores for CPU % of services without a CPU limit. */
  hostCores: number;
}

/** The signals a task-count reading alone supports: rules reading only these run on the fast sampler. */
const FAST_SIGNALS = new Set(['pids', 'pids_per_sec', 'pids_pct']);

/** Signals always exported as gauges, besides those the rules read. */
const GAUGED = ['pids', 'pids_per_sec', 'memory', 'cpu'];

/** Rounds for reports (3 significant decimals is plenty for thresholds). */
function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** Watches services and applies the rules. */
export class CircuitBreaker {
  readonly config: BreakerConfig;
  readonly history: BreakerHistory;
  #deps: BreakerDeps;
  #now: () => number;
  #evaluator: Evaluator;
  #safety: SafetyGate;
  #prev = new Map<string, RawSample>();
  #gauges = new Map<string, { owner: string; service: string; signals: Set<string> }>();
  #quiet = new Map<string, { at: number; repeats: number }>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #tickPromise: Promise<void> | undefined;
  #gaugedSignals: string[];
  /** Rules the fast sampler evaluates, and the rest. */
  #fastRules: Rule[];
  #slowRules: Rule[];
  /** The services of the last full tick, which the fast sampler reads between ticks. */
  #services: WatchedService[] = [];
  /** The fast sampler's previous reading per service, and the services it serves. */
  #fastPrev = new Map<string, RawSample>();
  /** The reading before `#fastPrev`: the fast `pids_per_sec` spans two readings (see fastTick). */
  #fastOlder = new Map<string, RawSample>();
  #fastServed = new Set<string>();
  #fastTimer: NodeJS.Timeout | undefined;
  #fastPromise: Promise<void> | undefined;

  constructor(deps: BreakerDeps) {
    this.#deps = deps;
    this.config = deps.config;
    this.#now = deps.now ?? Date.now;
    this.#evaluator = new Evaluator(deps.config.rules);
    this.#safety = new SafetyGate({
      mode: deps.config.mode,
      graceMs: deps.config.graceMs,
      cooldownMs: deps.config.cooldownMs,
      maxPerServicePerHour: deps.config.maxActionsPerHour.perService,
      maxTotalPerHour: deps.config.maxActionsPerHour.total,
      maxPerOwnerPerHour: deps.config.maxActionsPerHour.perOwner,
    });
    this.history = new BreakerHistory(deps.config.historySize);
    this.#gaugedSignals = [...new Set([...GAUGED, ...deps.config.rules.flatMap(ruleSignals)])];
    this.#fastRules = deps.config.rules.filter((r) => ruleSignals(r).every((sig) => FAST_SIGNALS.has(sig)));
    this.#slowRules = deps.config.rules.filter((r) => !this.#fastRules.includes(r));
  }

  /**
   * Rebuilds what must survive a broker restart from the audit log's entries (oldest first): the
   * safety gate's strikes and actions of the last hour (always: they are enforcement state), and
   * the history (when `persistHistory`).
   */
  restore(entries: readonly { breaker?: Omit<BreakerEvent, 'seq'> }[]): void {
    const events = entries.flatMap((e) => (e.breaker === undefined ? [] : [e.breaker]));
    this.#safety.restore(events, this.#now());
    if (this.config.persistHistory) this.history.restore(entries);
  }

  /**
   * Whether the broker must refuse to start a service (deploy, start, restart, unpause): its own
   * or its owner's hourly cap is used up in enforce mode, so a restart would run it unchecked.
   * @returns the cap and the ISO time it frees up; undefined when the service may start
   */
  circuitOpen(owner: string, name: string): { cap: string; actions: number; until: string } | undefined {
    const o = this.#safety.open(owner, name, this.#now());
    return o === undefined ? undefined : { cap: o.cap, actions: o.actions, until: new Date(o.until).toISOString() };
  }

  /** Starts sampling every `interval` (the first tick runs at once). Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const loop = (): void => {
      if (!this.#running) return;
      const started = this.#now();
      this.#tickPromise = this.tick().finally(() => {
        this.#tickPromise = undefined;
        if (!this.#running) return;
        const wait = Math.max(0, this.config.intervalMs - (this.#now() - started));
        this.#timer = setTimeout(loop, wait);
        this.#timer.unref();
      });
    };
    loop();
    if (
      this.#fastRules.length > 0 &&
      this.config.pidsIntervalMs < this.config.intervalMs &&
      this.#deps.source.readPids !== undefined
    ) {
      const fast = (): void => {
        if (!this.#running) return;
        const started = this.#now();
        this.#fastPromise = this.fastTick().finally(() => {
          this.#fastPromise = undefined;
          if (!this.#running) return;
          this.#fastTimer = setTimeout(fast, Math.max(0, this.config.pidsIntervalMs - (this.#now() - started)));
          this.#fastTimer.unref();
        });
      };
      this.#fastTimer = setTimeout(fast, this.config.pidsIntervalMs);
      this.#fastTimer.unref();
    }
  }

  /** Stops sampling, waits for ticks in flight and closes the sources. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#fastTimer !== undefined) clearTimeout(this.#fastTimer);
    await this.#tickPromise;
    await this.#fastPromise;
    this.#deps.source.close();
  }

  /**
   * One fast round: the task count of every service the last full tick listed, and the rules that
   * read only task signals. A storm is then seen within `pidsInterval` of its start, whatever the
   * phase of the full interval, and a slow Docker listing never delays it. Never throws.
   */
  async fastTick(): Promise<void> {
    const readPids = this.#deps.source.readPids?.bind(this.#deps.source);
    if (readPids === undefined) return;
    await Promise.all(
      this.#services.map(async (svc) => {
        let raw: RawSample | undefined;
        try {
          raw = await readPids(svc, this.#now());
        } catch {
          this.#deps.metrics.sampleErrors.inc();
          return;
        }
        if (raw === undefined) {
          this.#fastServed.delete(svc.id);
          return;
        }
        const prev = this.#fastPrev.get(svc.id);
        if (prev !== undefined && raw.at <= prev.at) return;
        const limit = this.#prev.get(svc.id)?.pidsLimit;
        if (limit !== undefined) raw.pidsLimit = limit;
        // pids_per_sec is the larger of the growth over the last reading's window and over the
        // last two: a storm's growth per single window is lumpy under host load (bench:breaker saw
        // 4–12 tasks in some 250 ms windows of a ~70/s storm, under the 12.5 of 50/s), and one low
        // window would restart the rule's `for` clock. The two-window rate bridges such a dip; the
        // one-window rate keeps the first detection as early as before.
        const older = this.#fastOlder.get(svc.id);
        if (prev !== undefined) this.#fastOlder.set(svc.id, prev);
        this.#fastPrev.set(svc.id, raw);
        this.#fastServed.add(svc.id);
        const signals = deriveSignals(raw, prev, this.#deps.hostCores);
        if (
          older !== undefined &&
          raw.at - older.at <= 2.5 * this.config.pidsIntervalMs &&
          signals.pids_per_sec !== undefined
        ) {
          const two = deriveSignals(raw, older, this.#deps.hostCores).pids_per_sec;
          if (two !== undefined && two > signals.pids_per_sec) signals.pids_per_sec = two;
        }
        for (const trip of this.#evaluator.step(svc.id, signals, raw.at, this.#fastRules))
          await this.#handle(svc, trip, signals);
      }),
    );
  }

  /** One sampling round over every watched service. Never throws. */
  async tick(): Promise<void> {
    let services: WatchedService[];
    try {
      services = await this.#deps.inventory.list();
    } catch {
      this.#deps.metrics.sampleErrors.inc();
      return;
    }
    const live = new Set(services.map((s) => s.id));
    for (const id of [...this.#prev.keys()]) if (!live.has(id)) this.#forget(id);
    for (const id of [...this.#gauges.keys()]) if (!live.has(id)) this.#forget(id);
    this.#deps.metrics.watched.set(services.length);
    this.#services = services;
    await Promise.all(services.map((svc) => this.#sampleOne(svc)));
  }

  async #sampleOne(svc: WatchedService): Promise<void> {
    let raw: RawSample | undefined;
    try {
      raw = await this.#deps.source.read(svc, this.#now());
    } catch {
      this.#deps.metrics.sampleErrors.inc();
      return;
    }
    if (raw === undefined) return;
    const prev = this.#prev.get(svc.id);
    if (prev !== undefined && raw.at <= prev.at) return; // no new reading (stats stream between objects)
    this.#prev.set(svc.id, raw);
    const signals = deriveSignals(raw, prev, this.#deps.hostCores);
    if (!this.#gauges.has(svc.id)) await this.#announce(svc, raw);
    this.#gauge(svc, signals);
    // The full sample is also the fast sampler's latest reading: its next rate spans one pidsInterval.
    if (raw.pids !== undefined) {
      const last = this.#fastPrev.get(svc.id);
      if (last !== undefined) this.#fastOlder.set(svc.id, last);
      this.#fastPrev.set(svc.id, { at: raw.at, source: raw.source, pids: raw.pids, psi: {} });
    }
    // Task-only rules of a service the fast sampler reads are evaluated there, on its finer readings.
    const rules = this.#fastServed.has(svc.id) ? this.#slowRules : this.config.rules;
    for (const trip of this.#evaluator.step(svc.id, signals, raw.at, rules)) await this.#handle(svc, trip, signals);
  }

  /** Audits the first sample of a service: where it comes from and which signals hold. */
  async #announce(svc: WatchedService, raw: RawSample): Promise<void> {
    this.#gauges.set(svc.id, { owner: svc.owner, service: svc.name, signals: new Set() });
    const held = deriveHeld(raw);
    const missing = this.config.rules.flatMap(ruleSignals).filter((s) => !held.has(s));
    await this.#audit({
      action: 'breaker.watch',
      principal: null,
      decision: 'info',
      target: svc.id,
      reason: `service ${svc.owner}/${svc.name}: source ${this.#deps.source.kind(svc.id) ?? raw.source}; signals ${[...held].filter((s) => !s.includes('.pressure.') || s.endsWith('.avg10')).join(', ') || 'none'}${missing.length > 0 ? `; rules read unavailable signals (never true here): ${[...new Set(missing)].join(', ')}` : ''}`,
    });
  }

  #gauge(svc: WatchedService, signals: Signals): void {
    const g = this.#gauges.get(svc.id);
    if (g === undefined) return;
    for (const name of this.#gaugedSignals) {
      const v = signals[name];
      if (v === undefined) continue;
      g.signals.add(name);
      this.#deps.metrics.signal.set({ owner: svc.owner, service: svc.name, signal: name }, v);
    }
  }

  #forget(id: string): void {
    this.#prev.delete(id);
    this.#fastPrev.delete(id);
    this.#fastOlder.delete(id);
    this.#fastServed.delete(id);
    this.#evaluator.forget(id);
    this.#deps.source.forget(id);
    const g = this.#gauges.get(id);
    if (g !== undefined) {
      for (const signal of g.signals) this.#deps.metrics.signal.remove({ owner: g.owner, service: g.service, signal });
      this.#gauges.delete(id);
    }
  }

  async #handle(svc: WatchedService, trip: Trip, signals: Signals): Promise<void> {
    const { rule } = trip;
    const m = this.#deps.metrics;
    m.trips.inc({ rule: rule.name });
    const now = trip.at;
    const values: Record<string, number> = {};
    for (const s of ruleSignals(rule)) if (signals[s] !== undefined) values[s] = round(signals[s]);
    const base = {
      time: new Date(now).toISOString(),
      id: svc.id,
      service: svc.name,
      owner: svc.owner,
      rule: rule.name,
      expression: rule.text,
      action: rule.action,
      mode: this.config.mode,
      heldMs: now - trip.since,
      signals: values,
    };
    const subject = { owner: svc.owner, name: svc.name, owned: svc.owned, startedAt: svc.startedAt };
    const why: SuppressReason | undefined = this.#safety.check(subject, now);
    // Every trip of an owned service is a strike, whatever comes of it: restarting the service
    // afterwards must not buy it a fresh grace (safety.ts).
    if (svc.owned) this.#safety.strike(subject, now);
    if (why !== undefined) {
      m.suppressed.inc({ rule: rule.name, reason: why });
      // Monitor mode reports what enforce mode would do: the would-be action counts towards
      // cooldown and caps, and the evidence restarts as after a real action.
      if (why === 'monitor') {
        this.#safety.record(subject, now);
        this.#evaluator.forget(svc.id);
        this.#prev.delete(svc.id);
        this.#fastPrev.delete(svc.id);
        this.#fastOlder.delete(svc.id);
      }
      // Folded per service, not per container: a restarted or recreated service keeps folding.
      const key = `${serviceKey(svc.owner, svc.name)}|${rule.name}|${why}`;
      const q = this.#quiet.get(key);
      if (q !== undefined && now - q.at < this.config.cooldownMs && why !== 'monitor') {
        q.repeats++;
        return;
      }
      this.#quiet.set(key, { at: now, repeats: 0 });
      await this.#record({ ...base, outcome: 'suppressed', reason: why, repeats: q?.repeats ?? 0 });
      return;
    }
    // Counted before the await, so concurrent services cannot overrun the total cap.
    this.#safety.record(subject, now);
    try {
      await this.#deps.actuator.act(svc, rule.action);
      m.actions.inc({ rule: rule.name, action: rule.action });
      await this.#record({ ...base, outcome: 'acted', reason: 'ok', repeats: 0 });
    } catch (err) {
      m.failures.inc({ rule: rule.name, action: rule.action });
      const e = Errors.breakerAction(
        `${rule.action} of ${svc.owner}/${svc.name} failed: ${(err as Error).message ?? String(err)}`,
      );
      await this.#record({ ...base, outcome: 'failed', reason: e.code, repeats: 0, detail: e.message.slice(0, 300) });
    }
    // Whatever happened, the next trip must come from fresh evidence.
    this.#evaluator.forget(svc.id);
    this.#prev.delete(svc.id);
    this.#fastPrev.delete(svc.id);
    this.#fastOlder.delete(svc.id);
    if (rule.action === 'restart') {
      this.#deps.inventory.invalidate(svc.id);
      this.#deps.source.forget(svc.id);
    }
  }

  async #record(e: Omit<BreakerEvent, 'seq'>): Promise<void> {
    const ev = this.history.add(e);
    const vals = Object.entries(ev.signals)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const tail =
      ev.outcome === 'acted'
        ? `${ev.action} done`
        : ev.outcome === 'failed'
          ? `${ev.action} failed: ${ev.detail ?? ''}`
          : `${ev.action} suppressed: ${ev.reason}`;
    await this.#audit({
      // The structured event rides along, so the history can be rebuilt after a restart.
      breaker: withoutSeq(ev),
      action:
        ev.outcome === 'acted' ? 'breaker.action' : ev.outcome === 'failed' ? 'breaker.failed' : 'breaker.suppressed',
      principal: null,
      decision: ev.outcome === 'acted' ? 'allowed' : ev.outcome === 'failed' ? 'error' : 'denied',
      target: ev.id,
      reason: `${ev.outcome === 'failed' ? 'DL_ERR_BREAKER_ACTION ' : ''}rule ${ev.rule} [${ev.expression}] on ${ev.owner}/${ev.service} (${vals}; held ${ev.heldMs} ms${ev.repeats > 0 ? `; ${ev.repeats} identical trips folded` : ''}, ${ev.mode}): ${tail}`,
    });
  }

  async #audit(e: AuditEvent): Promise<void> {
    try {
      await this.#deps.audit.append(e);
    } catch {
      // The audit log failing must not stop the breaker protecting the host; the history keeps it.
    }
  }
}

function withoutSeq(ev: BreakerEvent): Omit<BreakerEvent, 'seq'> {
  const { seq: _seq, ...rest } = ev;
  return rest;
}

/** Names of the signals a single sample can support (rates assumed from the next sample on). */
function deriveHeld(raw: RawSample): Set<string> {
  const fake: RawSample = { ...raw, at: raw.at - 1000 };
  const names = Object.keys(deriveSignals(raw, fake, 1));
  return new Set(names.filter((n) => SIGNALS.has(n)));
}

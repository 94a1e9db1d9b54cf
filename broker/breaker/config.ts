/**
 * The `breaker:` section of broker.yaml. Unknown keys are refused like everywhere else in the
 * config (`DL_ERR_BROKER_CONFIG` naming the key); rule expressions, durations and actions are
 * parsed here, once, and refused with `DL_ERR_BREAKER_RULE` naming the field.
 */
import { Errors } from '../errors.ts';
import { BREAKER_ACTIONS, parseDuration, parseRule } from './rules.ts';
import type { BreakerAction, Rule } from './rules.ts';

/** Where samples come from. `auto`: the service's cgroup files, else Docker's stats stream. */
export type SignalSourceKind = 'auto' | 'cgroup' | 'docker-stats';

/** The validated breaker configuration. */
export interface BreakerConfig {
  /** Default false: the breaker does not run. */
  enabled: boolean;
  /** `monitor` (default) only reports what it would have done; `enforce` acts. */
  mode: 'enforce' | 'monitor';
  /** Sampling interval, ms: the service list and every signal. Default 1000, minimum 100. */
  intervalMs: number;
  /**
   * Interval of the fast task-count sampler, ms (`pidsInterval`). Between full samples the breaker
   * re-reads only `pids.current` of each service whose cgroup it reads (one `pread`), and
   * evaluates the rules that read nothing but `pids`, `pids_per_sec` and `pids_pct` on it, so a
   * fork storm is seen within this long instead of an interval. Default 250, minimum 50, at most
   * `interval`; equal to `interval` turns it off.
   */
  pidsIntervalMs: number;
  /** Rebuild the history from the audit log at start (`GET /v1/breaker/history` survives restarts). Default true. */
  persistHistory: boolean;
  /** No action within this long after a service (re)starts, ms. Default 30000. */
  graceMs: number;
  /** No second action on one service within this long, ms. Default 60000. */
  cooldownMs: number;
  /**
   * Actions per rolling hour, per service (owner and name: default 6), per owner (default the
   * larger of perService and a third of total) and in total (default 30).
   */
  maxActionsPerHour: { perService: number; perOwner: number; total: number };
  /** Action of rules that name none. Default `pause`. */
  defaultAction: BreakerAction;
  /** Default `auto`. */
  source: SignalSourceKind;
  /** cgroup filesystem root. Default `/sys/fs/cgroup`. */
  cgroupRoot: string;
  /** Events kept for `GET /v1/breaker/history`. Default 1000. */
  historySize: number;
  rules: Rule[];
}

type Obj = Record<string, unknown>;

function obj(value: unknown, field: string, allowed: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw Errors.config(`expected a mapping, received ${Array.isArray(value) ? 'a list' : typeof value}`, field);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw Errors.config(`unknown key "${key}" (allowed: ${allowed.join(', ')})`, `${field}.${key}`);
  }
  return value as Obj;
}

function posInt(v: unknown, field: string, dflt: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0)
    throw Errors.config(`expected a positive integer, received ${JSON.stringify(x)}`, field);
  return x;
}

function action(v: unknown, field: string): BreakerAction {
  if (typeof v !== 'string' || !(BREAKER_ACTIONS as readonly string[]).includes(v)) {
    throw Errors.breakerRule(`expected one of ${BREAKER_ACTIONS.join(', ')}, received ${JSON.stringify(v)}`, field);
  }
  return v as BreakerAction;
}

/** Rule names become metric labels and audit text. */
const RULE_NAME = /^[a-z][a-z0-9_]{0,47}$/;

/**
 * Validates the `breaker:` section.
 * @param raw - the section as parsed from YAML (undefined when absent)
 * @returns the configuration with defaults filled in
 * @throws {BrokerError} `DL_ERR_BROKER_CONFIG` for unknown keys and bad scalars, `DL_ERR_BREAKER_RULE` for rules, durations and actions
 * @example
 * parseBreakerConfig({ enabled: true, mode: 'enforce', rules: { fork_storm: 'pids_per_sec > 50 for 2s' } });
 */
export function parseBreakerConfig(raw: unknown): BreakerConfig {
  const f = 'config.breaker';
  const o = obj(raw ?? {}, f, [
    'enabled',
    'mode',
    'interval',
    'pidsInterval',
    'grace',
    'cooldown',
    'maxActionsPerHour',
    'defaultAction',
    'source',
    'cgroupRoot',
    'historySize',
    'persistHistory',
    'rules',
  ]);
  const enabled = o.enabled ?? false;
  if (typeof enabled !== 'boolean') throw Errors.config('expected true or false', `${f}.enabled`);
  const mode = o.mode ?? 'monitor';
  if (mode !== 'enforce' && mode !== 'monitor')
    throw Errors.config(`expected "enforce" or "monitor", received ${JSON.stringify(mode)}`, `${f}.mode`);
  const intervalMs = parseDuration(o.interval ?? '1s', `${f}.interval`);
  if (intervalMs < 100)
    throw Errors.breakerRule(`the interval must be at least 100ms, received ${intervalMs}ms`, `${f}.interval`);
  const pidsIntervalMs = parseDuration(o.pidsInterval ?? `${Math.min(250, intervalMs)}ms`, `${f}.pidsInterval`);
  if (pidsIntervalMs < 50 || pidsIntervalMs > intervalMs)
    throw Errors.breakerRule(
      `pidsInterval must be between 50ms and the interval (${intervalMs}ms), received ${pidsIntervalMs}ms`,
      `${f}.pidsInterval`,
    );
  const persistHistory = o.persistHistory ?? true;
  if (typeof persistHistory !== 'boolean') throw Errors.config('expected true or false', `${f}.persistHistory`);
  const graceMs = parseDuration(o.grace ?? '30s', `${f}.grace`);
  const cooldownMs = parseDuration(o.cooldown ?? '60s', `${f}.cooldown`);
  const caps = obj(o.maxActionsPerHour ?? {}, `${f}.maxActionsPerHour`, ['perService', 'perOwner', 'total']);
  const perService = posInt(caps.perService, `${f}.maxActionsPerHour.perService`, 6);
  const total = posInt(caps.total, `${f}.maxActionsPerHour.total`, 30);
  if (perService > total)
    throw Errors.config(`perService (${perService}) cannot exceed total (${total})`, `${f}.maxActionsPerHour`);
  // A share of the total, so one owner's runaways cannot use it all up and leave the others' unchecked.
  const perOwner = posInt(caps.perOwner, `${f}.maxActionsPerHour.perOwner`, Math.max(perService, Math.ceil(total / 3)));
  if (perOwner < perService || perOwner > total)
    throw Errors.config(
      `perOwner (${perOwner}) must lie between perService (${perService}) and total (${total})`,
      `${f}.maxActionsPerHour.perOwner`,
    );
  const defaultAction = action(o.defaultAction ?? 'pause', `${f}.defaultAction`);
  const source = o.source ?? 'auto';
  if (source !== 'auto' && source !== 'cgroup' && source !== 'docker-stats')
    throw Errors.config(
      `expected "auto", "cgroup" or "docker-stats", received ${JSON.stringify(source)}`,
      `${f}.source`,
    );
  const cgroupRoot = o.cgroupRoot ?? '/sys/fs/cgroup';
  if (typeof cgroupRoot !== 'string' || !cgroupRoot.startsWith('/'))
    throw Errors.config('expected an absolute path', `${f}.cgroupRoot`);
  const historySize = posInt(o.historySize, `${f}.historySize`, 1000);

  const rulesRaw = obj(o.rules ?? {}, `${f}.rules`, Object.keys((o.rules ?? {}) as object));
  const rules: Rule[] = [];
  for (const [name, def] of Object.entries(rulesRaw)) {
    const rf = `${f}.rules.${name}`;
    if (!RULE_NAME.test(name)) throw Errors.breakerRule(`rule names match ${RULE_NAME}, received "${name}"`, rf);
    if (typeof def === 'string') {
      rules.push(parseRule(name, def, defaultAction, rf));
      continue;
    }
    const d = obj(def, rf, ['when', 'action']);
    if (typeof d.when !== 'string' || d.when.trim() === '')
      throw Errors.breakerRule('expected a rule expression in "when"', `${rf}.when`);
    rules.push(
      parseRule(name, d.when, d.action === undefined ? defaultAction : action(d.action, `${rf}.action`), `${rf}.when`),
    );
  }
  if (enabled && rules.length === 0) throw Errors.breakerRule('the breaker is enabled but has no rules', `${f}.rules`);
  return {
    enabled,
    mode,
    intervalMs,
    pidsIntervalMs,
    persistHistory,
    graceMs,
    cooldownMs,
    maxActionsPerHour: { perService, perOwner, total },
    defaultAction,
    source,
    cgroupRoot,
    historySize,
    rules,
  };
}

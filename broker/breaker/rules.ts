/**
 * The breaker's rule language, parsed once when the configuration loads.
 *
 * ```
 * rule      := condition ('or' condition)* ['for' duration]
 * condition := term ('and' term)*                      ('and' binds tighter than 'or')
 * term      := signal ('>' | '>=' | '<' | '<=') number ['%']
 * duration  := number ('ms' | 's' | 'm')
 * ```
 *
 * Examples: `pids_per_sec > 50 for 2s`,
 * `memory > 90% and memory.pressure.full.avg10 > 30 for 10s`. Signal names are listed in
 * `signals/sample.ts`; `%` is only allowed on signals that are percentages. Without `for` a rule
 * trips on the first sample that matches.
 */
import { Errors } from '../errors.ts';
import { SIGNALS } from './signals/sample.ts';
import type { Signals } from './signals/sample.ts';

/** What the breaker may do to a service. */
export type BreakerAction = 'pause' | 'stop' | 'kill' | 'restart';
export const BREAKER_ACTIONS: readonly BreakerAction[] = ['pause', 'stop', 'kill', 'restart'];

/** A comparison. */
export interface Term {
  signal: string;
  op: '>' | '>=' | '<' | '<=';
  value: number;
}

/** A parsed rule. */
export interface Rule {
  name: string;
  /** Disjunction of conjunctions. */
  anyOf: Term[][];
  /** How long the condition must hold, ms (0: one matching sample). */
  forMs: number;
  action: BreakerAction;
  /** The source text, for reports. */
  text: string;
}

const TOKEN = /\s*(>=|<=|>|<|[A-Za-z_][A-Za-z0-9_.]*|[0-9]+(?:\.[0-9]+)?(?:ms|s|m|%)?)/y;

/**
 * Parses a duration such as `500ms`, `2s`, `1.5m`.
 * @returns milliseconds
 * @throws {BrokerError} `DL_ERR_BREAKER_RULE` naming `field`
 */
export function parseDuration(text: unknown, field: string): number {
  const m = typeof text === 'string' ? /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/.exec(text.trim()) : null;
  if (m === null)
    throw Errors.breakerRule(
      `expected a duration such as "500ms", "2s" or "1m", received ${JSON.stringify(text)}`,
      field,
    );
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

/**
 * Parses one rule expression.
 * @param name - the rule's name (a key of `breaker.rules`)
 * @param text - the expression
 * @param action - the rule's action
 * @param field - the config field, for errors
 * @returns the parsed rule
 * @throws {BrokerError} `DL_ERR_BREAKER_RULE` saying what was expected, what was found and where
 * @example
 * parseRule('fork_storm', 'pids_per_sec > 50 for 2s', 'pause', 'config.breaker.rules.fork_storm').forMs === 2000
 */
export function parseRule(name: string, text: string, action: BreakerAction, field: string): Rule {
  const tokens: { t: string; at: number }[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (m === null)
      throw Errors.breakerRule(
        `unexpected character "${text.slice(pos).trim()[0] ?? ''}" at column ${pos + 1} of "${text}"`,
        field,
      );
    tokens.push({ t: m[1]!, at: pos + (m[0].length - m[1]!.length) + 1 });
    pos = TOKEN.lastIndex;
  }
  let i = 0;
  const peek = (): string | undefined => tokens[i]?.t;
  const fail = (expected: string): never => {
    const tok = tokens[i];
    throw Errors.breakerRule(
      `expected ${expected} ${tok === undefined ? 'at the end' : `at column ${tok.at}, found "${tok.t}"`} in "${text}"`,
      field,
    );
  };
  const term = (): Term => {
    const signal = peek();
    if (signal === undefined || !/^[A-Za-z_]/.test(signal) || signal === 'and' || signal === 'or' || signal === 'for')
      return fail('a signal name');
    const info = SIGNALS.get(signal);
    if (info === undefined) {
      throw Errors.breakerRule(
        `unknown signal "${signal}" (known: ${[...SIGNALS.keys()].filter((k) => !k.includes('.pressure.') || k.endsWith('.avg10')).join(', ')}, and the other PSI fields avg60, avg300, total)`,
        field,
      );
    }
    i++;
    const op = peek();
    if (op !== '>' && op !== '>=' && op !== '<' && op !== '<=') return fail('a comparison (>, >=, <, <=)');
    i++;
    const num = peek();
    const nm = num === undefined ? null : /^([0-9]+(?:\.[0-9]+)?)(%?)$/.exec(num);
    if (nm === null) return fail('a number');
    if (nm[2] === '%' && !info.percent)
      throw Errors.breakerRule(`signal "${signal}" is not a percentage; drop the "%" in "${text}"`, field);
    i++;
    return { signal, op, value: Number(nm[1]) };
  };
  const anyOf: Term[][] = [];
  let all: Term[] = [term()];
  let forMs = 0;
  for (;;) {
    const t = peek();
    if (t === undefined) break;
    if (t === 'and') {
      i++;
      all.push(term());
    } else if (t === 'or') {
      i++;
      anyOf.push(all);
      all = [term()];
    } else if (t === 'for') {
      i++;
      const d = peek();
      if (d === undefined) fail('a duration');
      forMs = parseDuration(d, field);
      i++;
      if (peek() !== undefined) fail('the end of the rule after the duration');
      break;
    } else fail('"and", "or" or "for"');
  }
  anyOf.push(all);
  return { name, anyOf, forMs, action, text };
}

/**
 * Whether a rule's condition holds for these signals. A term on a signal the host does not
 * expose is false: a missing signal never trips a rule.
 */
export function ruleMatches(rule: Rule, s: Signals): boolean {
  return rule.anyOf.some((all) =>
    all.every((t) => {
      const v = s[t.signal];
      if (v === undefined) return false;
      switch (t.op) {
        case '>':
          return v > t.value;
        case '>=':
          return v >= t.value;
        case '<':
          return v < t.value;
        case '<=':
          return v <= t.value;
      }
      return false;
    }),
  );
}

/** The signals a rule reads. */
export function ruleSignals(rule: Rule): string[] {
  return [...new Set(rule.anyOf.flat().map((t) => t.signal))];
}

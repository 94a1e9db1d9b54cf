/**
 * `escrow.yaml`: the escrow's configuration, read strictly (unknown keys, duplicate keys, YAML
 * tags, wrong types and out-of-range values are `DL_ERR_ESCROW_CONFIG` naming the field). Every
 * field is optional; the defaults are ESCROW_DEFAULTS (escrow/escrow.ts) and docs/escrow.md lists
 * them.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { EscrowError } from './errors.ts';
import { ESCROW_DEFAULTS, type EscrowConfig } from './escrow.ts';
import { MAX_TTL_MS } from './book.ts';

/** A bearer token of the escrow API: stored as its SHA-256 only. */
export interface EscrowApiToken {
  readonly name: string;
  readonly sha256: string;
  /** `client`: open escrows, read, revert with a revert token. `operator`: also verdicts, jury, commit, hold, revert. */
  readonly role: 'client' | 'operator';
}

export interface EscrowApiConfig {
  /** `host:port` to listen on (default 127.0.0.1:7717). */
  readonly listen: string;
  readonly tokens: readonly EscrowApiToken[];
}

export interface LoadedEscrowConfig extends EscrowConfig {
  /** The data directory (`dataDir`, relative to the config file). */
  readonly dataDir: string;
  readonly api: EscrowApiConfig;
}

export const ESCROW_API_DEFAULTS: EscrowApiConfig = { listen: '127.0.0.1:7717', tokens: [] };

function apiConfig(v: unknown): EscrowApiConfig {
  const a = mapping(v, 'api', ['listen', 'tokens']);
  const listen = a.listen ?? ESCROW_API_DEFAULTS.listen;
  if (typeof listen !== 'string' || !/^[A-Za-z0-9.:[\]-]+:\d{1,5}$/.test(listen))
    throw bad('api.listen', 'must be host:port, e.g. 127.0.0.1:7717');
  if (a.tokens !== undefined && !Array.isArray(a.tokens)) throw bad('api.tokens', 'must be a list');
  const names = new Set<string>();
  const tokens = ((a.tokens as unknown[] | undefined) ?? []).map((t, i) => {
    const o = mapping(t, `api.tokens.${i}`, ['name', 'sha256', 'role']);
    if (typeof o.name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.name))
      throw bad(`api.tokens.${i}.name`, 'must be 1 to 64 letters, digits, ".", "_" or "-"');
    if (names.has(o.name)) throw bad(`api.tokens.${i}.name`, `"${o.name}" is listed twice`);
    names.add(o.name);
    if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256))
      throw bad(`api.tokens.${i}.sha256`, "must be the token's SHA-256 as 64 lowercase hex digits (never the token)");
    if (o.role !== 'client' && o.role !== 'operator') throw bad(`api.tokens.${i}.role`, 'must be client or operator');
    return { name: o.name, sha256: o.sha256, role: o.role as EscrowApiToken['role'] };
  });
  return { listen, tokens };
}

type Obj = Record<string, unknown>;

const bad = (field: string, message: string): EscrowError =>
  new EscrowError('DL_ERR_ESCROW_CONFIG', `${field}: ${message}`, { field });

function mapping(v: unknown, field: string, keys: readonly string[]): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(field, 'must be a mapping');
  for (const k of Object.keys(v))
    if (!keys.includes(k)) throw bad(`${field}.${k}`.replace(/^\./, ''), `unknown key (known: ${keys.join(', ')})`);
  return v as Obj;
}

function num(o: Obj, key: string, field: string, dflt: number, min: number, max: number, integer = false): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isSafeInteger(v)))
    throw bad(
      `${field}${key}`,
      `must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${JSON.stringify(v)}`,
    );
  return v;
}

/** Parses the YAML text of an escrow config; `baseDir` resolves a relative `dataDir`. */
export function parseEscrowConfig(text: string, baseDir: string): LoadedEscrowConfig {
  // The manifest's rules: core schema, no merge keys, duplicate keys refused, and warnings (an
  // unknown `!tag`) are errors too.
  const doc = parseDocument(text, { schema: 'core', merge: false, uniqueKeys: true, logLevel: 'silent' });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) throw bad('(file)', `not valid YAML: ${problem.message.split('\n')[0]!}`);
  const top = mapping(doc.toJS(), '', ['dataDir', 'ttlMs', 'maxRebases', 'durability', 'gate', 'reputation', 'api']);
  const g = mapping(top.gate, 'gate', [
    'jurySize',
    'lowReputationExtra',
    'raiseQuorumBelow',
    'reviewBelow',
    'trustedAbove',
    'entropy',
  ]);
  const r = mapping(top.reputation, 'reputation', ['initial', 'commitGain', 'revertLoss', 'halfLifeHours']);
  const d = ESCROW_DEFAULTS;
  let entropy: { baseline: number; tolerance: number } | undefined;
  if (g.entropy !== undefined) {
    const e = mapping(g.entropy, 'gate.entropy', ['baseline', 'tolerance']);
    if (e.baseline === undefined || e.tolerance === undefined)
      throw bad('gate.entropy', 'needs baseline and tolerance');
    entropy = {
      baseline: num(e, 'baseline', 'gate.entropy.', 0, 0, 8),
      tolerance: num(e, 'tolerance', 'gate.entropy.', 0, 0, 8),
    };
  }
  if (top.dataDir !== undefined && typeof top.dataDir !== 'string') throw bad('dataDir', 'must be a path');
  if (top.durability !== undefined && top.durability !== 'full' && top.durability !== 'process')
    throw bad('durability', 'must be full (survives power loss) or process (survives a killed process)');
  return {
    dataDir: resolve(baseDir, (top.dataDir as string | undefined) ?? 'escrow-data'),
    ttlMs: num(top, 'ttlMs', '', d.ttlMs, 1, MAX_TTL_MS, true),
    maxRebases: num(top, 'maxRebases', '', d.maxRebases, 0, 100, true),
    durability: (top.durability as 'full' | 'process' | undefined) ?? 'full',
    api: apiConfig(top.api),
    gate: {
      jurySize: num(g, 'jurySize', 'gate.', d.gate.jurySize, 1, 64, true),
      lowReputationExtra: num(g, 'lowReputationExtra', 'gate.', d.gate.lowReputationExtra, 0, 64, true),
      raiseQuorumBelow: num(g, 'raiseQuorumBelow', 'gate.', d.gate.raiseQuorumBelow, 0, 1),
      reviewBelow: num(g, 'reviewBelow', 'gate.', d.gate.reviewBelow, 0, 1),
      trustedAbove: num(g, 'trustedAbove', 'gate.', d.gate.trustedAbove, 0, 1),
      ...(entropy === undefined ? {} : { entropy }),
    },
    reputation: {
      ...d.reputation,
      initial: num(r, 'initial', 'reputation.', d.reputation.initial, 0, 1),
      commitGain: num(r, 'commitGain', 'reputation.', d.reputation.commitGain, 0, 1),
      revertLoss: num(r, 'revertLoss', 'reputation.', d.reputation.revertLoss, 0, 1),
      halfLifeMs:
        num(r, 'halfLifeHours', 'reputation.', d.reputation.halfLifeMs / 3_600_000, 0.001, 100_000) * 3_600_000,
    },
  };
}

export function loadEscrowConfig(path: string): LoadedEscrowConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EscrowError('DL_ERR_ESCROW_CONFIG', `cannot read ${path}: ${(err as Error).message}`, {
      field: '(file)',
    });
  }
  return parseEscrowConfig(text, dirname(resolve(path)));
}

/**
 * Replaying and verifying bundles (library API behind `docklock replay` and `docklock verify`).
 */
import type { CagePool } from './cage/cage.ts';
import { runOnce } from './cage/inline.ts';
import { Engine } from './engine.ts';
import { decodeBundle, verifyBundle } from './bundle.ts';
import type { Bundle, BundleVerification } from './bundle.ts';
import { resultHash } from './result.ts';
import { bytesEqual, toHex } from './hash.ts';
import type { Divergence } from './witness/recorder.ts';
import type { WitnessEntry } from './witness/entry.ts';
import { InputError } from './errors.ts';
import { INSTRUMENTER_VERSION } from './instrument/instrument.ts';
import { DEFAULT_COST_TABLE } from './instrument/cost-table.ts';

export interface EntrySummary {
  index: number;
  import: string;
  args: string[];
  result: string | null;
  writes: { ptr: number; length: number; hex: string }[];
  fuel: string;
  data: { length: number; hex: string } | null;
}

const HEX_PREVIEW = 64;

/** A JSON-safe, bounded view of a witness entry. */
export function summarizeEntry(e: WitnessEntry): EntrySummary {
  const hex = (b: Uint8Array): string => toHex(b.subarray(0, HEX_PREVIEW)) + (b.length > HEX_PREVIEW ? '…' : '');
  return {
    index: e.index,
    import: e.name,
    args: e.args.map(String),
    result: e.result === null ? null : String(e.result),
    writes: e.writes.map((w) => ({ ptr: w.ptr, length: w.bytes.length, hex: hex(w.bytes) })),
    fuel: e.fuel.toString(),
    data: e.data === undefined ? null : { length: e.data.length, hex: hex(e.data) },
  };
}

export interface ReplayReport {
  match: boolean;
  resultHash: string;
  expectedResultHash: string;
  divergence: {
    index: number;
    import: string;
    field: string;
    expected: EntrySummary | null;
    actual: EntrySummary | null;
  } | null;
}

export function divergenceJson(d: Divergence): NonNullable<ReplayReport['divergence']> {
  return {
    index: d.index,
    import: d.import,
    field: d.field,
    expected: d.expected ? summarizeEntry(d.expected) : null,
    actual: d.actual ? summarizeEntry(d.actual) : null,
  };
}

/**
 * Re-executes a bundle's run offline, answering network calls from its witness.
 * @throws {InputError} `DL_ERR_BUNDLE_*` for an unusable bundle
 */
export async function replayBundle(bytes: Uint8Array, options: ReplayOptions = {}): Promise<ReplayReport> {
  const b = decodeBundle(bytes, { lazyWitness: true });
  return replayDecoded(b, options);
}

/**
 * Where a replay runs: on the calling thread when it can, else on a cage thread of its own, as
 * `docklock run` runs (runtime/cage/inline.ts, same result); or on a long-lived pool's thread (a
 * juror, a node).
 */
export interface ReplayOptions {
  pool?: Pick<CagePool, 'replay'>;
  /** Without a pool: keep instrumented modules in this folder (runtime/instrument-cache.ts). */
  cacheDir?: string;
}

export async function replayDecoded(b: Bundle, options: ReplayOptions = {}): Promise<ReplayReport> {
  // Fuel figures, and so every witness entry, depend on the rewriter and its cost table: a bundle
  // recorded by another version cannot replay here, and saying so beats reporting a divergence.
  if (
    b.result.instrumenterVersion !== INSTRUMENTER_VERSION ||
    b.result.costTableVersion !== DEFAULT_COST_TABLE.version
  ) {
    throw new InputError(
      'DL_ERR_BUNDLE_ENGINE_MISMATCH',
      `the bundle was recorded by instrumenter ${b.result.instrumenterVersion} with cost table ${b.result.costTableVersion}; this docklock has ${INSTRUMENTER_VERSION} with ${DEFAULT_COST_TABLE.version}. Replay it with the docklock version that recorded it.`,
      { field: 'result.instrumenterVersion' },
    );
  }
  const request = {
    manifest: b.manifest,
    module: b.module,
    stdin: b.stdin,
    inputs: b.inputs,
    witness: b.witnessBytes,
    wasiLevel: b.wasiLevel,
  };
  const out =
    options.pool === undefined
      ? await runOnce(
          { ...request, mode: 'replay' },
          options.cacheDir === undefined ? {} : { engine: new Engine({ cacheDir: options.cacheDir }) },
        )
      : await options.pool.replay(request, { witness: false });
  const actual = resultHash(out.result);
  const match = out.divergence === null && bytesEqual(actual, b.resultHash);
  return {
    match,
    resultHash: toHex(actual),
    expectedResultHash: toHex(b.resultHash),
    divergence: out.divergence ? divergenceJson(out.divergence) : null,
  };
}

/** Integrity without execution: recomputed witness root and result hash, optionally against an expected hash. */
export function verifyBundleBytes(bytes: Uint8Array, expectedHash?: string): BundleVerification & { bundle: Bundle } {
  const bundle = decodeBundle(bytes);
  const v = verifyBundle(bundle);
  if (expectedHash !== undefined && toHex(bundle.resultHash) !== expectedHash.toLowerCase()) {
    v.problems.push({
      code: 'DL_ERR_BUNDLE_UNEXPECTED_HASH',
      message: `the bundle's result hash ${toHex(bundle.resultHash)} is not the expected ${expectedHash.toLowerCase()}`,
    });
    v.ok = false;
  }
  return { ...v, bundle };
}

/**
 * Profiling, as a library: profile a bundle (offline, from its witness) or a fresh run, and render
 * the profile as a flame graph (SVG/HTML), speedscope JSON or pprof. Behind `docklock/profile`.
 */
import { basename } from 'node:path';
import { decodeBundle } from '../bundle.ts';
import { InputError, InternalError } from '../errors.ts';
import { bytesEqual, toHex } from '../hash.ts';
import { DEFAULT_COST_TABLE } from '../instrument/cost-table.ts';
import { INSTRUMENTER_VERSION } from '../instrument/instrument.ts';
import { resultHash } from '../result.ts';
import type { RunResult } from '../result.ts';
import type { RunRequest } from '../cage/run.ts';
import { toFlameGraphHtml, toFlameGraphSvg } from './flamegraph.ts';
import type { Profile } from './model.ts';
import { toPprof } from './pprof.ts';
import { profileInWorker } from './run.ts';
import { toSpeedscope } from './speedscope.ts';

export interface ProfileReport {
  profile: Profile;
  /** The profiled run's result: the plain run's, bit for bit. */
  result: RunResult;
  resultHash: string;
}

/**
 * Re-executes a bundle offline with profiling and returns the profile of the recorded run.
 * @param options.name the profile root's label (default `bundle`)
 * @throws {InputError} `DL_ERR_BUNDLE_*` for an unusable bundle, `DL_ERR_PROFILE_DIVERGED` when
 *   the replay does not reproduce the bundle's result
 */
export async function profileBundle(bytes: Uint8Array, options: { name?: string } = {}): Promise<ProfileReport> {
  const b = decodeBundle(bytes, { lazyWitness: true });
  if (
    b.result.instrumenterVersion !== INSTRUMENTER_VERSION ||
    b.result.costTableVersion !== DEFAULT_COST_TABLE.version
  ) {
    throw new InputError(
      'DL_ERR_BUNDLE_ENGINE_MISMATCH',
      `the bundle was recorded by instrumenter ${b.result.instrumenterVersion} with cost table ${b.result.costTableVersion}; this docklock has ${INSTRUMENTER_VERSION} with ${DEFAULT_COST_TABLE.version}. Profile it with the docklock version that recorded it.`,
      { field: 'result.instrumenterVersion' },
    );
  }
  const out = await profileInWorker({
    request: {
      manifest: b.manifest,
      module: b.module,
      stdin: b.stdin,
      inputs: b.inputs,
      mode: 'replay',
      witness: b.witnessBytes,
      wasiLevel: b.wasiLevel,
    },
    name: options.name ?? 'bundle',
  });
  const hash = resultHash(out.result);
  if (out.divergence !== null || !bytesEqual(hash, b.resultHash)) {
    const where =
      out.divergence === null
        ? 'its result hash differs'
        : `it diverged at witness entry ${out.divergence.index} (${out.divergence.import}, ${out.divergence.field})`;
    throw new InputError(
      'DL_ERR_PROFILE_DIVERGED',
      `the profiled replay did not reproduce the bundle's run: ${where}; check it with \`docklock replay\``,
      { field: 'bundle' },
    );
  }
  return checked(out.profile, out.result, hash);
}

/**
 * Runs a module with profiling (record mode: a network the manifest grants is really reached).
 * @param name the profile root's label (default `module`)
 */
export async function profileModule(
  request: Omit<RunRequest, 'mode' | 'witness'>,
  options: { name?: string } = {},
): Promise<ProfileReport> {
  const out = await profileInWorker({ request: { ...request, mode: 'record' }, name: options.name ?? 'module' });
  return checked(out.profile, out.result, resultHash(out.result));
}

function checked(profile: Profile, result: RunResult, hash: Uint8Array): ProfileReport {
  // The profile accounts for every unit of fuel the run used, no more: anything else is our bug.
  if (profile.root.total !== result.fuelUsed) {
    throw new InternalError(
      `profile total ${profile.root.total} differs from the run's fuelUsed ${result.fuelUsed} (a docklock bug; please report it)`,
    );
  }
  return { profile, result, resultHash: toHex(hash) };
}

export type ProfileFormat = 'svg' | 'html' | 'speedscope' | 'pprof';

/**
 * The output format a file name asks for: `.svg`, `.html`, `.speedscope.json`, `.pb.gz`.
 * @throws {InputError} `DL_ERR_PROFILE_FORMAT` for any other name
 */
export function profileFormatOf(path: string): ProfileFormat {
  const name = basename(path).toLowerCase();
  if (name.endsWith('.speedscope.json')) return 'speedscope';
  if (name.endsWith('.pb.gz')) return 'pprof';
  if (name.endsWith('.svg')) return 'svg';
  if (name.endsWith('.html') || name.endsWith('.htm')) return 'html';
  throw new InputError(
    'DL_ERR_PROFILE_FORMAT',
    `cannot tell the profile format of "${basename(path)}": end the file name in .svg or .html (flame graph), .speedscope.json (speedscope) or .pb.gz (pprof)`,
    { field: '--out' },
  );
}

/** The profile's bytes in `format`: the same profile gives the same bytes. */
export function renderProfile(profile: Profile, format: ProfileFormat): Uint8Array {
  switch (format) {
    case 'svg':
      return new TextEncoder().encode(toFlameGraphSvg(profile));
    case 'html':
      return new TextEncoder().encode(toFlameGraphHtml(profile));
    case 'speedscope':
      return new TextEncoder().encode(toSpeedscope(profile));
    case 'pprof':
      return toPprof(profile);
  }
}

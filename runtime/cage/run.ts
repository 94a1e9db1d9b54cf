/**
 * One cage run, in the current thread: compile (cached) → instantiate with the granted host
 * functions, each recorded into the witness → call the entry point → classify how it ended →
 * collect stdout, stderr and /output → witness root → result. Replay is the same path with the
 * host calls compared against a recorded witness (spec: DESIGN.md, "Data flow of a run").
 *
 * The caller runs this inside a cage thread with a fixed stack size and a watchdog (cage.ts), or,
 * for a one-shot command, on its own thread under a watchdog with a fallback to a cage thread
 * (inline.ts).
 */
import { Engine } from '../engine.ts';
import type { CompiledModule } from '../compiled-module.ts';
import { DeterministicTrap, OutOfFuel, StackExhausted, ValidationError } from '../errors.ts';
import type { Instance } from '../instance.ts';
import { DEFAULT_COST_TABLE } from '../instrument/cost-table.ts';
import { INSTRUMENTER_VERSION } from '../instrument/instrument.ts';
import { manifestHash } from '../manifest/canonical.ts';
import type { CageManifest } from '../manifest/parse.ts';
import { RESULT_FORMAT_VERSION, inputHash } from '../result.ts';
import type { RunResult, RunStatus } from '../result.ts';
import type { WitnessEntry } from '../witness/entry.ts';
import type { WitnessLog } from '../witness/log.ts';
import { decodeEntries } from '../witness/encoding.ts';
import { blake3 } from '../hash.ts';
import { DivergenceStop, HostCalls, WitnessLimit } from '../witness/recorder.ts';
import type { Divergence } from '../witness/recorder.ts';
import { Store } from '../store.ts';
import { OutputLimit, ProcExit } from '../../host-functions/wasi/preview1.ts';
import { WASI_LEVEL } from '../../host-functions/wasi/files.ts';
import { failedOnMemoryLimit } from '../memory-limit.ts';
import { createWasi, grantedImports, hostImports } from './capabilities.ts';
import { isComponent } from '../component/detect.ts';
import type { NetTransport } from './capabilities.ts';
import type { StateSource } from '../../state/snapshot.ts';

export { grantedImports };
export type { NetTransport };

const EMPTY_WITNESS = new Uint8Array(0);

/**
 * What a caller asks of a run: plain data only, the same in this thread, in a worker or from
 * another process. `runGuest` takes a {@link GuestRunRequest}, which adds the in-process handles.
 */
export interface RunRequest {
  manifest: CageManifest;
  /** The original (uninstrumented) module bytes. */
  module: Uint8Array;
  stdin: Uint8Array;
  /** Guest path → contents of each read-only input. */
  inputs: ReadonlyMap<string, Uint8Array>;
  mode: 'record' | 'replay';
  /**
   * Replay: the recorded witness, as entries or as their canonical encodings back to back (a
   * bundle's `witnessBytes`: the cheapest to send to a worker).
   */
  witness?: readonly WitnessEntry[] | Uint8Array;
  /** WASI ABI level (spec/wasi.md#W6): a replay passes its bundle's; default the current one. */
  wasiLevel?: number;
  /**
   * Record mode with `state` granted: the challenge state the run reads (default an empty state
   * named `default`). Replay reads it from the witness and ignores this.
   */
  state?: StateSource;
}

/** A {@link RunRequest} with the handles only code inside the cage passes (never public). */
export interface GuestRunRequest extends Omit<RunRequest, 'witness'> {
  /** Replay: also the log that recorded the witness (compared without decoding it). */
  witness?: readonly WitnessEntry[] | Uint8Array | WitnessLog;
  /**
   * Return the run's witness log in the outcome (`log`), e.g. to replay against it without
   * decoding. Otherwise its memory goes to the next run in this thread once the entries are built.
   */
  keepLog?: boolean;
  /** Record mode with `net` granted: how requests really happen (synchronously, from the guest's view). */
  net?: NetTransport;
  /** Mirror stdout/stderr as they are written (CLI without --json). */
  tee?: { stdout?: (b: Uint8Array) => void; stderr?: (b: Uint8Array) => void };
  /** Already compiled module (a worker pool shares them); must match `module` and the manifest. */
  compiled?: CompiledModule;
  /** The engine that compiles the module and anything the run loads (default `Engine.default`). */
  engine?: Engine;
  /**
   * Runs the guest's synchronous part (instantiation, start function, entry) and returns or
   * throws what it does; default: calls it. The inline cage (inline.ts) puts its watchdog here.
   */
  execute?: (fn: () => void) => void;
}

export interface RunOutcome {
  result: RunResult;
  /**
   * The witness entries, decoded from `witnessBytes` on first access: a run with a million host
   * calls should not pay for a million objects (nor a worker for cloning them) unless asked.
   */
  readonly witness: WitnessEntry[];
  /** Every entry's canonical encoding back to back: what a bundle stores (`encodeBundle` takes it). */
  witnessBytes: Uint8Array;
  /** Replay only: the first differing witness entry, or null when the replay matched its recording. */
  divergence: Divergence | null;
  /** For `rejected`: why. */
  error: { code: string; message: string } | null;
}

/** A {@link RunOutcome} inside the cage: with the witness log when the request set `keepLog`. */
export interface GuestRunOutcome extends RunOutcome {
  log?: WitnessLog;
}

/** The parts of a {@link RunOutcome} that cross threads (cage/worker.ts posts them). */
export type RunOutcomeParts = Omit<RunOutcome, 'witness'>;

/** A {@link RunOutcome} whose `witness` is decoded from `witnessBytes` when first read. */
export function runOutcome(parts: RunOutcomeParts, log?: WitnessLog): GuestRunOutcome {
  let entries: WitnessEntry[] | undefined;
  const out = {
    ...parts,
    get witness(): WitnessEntry[] {
      entries ??= decodeEntries(parts.witnessBytes);
      return entries;
    },
  };
  return log === undefined ? out : Object.assign(out, { log });
}

/** Compile options that follow from a manifest (part of the compile cache key). */
export function compileOptionsFor(m: CageManifest): {
  imports: string[];
  memoryLimit: number;
  stackLimit: number;
  markRefusedGrow: boolean;
} {
  // The refused-grow flag changes neither fuel nor witness, so every level compiles with it (W5).
  return {
    imports: grantedImports(m),
    memoryLimit: m.limits.memory,
    stackLimit: m.limits.stack,
    markRefusedGrow: true,
  };
}

const EMPTY = new Uint8Array(0);

/**
 * Bytes the run's witness may hold (spec/wasi.md#W9): its memory limit, from ABI level 4 on;
 * bundles recorded before the rule replay without one.
 */
export function witnessBudget(req: Pick<GuestRunRequest, 'manifest' | 'wasiLevel'>): number {
  return (req.wasiLevel ?? WASI_LEVEL) >= 4 ? req.manifest.limits.memory : Number.POSITIVE_INFINITY;
}

function baseResult(req: GuestRunRequest): RunResult {
  return {
    formatVersion: RESULT_FORMAT_VERSION,
    status: 'rejected',
    exitCode: null,
    trap: null,
    fuelUsed: 0n,
    fuelLimit: req.manifest.limits.fuel,
    stdout: EMPTY,
    stderr: EMPTY,
    outputs: new Map(),
    witnessEntries: 0,
    witnessRoot: EMPTY,
    moduleHash: blake3(req.module),
    manifestHash: manifestHash(req.manifest),
    inputHash: inputHash(req.stdin, req.inputs),
    instrumenterVersion: INSTRUMENTER_VERSION,
    costTableVersion: DEFAULT_COST_TABLE.version,
  };
}

/**
 * Runs (or replays) one guest. Never throws for anything the guest, module or manifest did: those
 * are statuses. Throws only for infrastructure failures (our bugs), as `InternalError`.
 */
export async function runGuest(req: GuestRunRequest): Promise<GuestRunOutcome> {
  const m = req.manifest;
  const result = baseResult(req);
  // A component (the binary's layer field) takes the component path (docs/components.md).
  // Loaded when needed: most runs are core modules without state (a one-shot command's start-up).
  if (isComponent(req.module)) return (await import('./component.ts')).runComponentGuest(req, result);
  const calls = new HostCalls(req.mode, req.witness);
  const engine = req.engine ?? Engine.default;
  // Bundles recorded before host calls failed closed (WASI level 0) replay as they ran.
  calls.failClosed = (req.wasiLevel ?? WASI_LEVEL) > 0;
  calls.witnessBudget = witnessBudget(req);
  let compiled: CompiledModule;
  try {
    compiled = req.compiled ?? (await engine.compile(req.module, compileOptionsFor(m)));
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    result.witnessRoot = calls.log.finalize().root;
    return runOutcome({
      result,
      witnessBytes: EMPTY_WITNESS,
      divergence: null,
      error: { code: e.code, message: e.message },
    });
  }
  const entryExport = compiled.exports.find((e) => e.name === m.entry);
  if (entryExport === undefined || entryExport.kind !== 'func') {
    result.witnessRoot = calls.log.finalize().root;
    const message = `the module has no exported function "${m.entry}" to run; set "entry" in the manifest to one of: ${
      compiled.exports
        .filter((e) => e.kind === 'func')
        .map((e) => e.name)
        .join(', ') || '(none)'
    }`;
    return runOutcome({
      result,
      witnessBytes: EMPTY_WITNESS,
      divergence: null,
      error: { code: 'DL_ERR_CAGE_NO_ENTRY', message },
    });
  }

  const grants = new Set<string>(m.grants);
  const wasi = createWasi(calls, {
    args: m.args,
    env: m.env,
    seed: m.determinism.seed,
    clockStart: m.determinism.clock.start,
    clockStep: m.determinism.clock.step,
    stdin: req.stdin,
    inputs: req.inputs,
    outputDir: m.files.output,
    scratchDir: m.files.scratch,
    writable: m.files.writable.map((w) => w.guest),
    inputPaths: m.files.inputs.map((i) => i.guest),
    limits: { stdout: m.limits.stdout, stderr: m.limits.stderr, output: m.limits.output, scratch: m.limits.memory },
    grants,
    level: req.wasiLevel,
  });
  wasi.stdout.tee = req.tee?.stdout;
  wasi.stderr.tee = req.tee?.stderr;
  const store = new Store(engine, m, calls);
  const state = grants.has('state') ? (await import('./state-run.ts')).openStateRun(calls, req.state) : undefined;
  // Host imports go through wasm trampolines that capture fuel and arguments for the witness.
  const imports = calls.link(hostImports(store, { wasi, net: req.net, state }), compiled.functionImports());

  let instance: Instance | undefined;
  let status: RunStatus = 'exited';
  let exitCode: number | null = 0;
  let trap: string | null = null;
  let divergence: Divergence | null = null;
  const execute = req.execute ?? ((fn: () => void) => fn());
  try {
    execute(() => {
      instance = compiled.instantiateSync(imports, {
        fuel: m.limits.fuel,
        beforeStart: (inst) => {
          instance = inst;
          // The submission's fuel (nested group) is billed to this instance.
          store.instance = inst;
          const mem = inst.exports.memory;
          calls.mem.attach(mem instanceof WebAssembly.Memory ? mem : undefined);
          calls.fuelMeter = inst;
        },
      });
      (instance.exports[m.entry] as () => unknown)();
    });
  } catch (e) {
    exitCode = null;
    if (e instanceof ProcExit) {
      exitCode = e.code;
    } else if (e instanceof DeterministicTrap) {
      status = e instanceof OutOfFuel ? 'out_of_fuel' : e instanceof StackExhausted ? 'stack_exhausted' : 'trapped';
      trap = e.trap;
    } else if (e instanceof OutputLimit) {
      status = 'output_limit';
    } else if (e instanceof WitnessLimit) {
      status = 'memory_limit';
    } else if (e instanceof DivergenceStop) {
      status = 'trapped';
      trap = 'host_error';
      divergence = e.divergence;
    } else {
      // Anything else (a link error, an internal error) is infrastructure, never a result.
      throw e;
    }
  }
  // A failure after the memory limit refused a grow is a memory-limit failure (spec/wasi.md#W5).
  const mem = instance?.exports.memory;
  if (
    (status === 'trapped' || (status === 'exited' && exitCode !== 0)) &&
    divergence === null &&
    instance !== undefined &&
    failedOnMemoryLimit(req.wasiLevel ?? WASI_LEVEL, {
      growRefused: instance.growRefused(),
      memory: mem instanceof WebAssembly.Memory ? mem : undefined,
      limitPages: compiled.memoryLimitPages,
    })
  ) {
    status = 'memory_limit';
  }
  // The state change is the last entry: the result hash commits to it through the witness root.
  if (state !== undefined && divergence === null) divergence = state.finish();
  else state?.close();
  if (divergence === null) divergence = calls.checkComplete();
  const commitment = calls.log.finalize({ encode: true });
  result.status = status;
  result.exitCode = exitCode;
  result.trap = trap;
  result.fuelUsed = instance?.fuelUsed() ?? 0n;
  result.stdout = wasi.stdout.bytes();
  result.stderr = wasi.stderr.bytes();
  result.outputs = wasi.outputs();
  result.witnessEntries = calls.log.length;
  result.witnessRoot = commitment.root;
  // The encoding is a copy: unless the caller wants the log, its memory serves the next run.
  calls.release({ keepLog: req.keepLog === true });
  return runOutcome(
    { result, witnessBytes: commitment.encoded!, divergence, error: null },
    req.keepLog === true ? calls.log : undefined,
  );
}

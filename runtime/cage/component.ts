/**
 * One cage run of a WebAssembly component (WASI 0.2 command world), in the current thread: the
 * component path of `runGuest` (run.ts branches here on the binary's layer field). jco transpiles
 * it (cached), docklock's engine compiles each core module, the glue links them under one fuel
 * and stack budget, and docklock's WASI 0.2 host answers it through the run's preview1 host, so
 * the manifest, limits, statuses, witness and result hash rules are those of a core module
 * (docs/components.md).
 */
import { Engine } from '../engine.ts';
import { DeterministicTrap, InternalError, OutOfFuel, StackExhausted, ValidationError } from '../errors.ts';
import { HostCalls, DivergenceStop, WitnessLimit } from '../witness/recorder.ts';
import type { Divergence } from '../witness/recorder.ts';
import type { RunStatus } from '../result.ts';
import { asyncBuiltinOf } from '../component/async-scan.ts';
import { transpileComponent } from '../component/transpile.ts';
import { compileComponent, instantiateComponent } from '../component/instantiate.ts';
import type { ComponentInstance } from '../component/instantiate.ts';
import { classifyTrap } from '../traps.ts';
import { OutputLimit, ProcExit } from '../../host-functions/wasi/preview1.ts';
import { WASI_LEVEL } from '../../host-functions/wasi/files.ts';
import { failedOnMemoryLimit } from '../memory-limit.ts';
import { createWasiP2, P2_INTERFACES } from '../../host-functions/wasi-p2/host.ts';
import { createWasi } from './capabilities.ts';
import { createNet } from '../../host-functions/net/http.ts';
import { Store } from '../store.ts';
import { runOutcome, witnessBudget } from './run.ts';
import type { GuestRunOutcome, GuestRunRequest } from './run.ts';
import type { RunResult } from '../result.ts';
import type { CrossingObserver, SharedBudget } from '../component/budget.ts';

/** The export of the `wasi:cli/command` world the cage calls. */
const RUN_EXPORT = 'wasi:cli/run';

/**
 * Runs (or replays) one component. Same contract as `runGuest`: never throws for anything the
 * guest, component or manifest did.
 * @param result the run's result as `runGuest` starts it (hashes of module, manifest, input)
 */
export async function runComponentGuest(req: GuestRunRequest, result: RunResult): Promise<GuestRunOutcome> {
  const m = req.manifest;
  const calls = new HostCalls(req.mode, req.witness);
  calls.failClosed = (req.wasiLevel ?? WASI_LEVEL) > 0;
  calls.witnessBudget = witnessBudget(req);
  const engine = req.engine ?? Engine.default;
  const grants = new Set<string>(m.grants);
  const rejected = (e: ValidationError): GuestRunOutcome => {
    result.witnessRoot = calls.log.finalize().root;
    return runOutcome({
      result,
      witnessBytes: new Uint8Array(0),
      divergence: null,
      error: { code: e.code, message: e.message },
    });
  };
  let compiled;
  try {
    const builtin = asyncBuiltinOf(req.module, result.moduleHash);
    if (builtin !== undefined)
      throw new ValidationError(
        'DL_ERR_COMPONENT_UNSUPPORTED',
        `the component uses the component model's async builtin "${builtin}" (WASI 0.3 streams, futures, tasks, threads); docklock runs synchronous WASI 0.2 components only, since jco schedules async tasks with Math.random`,
        { canon: builtin },
      );
    const transpiled = await transpileComponent(req.module, undefined, result.moduleHash);
    for (const i of transpiled.imports) {
      const group = P2_INTERFACES[i];
      if (group === undefined)
        throw new ValidationError(
          'DL_ERR_COMPONENT_IMPORT_DENIED',
          `the component imports "${i}", which the cage does not offer (it offers wasi:cli, wasi:io, wasi:filesystem, wasi:clocks, wasi:random, and wasi:http's client side with recorded networking; sockets are denied)`,
          { import: i },
        );
      // Without recorded networking there is no network to offer, not even an unrecorded one.
      if (group === 'net' && !grants.has('net'))
        throw new ValidationError(
          'DL_ERR_COMPONENT_IMPORT_DENIED',
          `the component imports "${i}", which the cage offers only with recorded networking: grant "net" with network.mode "record" and list the hosts in network.allow (CLI: --net record --allow-host host:port)`,
          { import: i },
        );
      if (!grants.has(group))
        throw new ValidationError(
          'DL_ERR_IMPORT_NOT_GRANTED',
          `the component imports "${i}", which needs the "${group}" grant; grant it in the manifest or remove the import`,
          { import: i },
        );
    }
    compiled = await compileComponent(engine, transpiled, { memoryLimit: m.limits.memory, stackLimit: m.limits.stack });
  } catch (e) {
    if (e instanceof ValidationError) return rejected(e);
    throw e;
  }

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
  // The recorded network of a core module (docklock.http_*), made after the WASI host as for a
  // core module (hostImports' GRANTS order), so its names enter the witness log in the same order.
  const net = grants.has('net') ? createNet(new Store(engine, m, calls), req.net) : {};
  const imports = createWasiP2(
    { ...wasi.imports, ...net },
    calls.mem,
    m.network.limits.maxRequestBytes,
    m.limits.memory,
  );

  let instance: ComponentInstance | undefined;
  let budget: SharedBudget | undefined;
  let status: RunStatus = 'exited';
  let exitCode: number | null = 0;
  let trap: string | null = null;
  let divergence: Divergence | null = null;
  try {
    // A profiling engine watches the crossings between core instances (runtime/profile/engine.ts).
    const observer = (engine as Partial<{ crossingObserver: CrossingObserver }>).crossingObserver;
    instance = instantiateComponent(
      compiled,
      imports,
      m.limits.fuel,
      m.limits.stack,
      (b) => {
        budget = b;
        calls.fuelMeter = b;
      },
      observer,
    );
    // The glue names the export with its version (`wasi:cli/run@0.2.12`).
    const key = Object.keys(instance.exports).find((k) => k === RUN_EXPORT || k.startsWith(`${RUN_EXPORT}@`));
    const run = key === undefined ? undefined : (instance.exports[key] as { run?: () => void }).run;
    if (typeof run !== 'function')
      return rejected(
        new ValidationError(
          'DL_ERR_COMPONENT_NO_RUN',
          `the component exports no ${RUN_EXPORT}.run; docklock runs components of the wasi:cli/command world`,
        ),
      );
    try {
      run();
    } catch (e) {
      // `run` returned `err` (a command's exit status 1): jco's glue throws the empty error
      // payload, or a ComponentError carrying it as `payload`.
      if (
        e === undefined ||
        (e instanceof Error && Object.hasOwn(e, 'payload') && (e as { payload?: unknown }).payload === undefined)
      )
        exitCode = 1;
      else throw e;
    }
  } catch (e0) {
    const e = e0 instanceof WebAssembly.RuntimeError ? classifyTrap(e0, 0) : e0;
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
    } else if (e instanceof InternalError) {
      throw e;
    } else {
      throw new InternalError(`the component run failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  // As for a core module: a failure after a refused grow is a memory-limit failure (spec/wasi.md#W5).
  if (
    (status === 'trapped' || (status === 'exited' && exitCode !== 0)) &&
    divergence === null &&
    instance !== undefined &&
    failedOnMemoryLimit(req.wasiLevel ?? WASI_LEVEL, {
      growRefused: instance.budget.growRefused(),
      memory: instance.memory,
      limitPages: instance.memoryLimitPages,
    })
  ) {
    status = 'memory_limit';
  }
  if (divergence === null) divergence = calls.checkComplete();
  const commitment = calls.log.finalize({ encode: true });
  result.status = status;
  result.exitCode = exitCode;
  result.trap = trap;
  result.fuelUsed = budget?.fuelUsed() ?? 0n;
  result.stdout = wasi.stdout.bytes();
  result.stderr = wasi.stderr.bytes();
  result.outputs = wasi.outputs();
  result.witnessEntries = calls.log.length;
  result.witnessRoot = commitment.root;
  calls.release({ keepLog: req.keepLog === true });
  return runOutcome(
    { result, witnessBytes: commitment.encoded!, divergence, error: null },
    req.keepLog === true ? calls.log : undefined,
  );
}

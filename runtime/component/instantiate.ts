/**
 * Instantiates a transpiled component: each core module compiled by docklock's engine
 * (validation, fuel, stack depth, NaN canonicalisation, memory clamp, compile cache), handed to
 * jco's glue through `getCoreModule`, and instantiated through `instantiateCore` under one
 * {@link SharedBudget}. With modules given synchronously the glue instantiates synchronously.
 */
import type { CompiledModule } from '../compiled-module.ts';
import type { Engine } from '../engine.ts';
import { InternalError, ValidationError } from '../errors.ts';
import { SharedBudget } from './budget.ts';
import type { CrossingObserver } from './budget.ts';
import type { TranspiledComponent } from './transpile.ts';

/** A component with its core modules compiled. */
export interface CompiledComponent {
  transpiled: TranspiledComponent;
  /** Core file name → compiled module, in the glue's order. */
  cores: ReadonlyMap<string, CompiledModule>;
}

/**
 * Component-model async builtins (WASI 0.3, streams, futures, tasks). jco's scheduler for them
 * picks among ready tasks with `Math.random`, so a component that uses them is refused.
 */
const ASYNC_BUILTIN =
  /^\[(async-lower|waitable|stream-|future-|task-|subtask-|context-|backpressure|yield|error-context|thread)/;

/**
 * Compiles every core module of a component. Core modules import one another and the glue's
 * lowered functions under names only the component binary fixes, so every import is allowed here;
 * what the component may reach is checked on its WIT imports (the caller's job).
 * @throws {ValidationError} for a core module docklock rejects, or one using async builtins
 */
export function compileComponent(
  engine: Engine,
  transpiled: TranspiledComponent,
  options: { memoryLimit: number; stackLimit: number },
): Promise<CompiledComponent> {
  // A warm run skips hashing every core module again for the engine's cache: the transpiled
  // component is immutable and kept for the process, so its compiled cores are kept beside it.
  let perEngine = compiledCache.get(engine);
  if (perEngine === undefined) compiledCache.set(engine, (perEngine = new WeakMap()));
  let byOptions = perEngine.get(transpiled);
  if (byOptions === undefined) perEngine.set(transpiled, (byOptions = new Map()));
  const key = `${options.memoryLimit}/${options.stackLimit}`;
  let p = byOptions.get(key);
  if (p === undefined) {
    p = compileCores(engine, transpiled, options);
    byOptions.set(key, p);
    const map = byOptions;
    p.catch(() => map.delete(key));
  }
  return p;
}

const compiledCache = new WeakMap<Engine, WeakMap<TranspiledComponent, Map<string, Promise<CompiledComponent>>>>();

async function compileCores(
  engine: Engine,
  transpiled: TranspiledComponent,
  options: { memoryLimit: number; stackLimit: number },
): Promise<CompiledComponent> {
  const cores = new Map<string, CompiledModule>();
  for (const [name, bytes] of transpiled.cores) {
    // The refused-grow flag as for a core module (compileOptionsFor): it changes neither fuel nor witness.
    const compiled = await engine.compile(bytes, { ...options, imports: ['*'], markRefusedGrow: true });
    for (const imp of compiled.imports)
      if (ASYNC_BUILTIN.test(imp.name))
        throw new ValidationError(
          'DL_ERR_COMPONENT_UNSUPPORTED',
          `the component uses the component model's async builtin "${imp.name}" (WASI 0.3 streams, futures, tasks); docklock runs synchronous WASI 0.2 components only`,
          { import: `${imp.module}.${imp.name}` },
        );
    cores.set(name, compiled);
  }
  return { transpiled, cores };
}

/** A running component. */
export interface ComponentInstance {
  exports: Record<string, unknown>;
  budget: SharedBudget;
  /** The main module's memory (the first core instance that exports one), for the memory-limit status. */
  memory: WebAssembly.Memory | undefined;
  /** Pages that memory may reach. */
  memoryLimitPages: number;
}

/**
 * Instantiates the component with `imports` (interface name → host object) and a fuel budget.
 * `beforeCores` runs once the budget exists, before any core instance does (the witness needs it).
 * `observer` is told of every crossing (the profiler's).
 */
export function instantiateComponent(
  c: CompiledComponent,
  imports: Record<string, unknown>,
  fuel: bigint,
  stackLimit: number,
  beforeCores: (budget: SharedBudget) => void,
  observer?: CrossingObserver,
): ComponentInstance {
  const budget = new SharedBudget(fuel, stackLimit, observer);
  beforeCores(budget);
  const byModule = new Map<WebAssembly.Module, CompiledModule>();
  for (const m of c.cores.values()) byModule.set(m.module, m);
  let memory: WebAssembly.Memory | undefined;
  let memoryLimitPages = 0;
  const getCoreModule = (name: string): WebAssembly.Module => {
    const m = c.cores.get(name);
    if (m === undefined) throw new InternalError(`the component's glue asked for an unknown core module ${name}`);
    return m.module;
  };
  const instantiateCore = (
    module: WebAssembly.Module,
    coreImports?: WebAssembly.Imports,
  ): { exports: Record<string, unknown> } => {
    const compiled = byModule.get(module);
    if (compiled === undefined)
      throw new InternalError('the component glue instantiated a module docklock did not compile');
    const exports = budget.adopt(new WebAssembly.Instance(module, coreImports ?? {}), module);
    const mem = exports.memory;
    if (memory === undefined && mem instanceof WebAssembly.Memory) {
      memory = mem;
      memoryLimitPages = compiled.memoryLimitPages;
    }
    return { exports };
  };
  const exports = c.transpiled.instantiate(getCoreModule, imports, instantiateCore);
  if (exports instanceof Promise)
    throw new InternalError(
      'the component glue instantiated asynchronously; docklock gives it every module synchronously',
    );
  return { exports, budget, memory, memoryLimitPages };
}

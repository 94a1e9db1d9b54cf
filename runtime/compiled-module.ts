/**
 * `CompiledModule` (the public `Module`): a validated, instrumented, compiled module that an
 * {@link Engine} (runtime/engine.ts) made; its `instantiate` sets the fuel budget before the
 * (metered) start function runs (spec: spec/instrumented-abi.md).
 */
import { Instance, kFuncType } from './instance.ts';
import { classifyTrap } from './traps.ts';
import { DEFAULT_STACK_LIMIT } from './instrument/instrument.ts';
import type { InstrumentStats } from './instrument/instrument.ts';
import { VALTYPE } from './instrument/opcodes.ts';
import type { Import, Export, FuncType } from './instrument/module.ts';

export type { CompileOptions } from './engine.ts';

export interface InstantiateOptions {
  /** Fuel budget for this instance (start function included). Required: a store starts with none. */
  fuel: bigint;
  /** Called after instantiation and before the start function runs, e.g. to hand host functions the guest's memory. */
  beforeStart?: (instance: Instance) => void;
  /**
   * Whether the caller bills the fuel a start function that traps used (spec: nested.md#N4);
   * instantiation ignores it, a profiler mirrors it. Default true.
   */
  startTrapBilled?: boolean;
}

/** The constructor's input, and what {@link CompiledModule.share} posts to a worker. */
export interface SharedCompiledModule {
  module: WebAssembly.Module;
  moduleHash: Uint8Array;
  key: string;
  imports: Import[];
  exports: Export[];
  memoryLimitPages: number;
  /** The stack budget the module was instrumented for (default {@link DEFAULT_STACK_LIMIT}). */
  stackLimit?: number;
  stats: InstrumentStats;
  instrumented: Uint8Array;
  types?: FuncType[];
  funcTypes?: number[];
}

/** A validated, instrumented, compiled module. Immutable; instantiate it any number of times. */
export class CompiledModule {
  /** The V8 module of the instrumented bytes; can be posted to workers. */
  readonly module: WebAssembly.Module;
  /** BLAKE3 of the original module bytes. */
  readonly moduleHash: Uint8Array;
  /** Cache key: hash of bytes + options + instrumenter version + cost table. */
  readonly key: string;
  readonly imports: readonly Import[];
  /** The guest's own exports (docklock's are hidden). */
  readonly exports: readonly Export[];
  readonly memoryLimitPages: number;
  readonly stats: InstrumentStats;
  readonly instrumented: Uint8Array;
  /** The module's function types, and the type of each exported function by name. */
  readonly #types: readonly FuncType[];
  readonly #exportTypes = new Map<string, FuncType>();
  readonly #init: SharedCompiledModule;

  constructor(init: SharedCompiledModule) {
    this.module = init.module;
    this.moduleHash = init.moduleHash;
    this.key = init.key;
    this.imports = init.imports;
    this.exports = init.exports;
    this.memoryLimitPages = init.memoryLimitPages;
    this.stats = init.stats;
    this.instrumented = init.instrumented;
    this.#types = init.types ?? [];
    this.#init = init;
    for (const e of init.exports) {
      const t = e.kind === 'func' ? this.#types[init.funcTypes?.[e.index] ?? -1] : undefined;
      if (t !== undefined) this.#exportTypes.set(e.name, t);
    }
  }

  /**
   * Everything needed to rebuild this module in another thread without compiling again: the
   * `WebAssembly.Module` is structured-cloneable (V8 shares the compiled code), the rest is plain
   * data. Post it to a worker and call {@link CompiledModule.fromShared} there.
   */
  share(): SharedCompiledModule {
    return this.#init;
  }

  /** Rebuilds a module posted by {@link CompiledModule.share}; no validation, instrumentation or compilation runs. */
  static fromShared(shared: SharedCompiledModule): CompiledModule {
    return new CompiledModule(shared);
  }

  /**
   * Instantiates the module with host imports and a fuel budget, then runs its start function.
   * @throws {DeterministicTrap} when the start function traps or runs out of fuel
   * @throws {WebAssembly.LinkError} when `imports` do not satisfy the module
   */
  async instantiate(imports: WebAssembly.Imports, options: InstantiateOptions): Promise<Instance> {
    return this.instantiateSync(imports, options);
  }

  /** Synchronous `instantiate`, for worker threads and host functions that create nested instances. */
  instantiateSync(imports: WebAssembly.Imports, options: InstantiateOptions): Instance {
    const fuel = options?.fuel;
    if (typeof fuel !== 'bigint' || fuel < 0n)
      throw new RangeError(`options.fuel must be a non-negative bigint, got ${String(fuel)}`);
    this.#checkFunctionImports(imports);
    let raw: WebAssembly.Instance;
    try {
      raw = new WebAssembly.Instance(this.module, imports);
    } catch (err) {
      // A data or element segment out of bounds traps during instantiation: a trap like any other.
      throw err instanceof WebAssembly.RuntimeError ? classifyTrap(err, 0) : err;
    }
    const inst = new Instance(raw, fuel, this.#exportTypes, this.#init.stackLimit ?? DEFAULT_STACK_LIMIT);
    options.beforeStart?.(inst);
    inst.runStart();
    return inst;
  }

  /** The module's function imports with their wasm types, in import order. */
  functionImports(): { module: string; name: string; type: FuncType }[] {
    const out: { module: string; name: string; type: FuncType }[] = [];
    for (const imp of this.imports) {
      const type = imp.kind === 'func' ? this.#types[imp.typeIndex ?? -1] : undefined;
      if (type !== undefined) out.push({ module: imp.module, name: imp.name, type });
    }
    return out;
  }

  /**
   * docklock's exports are JS wrappers, which V8 links against any function type; so an import
   * given one is checked against the wrapped function's wasm type here, as V8 checks wasm functions.
   * @throws {WebAssembly.LinkError} on a type mismatch
   */
  #checkFunctionImports(imports: WebAssembly.Imports): void {
    this.imports.forEach((imp, i) => {
      if (imp.kind !== 'func') return;
      const value = (imports as Record<string, Record<string, unknown> | undefined>)[imp.module]?.[imp.name];
      if (typeof value !== 'function') return;
      const provided = (value as { [kFuncType]?: FuncType })[kFuncType];
      const declared = this.#types[imp.typeIndex ?? -1];
      if (provided !== undefined && declared !== undefined && funcTypeText(provided) !== funcTypeText(declared)) {
        throw new WebAssembly.LinkError(
          `import #${i} "${imp.module}" "${imp.name}": imported function of type ${funcTypeText(provided)} does not match the declared type ${funcTypeText(declared)}`,
        );
      }
    });
  }
}

/** Value type byte → name, from the one value-type table (instrument/opcodes.ts `VALTYPE`). */
const VALTYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(VALTYPE).map(([name, byte]) => [byte, name]),
);

function funcTypeText(t: FuncType): string {
  const names = (v: Uint8Array): string => Array.from(v, (b) => VALTYPE_NAMES[b] ?? `0x${b.toString(16)}`).join(' ');
  return `[${names(t.params)}] -> [${names(t.results)}]`;
}

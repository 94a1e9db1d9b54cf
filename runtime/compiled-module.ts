/**
 * `compile`: validate → instrument → `WebAssembly.compile`, cached by content hash; and the
 * `CompiledModule` it returns, whose `instantiate` sets the fuel budget before the (metered)
 * start function runs. This is the engine's public face (spec: spec/instrumented-abi.md).
 */
import { blake3, toHex } from './hash.ts';
import { InternalError } from './errors.ts';
import { Instance, kFuncType } from './instance.ts';
import { classifyTrap } from './traps.ts';
import { INSTRUMENTER_VERSION, instrumentParsed, DEFAULT_MEMORY_LIMIT, DEFAULT_STACK_LIMIT } from './instrument/instrument.ts';
import { decodeModule } from './instrument/module.ts';
import type { InstrumentOptions, InstrumentStats } from './instrument/instrument.ts';
import { DEFAULT_COST_TABLE } from './instrument/cost-table.ts';
import type { CostTable } from './instrument/cost-table.ts';
import { DEFAULT_MODULE_LIMITS, checkImports, checkLimits, checkModuleSize, checkWithEngine } from './validate.ts';
import type { ValidateOptions } from './validate.ts';
import type { Import, Export, FuncType } from './instrument/module.ts';

export interface CompileOptions extends InstrumentOptions, ValidateOptions {}

export interface InstantiateOptions {
  /** Fuel budget for this instance (start function included). Required: a store starts with none. */
  fuel: bigint;
  /** Called after instantiation and before the start function runs, e.g. to hand host functions the guest's memory. */
  beforeStart?: (instance: Instance) => void;
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
    if (typeof fuel !== 'bigint' || fuel < 0n) throw new RangeError(`options.fuel must be a non-negative bigint, got ${String(fuel)}`);
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
        throw new WebAssembly.LinkError(`import #${i} "${imp.module}" "${imp.name}": imported function of type ${funcTypeText(provided)} does not match the declared type ${funcTypeText(declared)}`);
      }
    });
  }
}

const VALTYPE_NAMES: Record<number, string> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

function funcTypeText(t: FuncType): string {
  const names = (v: Uint8Array): string => Array.from(v, (b) => VALTYPE_NAMES[b] ?? `0x${b.toString(16)}`).join(' ');
  return `[${names(t.params)}] -> [${names(t.results)}]`;
}

const CACHE_MAX = 64;
const cache = new Map<string, Promise<CompiledModule>>();

/** Hash of a cost table's contents, once per table object (compile looks it up on every call). */
const costTableHashes = new WeakMap<CostTable, string>();
function costTableHash(costs: CostTable): string {
  let h = costTableHashes.get(costs);
  if (h === undefined) {
    h = toHex(blake3(Uint8Array.from([...costs.op, ...costs.fc, ...costs.simd, costs.bulkByteShift, costs.tableElementCost, costs.memoryGrowPageCost & 0xff, costs.memoryGrowPageCost >> 8])));
    costTableHashes.set(costs, h);
  }
  return h;
}

function optionsKey(o: CompileOptions): string {
  const costs = o.costTable ?? DEFAULT_COST_TABLE;
  return JSON.stringify([
    INSTRUMENTER_VERSION,
    costs.version,
    costTableHash(costs),
    o.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
    o.stackLimit ?? DEFAULT_STACK_LIMIT,
    [...(o.imports ?? [])].sort(),
    o.limits ?? {},
  ]);
}

/**
 * Validates, instruments and compiles a module. Results are cached by content hash, so compiling
 * the same bytes with the same options again is free.
 * @throws {ValidationError} for a malformed, invalid, oversized or unsupported module, or an import not granted
 * @example
 * const mod = await compile(bytes, { imports: ['wasi_snapshot_preview1.*'], memoryLimit: 64 << 20 });
 * const inst = await mod.instantiate(imports, { fuel: 1_000_000n });
 */
export function compile(wasm: Uint8Array, options: CompileOptions = {}): Promise<CompiledModule> {
  const moduleHash = blake3(wasm);
  const key = toHex(blake3(new TextEncoder().encode(toHex(moduleHash) + optionsKey(options))));
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const p = (async () => {
    const { parsed, out } = prepare(wasm, options);
    const module = await WebAssembly.compile(out.bytes as Uint8Array<ArrayBuffer>);
    return new CompiledModule({ module, moduleHash, key, imports: parsed.imports, exports: parsed.exports, memoryLimitPages: out.memoryLimitPages, stackLimit: out.stackLimit, stats: out.stats, instrumented: out.bytes, types: parsed.types, funcTypes: parsed.funcTypes });
  })();
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
  return p;
}

/**
 * Validation and instrumentation shared by {@link compile} and {@link compileSync}. Decodes once;
 * the instrumenter's analysis pass doubles as the feature check, and runs before V8's validator so
 * unsupported proposals are named even where V8 accepts them.
 */
function prepare(wasm: Uint8Array, options: CompileOptions): { parsed: ReturnType<typeof decodeModule>; out: ReturnType<typeof instrumentParsed> } {
  const limits = { ...DEFAULT_MODULE_LIMITS, ...options.limits };
  checkModuleSize(wasm, limits);
  const parsed = decodeModule(wasm);
  checkLimits(parsed, limits);
  const out = instrumentParsed(parsed, options);
  checkWithEngine(wasm);
  checkImports(parsed, options.imports ?? []);
  if (!WebAssembly.validate(out.bytes as Uint8Array<ArrayBuffer>)) {
    let detail = '';
    try {
      new WebAssembly.Module(out.bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      detail = (e as Error).message;
    }
    throw new InternalError(`instrumented module failed validation: ${detail}`);
  }
  return { parsed, out };
}

const syncCache = new Map<string, CompiledModule>();

/**
 * Synchronous {@link compile}, for host functions that must compile while the guest waits (the
 * `nested` group loads a submission from inside a challenge's host call, and a wasm import cannot
 * await). Same validation, instrumentation and options; its own cache by the same key, so a
 * submission evaluated again in the same thread is not compiled again.
 * @throws {ValidationError} as {@link compile}
 * @example
 * const mod = compileSync(bytes, { imports: [], memoryLimit: 16 << 20, stackLimit: 16_384 });
 */
export function compileSync(wasm: Uint8Array, options: CompileOptions = {}): CompiledModule {
  const moduleHash = blake3(wasm);
  const key = toHex(blake3(new TextEncoder().encode(toHex(moduleHash) + optionsKey(options))));
  const hit = syncCache.get(key);
  if (hit !== undefined) {
    syncCache.delete(key);
    syncCache.set(key, hit);
    return hit;
  }
  const { parsed, out } = prepare(wasm, options);
  const module = new WebAssembly.Module(out.bytes as Uint8Array<ArrayBuffer>);
  const compiled = new CompiledModule({ module, moduleHash, key, imports: parsed.imports, exports: parsed.exports, memoryLimitPages: out.memoryLimitPages, stackLimit: out.stackLimit, stats: out.stats, instrumented: out.bytes, types: parsed.types, funcTypes: parsed.funcTypes });
  syncCache.set(key, compiled);
  if (syncCache.size > CACHE_MAX) syncCache.delete(syncCache.keys().next().value!);
  return compiled;
}

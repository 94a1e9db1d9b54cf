/**
 * The Engine: docklock's one configuration object and the owner of the compile cache (wasmtime's
 * `Engine`, `crates/wasmtime/src/lib.rs` "Core Concepts"). An engine is immutable and shared; a
 * {@link CompiledModule} (a Module) comes from one, and a run's per-run state lives in a Store
 * (runtime/store.ts) that holds the engine it compiles nested modules with.
 *
 * ## Every default, in one place
 *
 * Library defaults ({@link ENGINE_DEFAULTS}: `compile`, `Engine`, `instrument`):
 *
 * | setting | default | why |
 * |---|---|---|
 * | `memoryLimit` | 256 MiB | a guest's linear memory maximum, clamped in the binary (spec/instrumented-abi.md) |
 * | `stackLimit` | 40,000 frame-weight units | see "the two stack defaults" below |
 * | `costTable` | `DEFAULT_COST_TABLE` (spec/fuel.md) | per-instruction fuel costs; part of every result hash |
 * | `limits` | `DEFAULT_MODULE_LIMITS` (64 MiB module, 100,000 functions, 50,000 locals a function, 4 MiB a body, 1,000,000 table elements, 64 MiB data, 100,000 entries a section) | refuse hostile modules before anything is allocated |
 * | `imports` | none | fail closed: a module may import only what the caller grants |
 * | `compileCacheSize` | 64 modules | one LRU for `compile` and `compileSync` |
 *
 * Run defaults (a cage run: `MANIFEST_DEFAULTS`, runtime/manifest/parse.ts, part of the manifest
 * hash): entry `_start`, fuel 10^10, memory 256 MiB, stack 65,536, stdout and stderr 1 MiB each,
 * /output 16 MiB, watchdog 60 s, seed 32 zero bytes, clock from 1,700,000,000 s stepping 1 ms,
 * /output and /tmp, network `deny` (16 requests, 1 MiB out, 16 MiB in, 10 s), grants wasi,
 * random, clock, log. Fuel has no library default: `instantiate` requires it.
 *
 * ## The two stack defaults: 40,000 and 65,536
 *
 * They differ on purpose and neither can move. A library instance runs on its caller's thread,
 * usually a main thread with V8's fixed 984 KiB stack; 40,000 units stop recursion at about a
 * third of V8's own overflow depth there (spec/stack.md#S6). A cage run sizes its worker thread's
 * stack from the budget (`workerStackMb`: 8 bytes a unit, 3× margin, at least 4 MiB), so its
 * default can be larger, and 65,536 is in the canonical manifest bytes: changing it would change
 * the manifest hash of every run that relies on the default.
 */
import { blake3, toHex } from './hash.ts';
import { InternalError } from './errors.ts';
import { CompiledModule } from './compiled-module.ts';
import { InstrumentCache } from './instrument-cache.ts';
import {
  INSTRUMENTER_VERSION,
  instrumentParsed,
  DEFAULT_MEMORY_LIMIT,
  DEFAULT_STACK_LIMIT,
} from './instrument/instrument.ts';
import { decodeModule } from './instrument/module.ts';
import type { InstrumentOptions } from './instrument/instrument.ts';
import { DEFAULT_COST_TABLE } from './instrument/cost-table.ts';
import type { CostTable } from './instrument/cost-table.ts';
import { DEFAULT_MODULE_LIMITS, checkImports, checkLimits, checkModuleSize, checkWithEngine } from './validate.ts';
import type { ImportGrants, ModuleLimits, ValidateOptions } from './validate.ts';

/** Per-module compile options; each falls back to the engine's configuration. */
export interface CompileOptions extends InstrumentOptions, ValidateOptions {}

/** An engine's configuration. Every field has a default ({@link ENGINE_DEFAULTS}). */
/** What `new Engine(…)` takes: any field of {@link EngineConfig}, and limits field by field. */
export type EngineOptions = Partial<Omit<EngineConfig, 'limits'>> & { limits?: Partial<ModuleLimits> };

export interface EngineConfig {
  /** Memory limit in bytes (whole 64 KiB pages). */
  memoryLimit: number;
  /** Stack budget in frame-weight units (spec/stack.md). */
  stackLimit: number;
  /** Fuel cost table (spec/fuel.md). */
  costTable: CostTable;
  /** Structural limits checked before a module is decoded further. */
  limits: Readonly<ModuleLimits>;
  /** Imports a module may declare unless `compile` is told otherwise. */
  imports: ImportGrants;
  /** Compiled modules kept, least recently used dropped first. */
  compileCacheSize: number;
  /**
   * A folder where instrumented modules are kept between processes (instrument-cache.ts), or
   * null (the default): the library writes nothing to disk unless asked. `docklock run` sets it.
   */
  cacheDir: string | null;
}

/** The library's defaults; the table in this file's header says why each is what it is. */
export const ENGINE_DEFAULTS: Readonly<EngineConfig> = Object.freeze({
  memoryLimit: DEFAULT_MEMORY_LIMIT,
  stackLimit: DEFAULT_STACK_LIMIT,
  costTable: DEFAULT_COST_TABLE,
  limits: DEFAULT_MODULE_LIMITS,
  imports: Object.freeze([]) as ImportGrants,
  compileCacheSize: 64,
  cacheDir: null,
});

/** One cache entry: the module once compiled, or the compilation under way. */
interface CacheEntry {
  module?: CompiledModule;
  pending?: Promise<CompiledModule>;
}

/** Hash of a cost table's contents, once per table object (the key is computed on every compile). */
const costTableHashes = new WeakMap<CostTable, string>();
function costTableHash(costs: CostTable): string {
  let h = costTableHashes.get(costs);
  if (h === undefined) {
    h = toHex(
      blake3(
        Uint8Array.from([
          ...costs.op,
          ...costs.fc,
          ...costs.simd,
          costs.bulkByteShift,
          costs.tableElementCost,
          costs.memoryGrowPageCost & 0xff,
          costs.memoryGrowPageCost >> 8,
        ]),
      ),
    );
    costTableHashes.set(costs, h);
  }
  return h;
}

/**
 * Validates, instruments and compiles modules under one configuration, and caches them by content.
 * @example
 * ```ts
 * const engine = new Engine({ stackLimit: 16_384 });
 * const mod = await engine.compile(bytes, { imports: ['env.*'] });
 * ```
 */
export class Engine {
  readonly config: Readonly<EngineConfig>;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #disk: InstrumentCache | undefined;

  constructor(config: EngineOptions = {}) {
    const c = { ...ENGINE_DEFAULTS, ...config, limits: Object.freeze({ ...ENGINE_DEFAULTS.limits, ...config.limits }) };
    if (!Number.isSafeInteger(c.compileCacheSize) || c.compileCacheSize < 0)
      throw new RangeError(`compileCacheSize must be a non-negative integer, got ${c.compileCacheSize}`);
    this.config = Object.freeze(c);
    this.#disk = typeof c.cacheDir === 'string' ? new InstrumentCache(c.cacheDir) : undefined;
  }

  /** The engine behind the top-level `compile` and `compileSync`. */
  static readonly default: Engine = new Engine();

  /** A module's options with the engine's configuration filled in. */
  resolve(options: CompileOptions = {}): Required<CompileOptions> {
    const c = this.config;
    return {
      memoryLimit: options.memoryLimit ?? c.memoryLimit,
      stackLimit: options.stackLimit ?? c.stackLimit,
      costTable: options.costTable ?? c.costTable,
      markRefusedGrow: options.markRefusedGrow ?? false,
      imports: options.imports ?? c.imports,
      limits: { ...c.limits, ...options.limits },
    };
  }

  /**
   * The one cache key: module content, instrumenter version, cost table and every option that
   * changes the instrumented bytes or what is accepted.
   */
  cacheKey(wasm: Uint8Array, options: CompileOptions = {}): { moduleHash: Uint8Array; key: string } {
    const o = this.resolve(options);
    const moduleHash = blake3(wasm);
    const l = o.limits;
    const opts = JSON.stringify([
      INSTRUMENTER_VERSION,
      o.costTable.version,
      costTableHash(o.costTable),
      o.memoryLimit,
      o.stackLimit,
      [...o.imports].sort(),
      [l.moduleBytes, l.functions, l.localsPerFunction, l.bodyBytes, l.tableElements, l.dataBytes, l.entries],
      // Appended only when set: every key without it stays what it was.
      ...(o.markRefusedGrow ? ['grow-refused'] : []),
    ]);
    return { moduleHash, key: toHex(blake3(new TextEncoder().encode(toHex(moduleHash) + opts))) };
  }

  /**
   * Validates, instruments and compiles a module; the same bytes and options again are a cache hit.
   * @throws {ValidationError} for a malformed, invalid, oversized or unsupported module, or an import not granted
   * @example
   * ```ts
   * const mod = await engine.compile(bytes, { imports: ['wasi_snapshot_preview1.*'], memoryLimit: 64 << 20 });
   * ```
   */
  compile(wasm: Uint8Array, options: CompileOptions = {}): Promise<CompiledModule> {
    const { moduleHash, key } = this.cacheKey(wasm, options);
    const hit = this.#get(key);
    if (hit?.module !== undefined) return Promise.resolve(hit.module);
    if (hit?.pending !== undefined) return hit.pending;
    const entry: CacheEntry = {};
    entry.pending = (async () => {
      const kept = this.#disk?.get(key);
      if (kept !== undefined) {
        try {
          const module = await WebAssembly.compile(kept.instrumented as Uint8Array<ArrayBuffer>);
          return new CompiledModule({ ...kept, module, moduleHash, key });
        } catch {
          // Not what docklock wrote: instrument again, and the entry is replaced below.
        }
      }
      const { parsed, out } = this.#prepare(wasm, options);
      const module = await WebAssembly.compile(out.bytes as Uint8Array<ArrayBuffer>);
      return this.#keep(moduleOf(module, moduleHash, key, parsed, out));
    })();
    entry.pending.then(
      (m) => {
        entry.module = m;
        entry.pending = undefined;
      },
      () => {
        if (this.#cache.get(key) === entry) this.#cache.delete(key);
      },
    );
    this.#put(key, entry);
    return entry.pending;
  }

  /**
   * Synchronous {@link Engine.compile}, for host functions that must compile while the guest waits
   * (the `nested` group loads a submission inside a host call, and a wasm import cannot await).
   * Same validation, instrumentation, key and cache.
   * @throws {ValidationError} as {@link Engine.compile}
   */
  compileSync(wasm: Uint8Array, options: CompileOptions = {}): CompiledModule {
    const { moduleHash, key } = this.cacheKey(wasm, options);
    const hit = this.#get(key);
    if (hit?.module !== undefined) return hit.module;
    const kept = this.#disk?.get(key);
    if (kept !== undefined) {
      try {
        const module = new WebAssembly.Module(kept.instrumented as Uint8Array<ArrayBuffer>);
        const compiled = new CompiledModule({ ...kept, module, moduleHash, key });
        this.#put(key, { module: compiled });
        return compiled;
      } catch {
        // As in compile: instrument again.
      }
    }
    const { parsed, out } = this.#prepare(wasm, options);
    const module = new WebAssembly.Module(out.bytes as Uint8Array<ArrayBuffer>);
    const compiled = this.#keep(moduleOf(module, moduleHash, key, parsed, out));
    // An async compile of the same key may be under way; this result serves it and later calls alike.
    this.#put(key, { module: compiled });
    return compiled;
  }

  /** Writes a freshly instrumented module to the disk cache, if there is one. */
  #keep(compiled: CompiledModule): CompiledModule {
    if (this.#disk !== undefined) {
      const { module: _module, moduleHash: _hash, key, ...kept } = compiled.share();
      this.#disk.put(key, kept);
    }
    return compiled;
  }

  /** Looks a key up and marks it most recently used. */
  #get(key: string): CacheEntry | undefined {
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      this.#cache.delete(key);
      this.#cache.set(key, hit);
    }
    return hit;
  }

  #put(key: string, entry: CacheEntry): void {
    this.#cache.delete(key);
    if (this.config.compileCacheSize === 0) return;
    this.#cache.set(key, entry);
    while (this.#cache.size > this.config.compileCacheSize) this.#cache.delete(this.#cache.keys().next().value!);
  }

  /**
   * Validation and instrumentation shared by both compile paths. Decodes once; the instrumenter's
   * analysis pass doubles as the feature check, and runs before V8's validator so unsupported
   * proposals are named even where V8 accepts them.
   */
  #prepare(
    wasm: Uint8Array,
    options: CompileOptions,
  ): { parsed: ReturnType<typeof decodeModule>; out: ReturnType<typeof instrumentParsed> } {
    const o = this.resolve(options);
    checkModuleSize(wasm, o.limits as ModuleLimits);
    const parsed = decodeModule(wasm);
    checkLimits(parsed, o.limits as ModuleLimits);
    const out = instrumentParsed(parsed, o);
    checkWithEngine(wasm);
    checkImports(parsed, o.imports);
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
}

function moduleOf(
  module: WebAssembly.Module,
  moduleHash: Uint8Array,
  key: string,
  parsed: ReturnType<typeof decodeModule>,
  out: ReturnType<typeof instrumentParsed>,
): CompiledModule {
  return new CompiledModule({
    module,
    moduleHash,
    key,
    imports: parsed.imports,
    exports: parsed.exports,
    memoryLimitPages: out.memoryLimitPages,
    stackLimit: out.stackLimit,
    stats: out.stats,
    instrumented: out.bytes,
    types: parsed.types,
    funcTypes: parsed.funcTypes,
  });
}

/**
 * Validates, instruments and compiles a module on the default engine ({@link Engine.default}).
 * @throws {ValidationError} for a malformed, invalid, oversized or unsupported module, or an import not granted
 * @example
 * const mod = await compile(bytes, { imports: ['wasi_snapshot_preview1.*'], memoryLimit: 64 << 20 });
 * const inst = await mod.instantiate(imports, { fuel: 1_000_000n });
 */
export function compile(wasm: Uint8Array, options: CompileOptions = {}): Promise<CompiledModule> {
  return Engine.default.compile(wasm, options);
}

/** Synchronous {@link compile} on the default engine. */
export function compileSync(wasm: Uint8Array, options: CompileOptions = {}): CompiledModule {
  return Engine.default.compileSync(wasm, options);
}

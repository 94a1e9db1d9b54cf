/**
 * `compile`: validate → instrument → `WebAssembly.compile`, cached by content hash; and the
 * `CompiledModule` it returns, whose `instantiate` sets the fuel budget before the (metered)
 * start function runs. This is the engine's public face (spec: spec/instrumented-abi.md).
 */
import { blake3, toHex } from './hash.ts';
import { InternalError } from './errors.ts';
import { Instance } from './instance.ts';
import { INSTRUMENTER_VERSION, instrumentParsed, DEFAULT_MEMORY_LIMIT, DEFAULT_STACK_LIMIT } from './instrument/instrument.ts';
import { decodeModule } from './instrument/module.ts';
import type { InstrumentOptions, InstrumentStats } from './instrument/instrument.ts';
import { DEFAULT_COST_TABLE } from './instrument/cost-table.ts';
import { DEFAULT_MODULE_LIMITS, checkImports, checkLimits, checkModuleSize, checkWithEngine } from './validate.ts';
import type { ValidateOptions } from './validate.ts';
import type { Import, Export } from './instrument/module.ts';

export interface CompileOptions extends InstrumentOptions, ValidateOptions {}

export interface InstantiateOptions {
  /** Fuel budget for this instance (start function included). Required: a store starts with none. */
  fuel: bigint;
  /** Called after instantiation and before the start function runs, e.g. to hand host functions the guest's memory. */
  beforeStart?: (instance: Instance) => void;
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

  constructor(init: { module: WebAssembly.Module; moduleHash: Uint8Array; key: string; imports: Import[]; exports: Export[]; memoryLimitPages: number; stats: InstrumentStats; instrumented: Uint8Array }) {
    this.module = init.module;
    this.moduleHash = init.moduleHash;
    this.key = init.key;
    this.imports = init.imports;
    this.exports = init.exports;
    this.memoryLimitPages = init.memoryLimitPages;
    this.stats = init.stats;
    this.instrumented = init.instrumented;
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
    const raw = new WebAssembly.Instance(this.module, imports);
    const inst = new Instance(raw, fuel);
    options.beforeStart?.(inst);
    inst.runStart();
    return inst;
  }
}

const CACHE_MAX = 64;
const cache = new Map<string, Promise<CompiledModule>>();

function optionsKey(o: CompileOptions): string {
  const costs = o.costTable ?? DEFAULT_COST_TABLE;
  return JSON.stringify([
    INSTRUMENTER_VERSION,
    costs.version,
    toHex(blake3(Uint8Array.from([...costs.op, ...costs.fc, ...costs.simd, costs.bulkByteShift, costs.tableElementCost, costs.memoryGrowPageCost & 0xff, costs.memoryGrowPageCost >> 8]))),
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
    // Decode once; the instrumenter's analysis pass doubles as the feature check, and runs
    // before V8's validator so unsupported proposals are named even where V8 accepts them.
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
    const module = await WebAssembly.compile(out.bytes as Uint8Array<ArrayBuffer>);
    return new CompiledModule({ module, moduleHash, key, imports: parsed.imports, exports: parsed.exports, memoryLimitPages: out.memoryLimitPages, stats: out.stats, instrumented: out.bytes });
  })();
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
  return p;
}

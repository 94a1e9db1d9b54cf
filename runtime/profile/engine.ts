/**
 * The profiling engine: an {@link Engine} whose modules run the profiling variant of the
 * instrumentation (rewrite.ts). A cage run given this engine (`runGuest({ engine })`) profiles the
 * guest, and every nested submission it loads through `store.engine`, with results identical to a
 * plain run: the fuel charges are the plain instrumenter's, byte for byte.
 *
 * Each instance gets an {@link InstanceTree}: its call tree lives in the instance's own tree memory,
 * and the host only steps in where control crosses the boundary (start function, exported calls):
 * there `back` charges the fuel spent since the last event to the running node and returns to the
 * caller's node, so an export that traps or exits (`proc_exit`) leaves no stale frames.
 */
import { Engine } from '../engine.ts';
import type { CompileOptions } from '../engine.ts';
import { CompiledModule } from '../compiled-module.ts';
import type { InstantiateOptions } from '../compiled-module.ts';
import { Instance, kFuncType } from '../instance.ts';
import { OutOfFuel } from '../errors.ts';
import { toHex } from '../hash.ts';
import { decodeModule } from '../instrument/module.ts';
import { EXPORT_FUEL } from '../instrument/instrument.ts';
import { NODE_BYTES, PROFILE_EXPORT, profileVariant } from './rewrite.ts';
import { functionNames } from './names.ts';
import type { CrossingHooks, CrossingObserver } from '../component/budget.ts';

/** One instance's call tree, read out of its tree memory when the run ends. */
export interface InstanceTree {
  /** Function index → name. */
  names: readonly string[];
  /** Nested submissions: their module's hash; the top-level guest: undefined. */
  label: string | undefined;
  /** Where a nested instance hangs: its caller's tree and node at the time it was created. */
  parent: { tree: InstanceTree; node: number } | undefined;
  /** Fuel the host billed to a node for nested work (subtracted: the nested tree shows it). */
  credits: Map<number, bigint>;
  /** Whether the tree memory ran out, so some callees are counted with their callers. */
  truncated: boolean;
  /** Read the nodes: self fuel, calls, parent, function; index 0 is the root. */
  read(): TreeNodes;
  /** A nested instance whose start function trapped and was billed nothing (an old bundle's rule): left out. */
  dropped: boolean;
}

export interface TreeNodes {
  self: bigint[];
  calls: bigint[];
  parent: number[];
  func: number[];
}

interface Live {
  tree: InstanceTree;
  raw: WebAssembly.Exports;
  fuel: WebAssembly.Global;
  budget: bigint;
  /**
   * Overdraft already taken off the last node charged (spec: fuel.md#F5). The core instances of a
   * component share one: they spend one counter.
   */
  clamp: { over: bigint };
}

/** Collects the trees of every instance a profiled run creates. */
export class ProfileRecorder {
  readonly trees: InstanceTree[] = [];
  /** Instances running guest code, innermost last: a nested load hangs under the top one. */
  readonly #active: Live[] = [];

  /** A new instance's tree, read from its profile exports when the run ends. */
  #tree(
    exports: WebAssembly.Exports,
    names: readonly string[],
    label: string | undefined,
    parent: InstanceTree['parent'],
  ): InstanceTree {
    const memory = exports[PROFILE_EXPORT.memory] as WebAssembly.Memory;
    const next = exports[PROFILE_EXPORT.next] as WebAssembly.Global;
    const full = exports[PROFILE_EXPORT.full] as WebAssembly.Global;
    const tree: InstanceTree = {
      names,
      label,
      parent,
      credits: new Map(),
      truncated: false,
      dropped: false,
      read: () => {
        tree.truncated = (full.value as number) !== 0;
        return readNodes(memory, next.value as number);
      },
    };
    this.trees.push(tree);
    return tree;
  }

  open(inst: Instance, names: readonly string[], label: string | undefined, budget: bigint): Live {
    const raw = inst.raw.exports;
    const top = this.#active[this.#active.length - 1];
    (raw[PROFILE_EXPORT.last] as WebAssembly.Global).value = budget;
    const tree = this.#tree(
      raw,
      names,
      top === undefined ? undefined : label,
      top === undefined ? undefined : { tree: top.tree, node: curOf(top) },
    );
    return { tree, raw, fuel: raw[EXPORT_FUEL] as WebAssembly.Global, budget, clamp: { over: 0n } };
  }

  /**
   * A core instance of a component: its tree hangs under the root, as the component's cores call
   * each other only through the glue; `hooks` keep its `last` in step with the shared counter.
   */
  openCore(raw: WebAssembly.Instance, names: readonly string[], clamp: { over: bigint }): CrossingHooks {
    const e = raw.exports;
    const last = e[PROFILE_EXPORT.last] as WebAssembly.Global;
    const tree = this.#tree(e, names, undefined, undefined);
    const live: Live = { tree, raw: e, fuel: e[EXPORT_FUEL] as WebAssembly.Global, budget: 0n, clamp };
    return {
      enter: (fuel) => {
        last.value = fuel;
        return curOf(live);
      },
      leave: (token) => this.settle(live, token),
      pause: () => this.settle(live, curOf(live)),
      resume: (fuel) => {
        last.value = fuel;
      },
    };
  }

  push(live: Live): void {
    this.#active.push(live);
  }

  pop(): void {
    this.#active.pop();
  }

  /**
   * Control is back with the host: charge what ran since the last event to the running node and
   * return to `node`. An overdrawn counter (the run is out of fuel) is taken off that same node,
   * so the tree's total is `fuelUsed` exactly: the overdraft was charged in that last stretch.
   */
  settle(live: Live, node: number): void {
    const charged = curOf(live);
    (live.raw[PROFILE_EXPORT.back] as (n: number) => void)(node);
    const counter = live.fuel.value as bigint;
    const over = counter < 0n ? -counter : 0n;
    if (over > live.clamp.over) {
      const memory = live.raw[PROFILE_EXPORT.memory] as WebAssembly.Memory;
      const view = new DataView(memory.buffer);
      const at = charged * NODE_BYTES;
      view.setBigInt64(at, view.getBigInt64(at, true) - (over - live.clamp.over), true);
      live.clamp.over = over;
    }
  }

  /** The fuel a nested instance used, billed to its parent's node (spec: nested.md#N4). */
  credit(tree: InstanceTree, used: bigint): void {
    const p = tree.parent;
    if (p === undefined) return;
    p.tree.credits.set(p.node, (p.tree.credits.get(p.node) ?? 0n) + used);
  }
}

function curOf(live: Live): number {
  return (live.raw[PROFILE_EXPORT.cur] as WebAssembly.Global).value as number;
}

function readNodes(memory: WebAssembly.Memory, count: number): TreeNodes {
  const view = new DataView(memory.buffer);
  const out: TreeNodes = { self: [], calls: [], parent: [], func: [] };
  for (let n = 0; n < count; n++) {
    const at = n * NODE_BYTES;
    out.self.push(view.getBigInt64(at, true));
    out.parent.push(view.getInt32(at + 8, true));
    out.func.push(view.getInt32(at + 12, true));
    out.calls.push(view.getBigInt64(at + 24, true));
  }
  return out;
}

/** An engine whose modules are the profiling variant; its recorder holds the run's trees. */
export class ProfilingEngine extends Engine {
  readonly recorder = new ProfileRecorder();
  readonly #variants = new Map<string, ProfiledModule>();
  readonly #byModule = new Map<WebAssembly.Module, ProfiledModule>();
  /** One run, so at most one component: its core instances share one overdraft. */
  readonly #componentClamp = { over: 0n };

  /** Found by the component path (runtime/cage/component.ts): profiles a component's core instances. */
  readonly crossingObserver: CrossingObserver = {
    adopt: (raw, module) => {
      const v = this.#byModule.get(module);
      return v === undefined ? undefined : this.recorder.openCore(raw, v.names, this.#componentClamp);
    },
  };

  override async compile(wasm: Uint8Array, options: CompileOptions = {}): Promise<CompiledModule> {
    return this.#variant(await super.compile(wasm, options), wasm);
  }

  override compileSync(wasm: Uint8Array, options: CompileOptions = {}): CompiledModule {
    return this.#variant(super.compileSync(wasm, options), wasm);
  }

  #variant(plain: CompiledModule, wasm: Uint8Array): ProfiledModule {
    let v = this.#variants.get(plain.key);
    if (v === undefined) {
      const bytes = profileVariant(plain.instrumented, decodeModule(wasm).funcTypes.length);
      const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
      v = new ProfiledModule({ ...plain.share(), module }, this.recorder, functionNames(wasm));
      this.#variants.set(plain.key, v);
      this.#byModule.set(module, v);
    }
    return v;
  }
}

/** A compiled profiling variant: instances report their trees to the recorder. */
class ProfiledModule extends CompiledModule {
  readonly #recorder: ProfileRecorder;
  readonly #names: readonly string[];

  constructor(init: ConstructorParameters<typeof CompiledModule>[0], recorder: ProfileRecorder, names: string[]) {
    super(init);
    this.#recorder = recorder;
    this.#names = names;
  }

  get names(): readonly string[] {
    return this.#names;
  }

  override instantiateSync(imports: WebAssembly.Imports, options: InstantiateOptions): Instance {
    const rec = this.#recorder;
    let live: Live | undefined;
    let inst: Instance;
    try {
      inst = super.instantiateSync(imports, {
        ...options,
        beforeStart: (i) => {
          live = rec.open(i, this.#names, `nested submission ${toHex(this.moduleHash).slice(0, 12)}`, options.fuel);
          rec.push(live);
          options.beforeStart?.(i);
        },
      });
    } catch (e) {
      if (live !== undefined) {
        rec.pop();
        rec.settle(live, 0);
        // A nested submission's start function is billed even when it traps (nested.md#N4); bundles
        // recorded before that rule (startTrapBilled false) billed only an out-of-fuel start.
        const billed = options.startTrapBilled !== false || e instanceof OutOfFuel;
        if (live.tree.parent !== undefined && !billed) live.tree.dropped = true;
        else rec.credit(live.tree, usedOf(live));
      }
      throw e;
    }
    const l = live!;
    rec.pop();
    rec.settle(l, 0);
    return withProfiledExports(inst, l, rec);
  }
}

function usedOf(live: Live): bigint {
  const c = live.fuel.value as bigint;
  return c < 0n ? live.budget : live.budget - c;
}

/**
 * The instance with each exported function wrapped to settle the tree when it returns or throws;
 * everything else (fuel, memory, guard) is the instance's own.
 */
function withProfiledExports(inst: Instance, live: Live, rec: ProfileRecorder): Instance {
  const out: Record<string, unknown> = Object.create(null);
  let credited = usedOf(live);
  rec.credit(live.tree, credited);
  for (const [name, value] of Object.entries(inst.exports)) {
    if (typeof value !== 'function' || name.startsWith('docklock_profile_')) {
      if (!name.startsWith('docklock_profile_')) out[name] = value;
      continue;
    }
    const f = value as (...args: unknown[]) => unknown;
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      const saved = curOf(live);
      rec.push(live);
      try {
        return f.apply(this, args);
      } finally {
        rec.pop();
        rec.settle(live, saved);
        // Nested fuel is billed to the caller as it is used: keep the credit in step.
        const used = usedOf(live);
        rec.credit(live.tree, used - credited);
        credited = used;
      }
    };
    Object.defineProperty(wrapped, 'name', { value: name });
    Object.defineProperty(wrapped, 'length', { value: f.length });
    const type = (f as { [kFuncType]?: unknown })[kFuncType];
    if (type !== undefined) Object.defineProperty(wrapped, kFuncType, { value: type });
    out[name] = wrapped;
  }
  const exports = Object.freeze(out);
  return new Proxy(inst, {
    get(target, p) {
      if (p === 'exports') return exports;
      const v = Reflect.get(target, p, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export { Instance };

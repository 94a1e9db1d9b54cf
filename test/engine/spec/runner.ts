/**
 * Runs one spec script in two worlds side by side and judges every command in each:
 *   plain     the original bytes on V8 (`new WebAssembly.Module/Instance`),
 *   docklock  `compile(bytes, { imports: ['*'] })` then `instantiate(imports, { fuel })`.
 * Each world has its own `spectest` and its own registry, so a registered docklock instance's
 * exports are what later docklock modules import. A command passes in a world when that world
 * does what the script expects; the suite then compares the verdicts (summary.ts).
 *
 * Calls with f32/f64/v128 in their signature go through the boundary adapter (adapter.ts), which
 * needs the wasm function itself: for docklock that is the instance's raw export, called under
 * `Instance.guard`, the same guard the wrapped exports use. Every other call uses the public
 * `Instance.exports` wrapper.
 */
import { compile, DeterministicTrap, OutOfFuel, StackExhausted, Trap, ValidationError } from '../../../index.ts';

/** A trap the wasm spec knows (not one of docklock's two budget traps, which are `Trap`s too). */
const isSpecTrap = (e: unknown): e is Trap =>
  e instanceof Trap && !(e instanceof OutOfFuel) && !(e instanceof StackExhausted);
import type { CompiledModule, Instance, TrapCode } from '../../../index.ts';
import { decodeModule } from '../../../runtime/instrument/module.ts';
import { adapt } from './adapter.ts';
import { readModule } from './script.ts';
import type { SpecAction, SpecCommand, SpecScript } from './script.ts';
import { SKIP } from './skips.ts';
import { spectest } from './spectest.ts';
import { argsToJs, checkResults, globalValue, needsAdapter, resultsFromJs } from './values.ts';
import type { NanRule, Val } from './values.ts';
import type { Summary } from './summary.ts';

/** Fuel per docklock instance: large enough that no spec test runs out. */
export const FUEL = 10n ** 15n;

type Sig =
  | { kind: 'func'; params: Uint8Array; results: Uint8Array }
  | { kind: 'global'; type: number }
  | { kind: 'other' };

/** Export signatures from the original module (undefined if docklock's decoder rejects it). */
function signatures(bytes: Uint8Array): Map<string, Sig> | undefined {
  let m;
  try {
    m = decodeModule(bytes);
  } catch {
    return undefined;
  }
  const sigs = new Map<string, Sig>();
  for (const e of m.exports) {
    if (e.kind === 'func') {
      const t = m.types[m.funcTypes[e.index]!]!;
      sigs.set(e.name, { kind: 'func', params: t.params, results: t.results });
    } else if (e.kind === 'global') sigs.set(e.name, { kind: 'global', type: m.globalTypes[e.index]! });
    else sigs.set(e.name, { kind: 'other' });
  }
  return sigs;
}

interface Loaded {
  /** What `register` hands to later modules. */
  exports: Record<string, unknown>;
  sigs: Map<string, Sig> | undefined;
  /** The wasm function behind an export, for the adapter. */
  rawFunction(field: string): unknown;
  /** Runs an adapter call as the world's own export wrapper would. */
  guard<T>(fn: () => T): T;
}

interface World<C> {
  readonly name: 'plain' | 'docklock';
  readonly nanRule: NanRule;
  compile(bytes: Uint8Array): Promise<C>;
  instantiate(c: C, imports: WebAssembly.Imports, sigs: Map<string, Sig> | undefined): Promise<Loaded>;
}

const plainWorld: World<WebAssembly.Module> = {
  name: 'plain',
  nanRule: 'spec',
  compile: async (bytes) => new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>),
  instantiate: async (mod, imports, sigs) => {
    const inst = new WebAssembly.Instance(mod, imports);
    const exports = inst.exports as Record<string, unknown>;
    return { exports, sigs, rawFunction: (f) => exports[f], guard: (fn) => fn() };
  },
};

const docklockWorld: World<CompiledModule> = {
  name: 'docklock',
  nanRule: 'canonical',
  compile: (bytes) => compile(bytes, { imports: ['*'] }),
  instantiate: async (cm, imports, sigs) => {
    const inst: Instance = await cm.instantiate(imports, { fuel: FUEL });
    const raw = inst.raw.exports as Record<string, unknown>;
    return { exports: inst.exports, sigs, rawFunction: (f) => raw[f], guard: (fn) => inst.guard(fn) };
  },
};

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const trap = (err as { trap?: unknown }).trap;
    return `${err.name}${typeof code === 'string' ? ` ${code}` : ''}${typeof trap === 'string' ? ` [${trap}]` : ''}: ${err.message}`;
  }
  return String(err);
}

/**
 * The trap codes docklock may give for a spec trap text. `exact` is the faithful code; `conflated`
 * lists codes V8's own message cannot tell apart from it, which are counted but accepted: V8 reports
 * a null entry and a signature mismatch in call_indirect with one message, and a NaN and an
 * out-of-range float truncation with another ("float unrepresentable in integer range").
 */
const TRAP_TEXTS: [string, TrapCode[], TrapCode[]][] = [
  ['unreachable', ['unreachable'], []],
  ['integer divide by zero', ['integer_divide_by_zero'], []],
  ['integer overflow', ['integer_overflow'], ['invalid_conversion']],
  ['invalid conversion to integer', ['invalid_conversion'], []],
  ['out of bounds memory access', ['out_of_bounds_memory', 'out_of_bounds_data_segment'], []],
  ['out of bounds table access', ['out_of_bounds_table'], []],
  ['undefined element', ['out_of_bounds_table'], ['uninitialized_element', 'indirect_call_type_mismatch']],
  ['uninitialized element', ['uninitialized_element'], ['indirect_call_type_mismatch']],
  ['indirect call type mismatch', ['indirect_call_type_mismatch'], ['uninitialized_element']],
];

/** Checks docklock's trap code against the script's trap text. */
function judgeTrapCode(text: string, code: TrapCode, summary: Summary): string | undefined {
  const entry = TRAP_TEXTS.find(([t]) => text.startsWith(t));
  if (entry === undefined) {
    summary.trapCode('unmapped', `${text} → ${code}`);
    return undefined;
  }
  if (entry[1].includes(code)) {
    summary.trapCode('exact', `${text} → ${code}`);
    return undefined;
  }
  if (entry[2].includes(code)) {
    summary.trapCode('conflated', `${text} → ${code}`);
    return undefined;
  }
  return `trap code ${code} does not match "${text}"`;
}

type Outcome = { ok: true; vals: Val[] } | { ok: false; err: unknown };

/** Per-world state of one script. */
class WorldState<C> {
  readonly registry = new Map<string, Record<string, unknown>>([['spectest', spectest()]]);
  readonly named = new Map<string, Loaded | undefined>();
  current: Loaded | undefined;
  world: World<C>;

  constructor(world: World<C>) {
    this.world = world;
  }

  imports(): WebAssembly.Imports {
    return Object.fromEntries(this.registry) as WebAssembly.Imports;
  }

  /** Compiles and instantiates; undefined on success, else the error. */
  async load(
    bytes: Uint8Array,
    sigs: Map<string, Sig> | undefined,
  ): Promise<{ loaded?: Loaded; phase?: 'compile' | 'instantiate'; err?: unknown }> {
    let c: C;
    try {
      c = await this.world.compile(bytes);
    } catch (err) {
      return { phase: 'compile', err };
    }
    try {
      return { loaded: await this.world.instantiate(c, this.imports(), sigs) };
    } catch (err) {
      return { phase: 'instantiate', err };
    }
  }

  target(action: SpecAction): Loaded | undefined {
    return action.module !== undefined ? this.named.get(action.module) : this.current;
  }

  perform(action: SpecAction, summary: Summary): Outcome {
    const inst = this.target(action);
    if (inst === undefined) return { ok: false, err: new Error('module not loaded in this world') };
    const sig = inst.sigs?.get(action.field);
    if (sig === undefined) return { ok: false, err: new Error(`no signature for export "${action.field}"`) };
    try {
      if (action.type === 'get') {
        if (sig.kind !== 'global') throw new Error(`export "${action.field}" is not a global`);
        return { ok: true, vals: [globalValue(inst.exports[action.field] as WebAssembly.Global, sig.type)] };
      }
      if (sig.kind !== 'func') throw new Error(`export "${action.field}" is not a function`);
      const adapted = needsAdapter(sig.params) || needsAdapter(sig.results);
      const args = argsToJs(action.args ?? [], adapted);
      let ret: unknown;
      if (adapted) {
        summary.calls.adapted++;
        const f = adapt(inst.rawFunction(action.field) as object, sig.params, sig.results);
        ret = inst.guard(() => f(...args));
      } else {
        summary.calls.direct++;
        ret = (inst.exports[action.field] as (...a: unknown[]) => unknown)(...args);
      }
      return { ok: true, vals: resultsFromJs(ret, sig.results, adapted) };
    } catch (err) {
      return { ok: false, err };
    }
  }
}

/** A world's verdict on one command: undefined when it did what the script expects, else why not. */
type Verdict = string | undefined;

/** Runs a script, recording every verdict pair into `summary`. */
export async function runScript(script: SpecScript, summary: Summary): Promise<void> {
  const plain = new WorldState(plainWorld);
  const dock = new WorldState(docklockWorld);
  const record = (cmd: SpecCommand, p: Verdict, d: Verdict, kind?: 'validation'): void =>
    summary.record(script.name, cmd, p, d, kind);

  for (const cmd of script.commands) {
    switch (cmd.type) {
      case 'module': {
        const bytes = readModule(script.name, cmd.filename!);
        const sigs = signatures(bytes);
        const [p, d] = [await plain.load(bytes, sigs), await dock.load(bytes, sigs)];
        plain.current = p.loaded;
        dock.current = d.loaded;
        if (cmd.name !== undefined) {
          plain.named.set(cmd.name, p.loaded);
          dock.named.set(cmd.name, d.loaded);
        }
        const v = (r: typeof p): Verdict => (r.loaded ? undefined : `${r.phase} failed: ${describeError(r.err)}`);
        record(cmd, v(p), v(d));
        break;
      }
      case 'register': {
        for (const w of [plain, dock] as WorldState<unknown>[]) {
          const inst = cmd.name !== undefined ? w.named.get(cmd.name) : w.current;
          if (inst !== undefined) w.registry.set(cmd.as!, inst.exports);
        }
        break;
      }
      case 'action': {
        const [p, d] = [plain.perform(cmd.action!, summary), dock.perform(cmd.action!, summary)];
        const v = (o: Outcome): Verdict => (o.ok ? undefined : `threw ${describeError(o.err)}`);
        record(cmd, v(p), v(d));
        break;
      }
      case 'assert_return': {
        const [p, d] = [plain.perform(cmd.action!, summary), dock.perform(cmd.action!, summary)];
        const v = (o: Outcome, rule: NanRule): Verdict =>
          o.ok ? checkResults(cmd.expected ?? [], o.vals, rule) : `threw ${describeError(o.err)}`;
        record(cmd, v(p, plainWorld.nanRule), v(d, docklockWorld.nanRule));
        break;
      }
      case 'assert_trap': {
        const [p, d] = [plain.perform(cmd.action!, summary), dock.perform(cmd.action!, summary)];
        const pv: Verdict = p.ok
          ? 'returned instead of trapping'
          : p.err instanceof WebAssembly.RuntimeError
            ? undefined
            : `threw ${describeError(p.err)}`;
        let dv: Verdict;
        if (d.ok) dv = 'returned instead of trapping';
        else if (!isSpecTrap(d.err)) dv = `threw ${describeError(d.err)} instead of a Trap`;
        else dv = judgeTrapCode(cmd.text ?? '', d.err.trap, summary);
        record(cmd, pv, dv);
        break;
      }
      case 'assert_exhaustion': {
        const [p, d] = [plain.perform(cmd.action!, summary), dock.perform(cmd.action!, summary)];
        const pv: Verdict = p.ok
          ? 'returned'
          : p.err instanceof RangeError
            ? undefined
            : `threw ${describeError(p.err)}`;
        const dv: Verdict = d.ok
          ? 'returned'
          : d.err instanceof StackExhausted
            ? undefined
            : `threw ${describeError(d.err)} instead of StackExhausted`;
        record(cmd, pv, dv);
        break;
      }
      case 'assert_invalid':
      case 'assert_malformed': {
        if (cmd.module_type === 'text') {
          summary.skip(script.name, cmd, SKIP.textFormat);
          break;
        }
        const bytes = readModule(script.name, cmd.filename!);
        let pv: Verdict = 'V8 accepted the module';
        try {
          new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
        } catch (err) {
          pv = err instanceof WebAssembly.CompileError ? undefined : `threw ${describeError(err)}`;
        }
        let dv: Verdict = 'docklock accepted the module';
        try {
          await docklockWorld.compile(bytes);
        } catch (err) {
          dv = err instanceof ValidationError ? undefined : `threw ${describeError(err)} instead of a ValidationError`;
          if (err instanceof ValidationError) {
            summary.rejection(err);
            if (pv !== undefined) pv += `; docklock: ${err.code} ${err.message}`;
          }
        }
        record(cmd, pv, dv, 'validation');
        break;
      }
      case 'assert_unlinkable':
      case 'assert_uninstantiable': {
        const bytes = readModule(script.name, cmd.filename!);
        const sigs = signatures(bytes);
        const [p, d] = [await plain.load(bytes, sigs), await dock.load(bytes, sigs)];
        const unlinkable = cmd.type === 'assert_unlinkable';
        const v = (r: typeof p, world: 'plain' | 'docklock'): Verdict => {
          if (r.loaded) return 'instantiated';
          if (r.phase === 'compile') return `compile failed: ${describeError(r.err)}`;
          if (unlinkable)
            return r.err instanceof WebAssembly.LinkError
              ? undefined
              : `threw ${describeError(r.err)} instead of a LinkError`;
          if (world === 'plain')
            return r.err instanceof WebAssembly.RuntimeError ? undefined : `threw ${describeError(r.err)}`;
          if (isSpecTrap(r.err)) return judgeTrapCode(cmd.text ?? '', r.err.trap, summary);
          if (r.err instanceof DeterministicTrap) return `threw ${describeError(r.err)}`;
          return `threw ${describeError(r.err)} instead of a Trap`;
        };
        record(cmd, v(p, 'plain'), v(d, 'docklock'));
        break;
      }
      default:
        throw new Error(`${script.name}:${cmd.line}: unknown command ${cmd.type}`);
    }
  }
}

/**
 * The `nested` host group: a challenge runs a miner's WebAssembly module inside its own nested cage
 * (spec: spec/nested.md). Import module `docklock`:
 *
 *   nested_load(bytes_ptr, bytes_len, memory_pages, stack) -> i32
 *       a handle ≥ 0, or a negative NESTED_ERR
 *   nested_call(handle, name_ptr, name_len, in_ptr, in_len, out_ptr, out_cap, fuel: i64, info_ptr) -> i32
 *       a NESTED_STATUS ≥ 0, or a negative NESTED_ERR; writes the 16-byte info block
 *       { fuel_used: u64, out_len: u32, trap: u32 } at info_ptr and the output at out_ptr
 *
 * The submission is compiled by docklock's own `compileSync` (fuel, stack, NaN and memory
 * instrumentation) with no imports at all, and each call runs in a fresh instance, so nothing
 * carries over between calls. Its fuel, start function included (trap or not), is billed to the
 * challenge (`Instance.charge`): the budget of a call is min(fuel argument, the challenge's remaining
 * fuel), so the manifest's fuel limit bounds the whole evaluation, nested work included (spec:
 * nested.md#N4).
 *
 * Both functions go through `HostCalls.wrap`: arguments, status, the output bytes and the info
 * block (nested fuel used) are witness entries. Replay re-runs the submission; a different result
 * diverges at that entry.
 */
import { DeterministicTrap, OutOfFuel, StackExhausted, TRAP_CODES, ValidationError } from '../../runtime/errors.ts';
import { Struct, VALTYPE, WASM_PAGE_BYTES, failedOnMemoryLimit, kFuncType } from '../../runtime/store.ts';
import type { CompiledModule, FuncType, HostValue, Instance, Store } from '../../runtime/store.ts';
import {
  NESTED_DEFAULT_MEMORY_PAGES,
  NESTED_DEFAULT_STACK,
  NESTED_ERR,
  NESTED_INFO_SIZE,
  NESTED_MAX_MODULES,
  NESTED_STATUS,
} from './abi.ts';

const I32 = VALTYPE.i32;
const I64 = VALTYPE.i64;
/** Smallest stack budget a submission may ask for (the manifest's own minimum). */
const MIN_STACK = 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });
/**
 * From this ABI level (spec/wasi.md#W6) a start function that traps is billed the fuel it used
 * (nested.md#N4). Below it, as bundles recorded then saw, only an out-of-fuel start was billed.
 */
export const NESTED_START_BILLED_LEVEL = 2;

function hasType(f: unknown, params: number[], results: number[]): f is (...a: number[]) => unknown {
  if (typeof f !== 'function') return false;
  const t = (f as { [kFuncType]?: FuncType })[kFuncType];
  if (t === undefined) return false;
  return (
    t.params.length === params.length &&
    params.every((p, i) => t.params[i] === p) &&
    t.results.length === results.length &&
    results.every((r, i) => t.results[i] === r)
  );
}

interface CallOutcome {
  status: number;
  trap: number;
  output: Uint8Array | null;
  outLen: number;
}

/**
 * Runs one call in a fresh instance; every guest fault becomes a status.
 * @param level the run's ABI level (spec/wasi.md#W6): below {@link NESTED_START_BILLED_LEVEL} a
 *   start function that traps is billed only if it ran out of fuel (its whole budget, nested.md#N4);
 *   from level 3 (`GROW_REFUSED_LEVEL`) a fault after a refused grow is MEMORY_LIMIT
 */
function runCall(
  mod: CompiledModule,
  name: string,
  input: Uint8Array,
  fuel: bigint,
  level: number,
): { outcome: CallOutcome; used: bigint } {
  const billStartTrap = level >= NESTED_START_BILLED_LEVEL;
  let inst: Instance | undefined;
  // The instance as soon as it exists, so a start function that traps is still metered.
  let started: Instance | undefined;
  const fail = (status: number, trap = 0): CallOutcome => ({ status, trap, output: null, outLen: 0 });
  let outcome: CallOutcome;
  try {
    inst = mod.instantiateSync(
      {},
      {
        fuel,
        beforeStart: (i) => {
          started = i;
        },
        startTrapBilled: billStartTrap,
      },
    );
    const e = inst.exports;
    const memory = e.memory;
    const alloc = e.alloc;
    const fn = e[name];
    if (
      !(memory instanceof WebAssembly.Memory) ||
      !hasType(alloc, [I32], [I32]) ||
      name === 'alloc' ||
      !hasType(fn, [I32, I32], [I64])
    ) {
      outcome = fail(NESTED_STATUS.BAD_ABI);
    } else {
      const ptr = (alloc(input.length) as number) >>> 0;
      if (ptr + input.length > memory.buffer.byteLength) {
        outcome = fail(NESTED_STATUS.BAD_ABI);
      } else {
        new Uint8Array(memory.buffer, ptr, input.length).set(input);
        const packed = BigInt.asUintN(64, fn(ptr, input.length) as unknown as bigint);
        const outPtr = Number(packed >> 32n);
        const outLen = Number(packed & 0xffff_ffffn);
        if (outPtr + outLen > memory.buffer.byteLength) outcome = fail(NESTED_STATUS.BAD_ABI);
        else
          outcome = {
            status: NESTED_STATUS.OK,
            trap: 0,
            output: new Uint8Array(memory.buffer, outPtr, outLen),
            outLen,
          };
      }
    }
  } catch (err) {
    if (!(err instanceof DeterministicTrap)) throw err;
    const trap = TRAP_CODES.indexOf(err.trap) + 1;
    if (err instanceof OutOfFuel) outcome = fail(NESTED_STATUS.OUT_OF_FUEL, trap);
    else if (err instanceof StackExhausted) outcome = fail(NESTED_STATUS.STACK_EXHAUSTED, trap);
    else outcome = fail(NESTED_STATUS.TRAPPED, trap);
  }
  // A fault after the memory limit refused a grow (as spec/wasi.md#W5, at the run's level).
  const mem = inst?.exports.memory;
  if (
    (outcome.status === NESTED_STATUS.TRAPPED || outcome.status === NESTED_STATUS.BAD_ABI) &&
    failedOnMemoryLimit(level, {
      growRefused: (inst ?? started)?.growRefused() ?? false,
      memory: mem instanceof WebAssembly.Memory ? mem : undefined,
      limitPages: mod.memoryLimitPages,
    })
  ) {
    outcome = { ...outcome, status: NESTED_STATUS.MEMORY_LIMIT };
  }
  // Out of fuel in the start function used the whole budget (fuelUsed is clamped to it). A trap
  // before the start function (a data segment out of bounds) ran no code: nothing to bill.
  const billStart = billStartTrap || outcome.status === NESTED_STATUS.OUT_OF_FUEL;
  const used = (inst ?? (billStart ? started : undefined))?.fuelUsed() ?? 0n;
  return { outcome, used };
}

/** Why a submission was refused, for a person: the offending import's name (from the submission's own bytes, quoted and cut, so it cannot forge log lines), or the error code. */
function refusal(e: ValidationError): string {
  const where = e.where?.import;
  if (e.code === 'DL_ERR_IMPORT_NOT_GRANTED' && typeof where === 'string') {
    const name = JSON.stringify(where.length > 120 ? `${where.slice(0, 120)}…` : where);
    return `[nested] submission refused: it imports ${name}; a submission may import nothing (forbidden_import)`;
  }
  return `[nested] submission refused: ${e.code}`;
}

/**
 * Builds the `docklock.nested_*` imports for one run.
 * @param store the run: its witness recorder, its manifest (whose memory and stack limits cap the
 *   submission's), its engine (which compiles the submission) and its instance (billed for the
 *   submission's fuel)
 * @param note where to explain a refused submission in one line (the challenge's stderr), if anywhere
 * @param level the run's ABI level (spec/wasi.md#W6): a replay answers as its bundle's level did
 */
export function createNested(
  store: Store,
  note: ((line: string) => void) | undefined,
  level: number,
): Record<string, (...a: HostValue[]) => HostValue | undefined> {
  const { calls, manifest: m } = store;
  const mem = calls.mem;
  const modules: CompiledModule[] = [];
  const maxPages = Math.floor(m.limits.memory / WASM_PAGE_BYTES);

  const load = (ptr: number, len: number, pages: number, stack: number): number => {
    const bytes = mem.copy(ptr, len);
    const memoryPages = pages === 0 ? Math.min(NESTED_DEFAULT_MEMORY_PAGES, maxPages) : pages;
    const stackLimit = stack === 0 ? Math.min(NESTED_DEFAULT_STACK, m.limits.stack) : stack;
    if (
      modules.length >= NESTED_MAX_MODULES ||
      memoryPages < 0 ||
      memoryPages > maxPages ||
      stackLimit < MIN_STACK ||
      stackLimit > m.limits.stack
    )
      return NESTED_ERR.LIMIT;
    let mod: CompiledModule;
    try {
      mod = store.engine.compileSync(bytes, {
        imports: [],
        memoryLimit: memoryPages * WASM_PAGE_BYTES,
        stackLimit,
        markRefusedGrow: true,
      });
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      note?.(refusal(e));
      return e.code === 'DL_ERR_IMPORT_NOT_GRANTED' ? NESTED_ERR.FORBIDDEN_IMPORT : NESTED_ERR.INVALID;
    }
    modules.push(mod);
    return modules.length - 1;
  };

  const call = (
    handle: number,
    namePtr: number,
    nameLen: number,
    inPtr: number,
    inLen: number,
    outPtr: number,
    outCap: number,
    fuel: bigint,
    infoPtr: number,
  ): number => {
    mem.check(namePtr, nameLen);
    mem.check(inPtr, inLen);
    mem.check(outPtr, outCap);
    mem.check(infoPtr, NESTED_INFO_SIZE);
    const mod = handle >= 0 ? modules[handle] : undefined;
    if (mod === undefined) return NESTED_ERR.BAD_HANDLE;
    if (fuel < 0n) return NESTED_ERR.LIMIT;
    let name: string;
    try {
      name = utf8.decode(mem.bytes(namePtr, nameLen));
    } catch {
      name = '';
    }
    const challenge = store.instance;
    const remaining = challenge?.fuelRemaining() ?? 0n;
    const budget = fuel < remaining ? fuel : remaining;
    const { outcome, used } = runCall(mod, name, mem.bytes(inPtr, inLen).slice(), budget, level);
    challenge?.charge(used);
    let status = outcome.status;
    if (outcome.output !== null && outcome.outLen > outCap) status = NESTED_STATUS.OUTPUT_TOO_LARGE;
    else if (outcome.output !== null && outcome.outLen > 0) mem.write(outPtr, outcome.output);
    mem.write(infoPtr, new Struct(NESTED_INFO_SIZE).u64(0, used).u32(8, outcome.outLen).u32(12, outcome.trap).bytes);
    return status;
  };

  return {
    nested_load: calls.wrap('docklock.nested_load', load, NESTED_ERR.FAULT),
    nested_call: calls.wrap('docklock.nested_call', call, NESTED_ERR.FAULT),
  };
}

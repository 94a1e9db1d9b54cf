/**
 * The binary rewriter's driver: decodes a module, runs the per-function analysis and emission,
 * and reassembles the module with docklock's globals, exports and clamped memory. Untouched
 * sections (custom sections such as `name` included) are copied byte for byte.
 *
 * What the rewritten module carries (spec: spec/instrumented-abi.md):
 * | export            | kind          | meaning                                             |
 * |-------------------|---------------|-----------------------------------------------------|
 * | docklock_fuel     | mut i64 global| fuel remaining; negative after an out-of-fuel trap   |
 * | docklock_depth    | mut i32 global| current frame-weight depth                          |
 * | docklock_trap     | mut i32 global| 0, or why our own `unreachable` fired (1 fuel, 2 stack) |
 * | docklock_start    | func          | the original start function, now run by the host    |
 * | docklock_grow_refused | mut i32 global | with markRefusedGrow: 1 once the limit refused a memory.grow |
 */
import { Writer } from './bytes.ts';
import { DEFAULT_COST_TABLE } from './cost-table.ts';
import type { CostTable } from './cost-table.ts';
import { analyzeBody, Patch } from './analyze-body.ts';
import type { BodyAnalysis } from './analyze-body.ts';
import { CHAIN_MAX_WEIGHT, planFrames } from './frame-plan.ts';
import { chargeHelperBodies, emitBody, TRAP_REASON } from './emit-body.ts';
import type { ExtraPatches } from './emit-body.ts';
import { SECTION, decodeModule } from './module.ts';
import type { FuncType, ParsedModule } from './module.ts';
import { ValidationError } from '../errors.ts';
import { checkWithEngine } from './engine-check.ts';

/** Bumped whenever the rewriter's output for some input changes. Part of cache keys and result hashes. */
export const INSTRUMENTER_VERSION = 'docklock-instrument/4';

export const EXPORT_FUEL = 'docklock_fuel';
export const EXPORT_DEPTH = 'docklock_depth';
export const EXPORT_TRAP = 'docklock_trap';
export const EXPORT_START = 'docklock_start';
/** With {@link InstrumentOptions.markRefusedGrow}: 1 once the memory limit refused a `memory.grow`. */
export const EXPORT_GROW_REFUSED = 'docklock_grow_refused';
const RESERVED_EXPORTS = new Set([EXPORT_FUEL, EXPORT_DEPTH, EXPORT_TRAP, EXPORT_START, EXPORT_GROW_REFUSED]);

/** Most call sites a function may have and still pass its depth as a parameter (spec: stack.md#S7). */
export const DEPTH_PASSING_MAX_SITES = 4;
/** Frame weight added to every accounted frame for V8's fixed frame overhead (spec: stack.md#S1). */
export const FRAME_OVERHEAD = 8;
const PAGE = 65536;
const NO_BLOCK_TYPE = new Uint8Array(0);
/** Functions appended by the rewriter before the dynamic-charge helpers it needs: the fuel trap and the entry trap (spec: instrumented-abi.md). */
const TRAP_FUNCS = 2;

export interface InstrumentOptions {
  /** Memory limit in bytes (rounded down to whole 64 KiB pages). Default 256 MiB. */
  memoryLimit?: number;
  /** Stack budget in frame-weight units. Default {@link DEFAULT_STACK_LIMIT}. */
  stackLimit?: number;
  /** Fuel cost table. Default {@link DEFAULT_COST_TABLE}. */
  costTable?: CostTable;
  /**
   * Export {@link EXPORT_GROW_REFUSED}, a mutable i32 global the `memory.grow` charge helper sets
   * to 1 when the memory limit refuses a grow, so a failure after it can be reported as
   * `memory_limit` whatever the size asked (issue 12). Fuel and witness are unchanged; only the
   * instrumented bytes differ, so the option is part of the compile cache key. Off by default;
   * the cage sets it for every run and reads it from ABI level 3 (spec/wasi.md#W5).
   */
  markRefusedGrow?: boolean;
}

/** Default stack budget, chosen so V8's own stack (984 KiB on a main thread) is never reached. */
export const DEFAULT_STACK_LIMIT = 40_000;
export const DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024;

export interface InstrumentStats {
  functions: number;
  instructions: number;
  codeBytesIn: number;
  codeBytesOut: number;
}

export interface InstrumentedModule {
  bytes: Uint8Array;
  hasStart: boolean;
  memoryLimitPages: number;
  /** The stack budget the entry checks were built for (spec: stack.md#S2). */
  stackLimit: number;
  stats: InstrumentStats;
}

function encodeBlockType(results: Uint8Array, typeIndex: () => number): Uint8Array {
  if (results.length === 0) return Uint8Array.of(0x40);
  if (results.length === 1) return Uint8Array.of(results[0]!);
  return new Writer(5).s32(typeIndex()).finish();
}

function sameType(a: FuncType, params: Uint8Array, results: Uint8Array): boolean {
  if (a.params.length !== params.length || a.results.length !== results.length) return false;
  for (let i = 0; i < params.length; i++) if (a.params[i] !== params[i]) return false;
  for (let i = 0; i < results.length; i++) if (a.results[i] !== results[i]) return false;
  return true;
}

function writeLimits(w: Writer, min: number, max: number): void {
  w.u8(0x01).u32(min).u32(max);
}

function resolveOptions(options: InstrumentOptions): {
  memoryLimitPages: number;
  stackLimit: number;
  costs: CostTable;
} {
  const memoryLimit = options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
  if (!Number.isSafeInteger(memoryLimit) || memoryLimit < 0 || memoryLimit > 4 * 1024 * 1024 * 1024) {
    throw new RangeError(`memoryLimit must be an integer number of bytes from 0 to 4 GiB, got ${memoryLimit}`);
  }
  const stackLimit = options.stackLimit ?? DEFAULT_STACK_LIMIT;
  if (!Number.isSafeInteger(stackLimit) || stackLimit < 2 * CHAIN_MAX_WEIGHT || stackLimit > 1_000_000) {
    throw new RangeError(`stackLimit must be an integer from 1024 to 1000000 frame-weight units, got ${stackLimit}`);
  }
  return {
    memoryLimitPages: Math.floor(memoryLimit / PAGE),
    stackLimit,
    costs: options.costTable ?? DEFAULT_COST_TABLE,
  };
}

/**
 * Rewrites a module for deterministic execution: fuel, stack depth, NaN canonicalisation and a
 * clamped memory maximum. Does not check imports or size limits (see `validateModule`).
 * @throws {ValidationError} malformed or invalid module (V8's validator has the last word, as in
 *   `compile`), unsupported feature, or initial memory over the limit.
 */
export function instrumentModule(wasm: Uint8Array, options: InstrumentOptions = {}): InstrumentedModule {
  const out = instrumentParsed(decodeModule(wasm), options);
  // The decoder and analysis check structure and features, not types: V8 validates the rest, as
  // compile() does, so a module V8 rejects is a ValidationError here too, never rewritten output.
  checkWithEngine(wasm);
  return out;
}

/** `instrumentModule` for an already decoded module (compile decodes once for validation and rewriting). */
export function instrumentParsed(m: ParsedModule, options: InstrumentOptions = {}): InstrumentedModule {
  const { memoryLimitPages, stackLimit, costs } = resolveOptions(options);
  for (const e of m.exports) {
    if (RESERVED_EXPORTS.has(e.name)) {
      throw new ValidationError(
        'DL_ERR_MODULE_RESERVED_EXPORT',
        `export name "${e.name}" is reserved for docklock's instrumentation; rename it`,
        { section: 'export' },
      );
    }
  }
  const fuelGlobal = m.globalTypes.length;
  const depthGlobal = fuelGlobal + 1;
  const trapGlobal = fuelGlobal + 2;
  const growRefusedGlobal = options.markRefusedGrow === true ? fuelGlobal + 3 : undefined;
  const extraTypes: FuncType[] = [];
  const wrapperTypeIndex = (results: Uint8Array, params = new Uint8Array(0)): number => {
    const all = m.types.length;
    for (let i = 0; i < all; i++) if (sameType(m.types[i]!, params, results)) return i;
    for (let i = 0; i < extraTypes.length; i++) if (sameType(extraTypes[i]!, params, results)) return all + i;
    extraTypes.push({ params, results });
    return all + extraTypes.length - 1;
  };

  // Two functions are appended after the module's own: they record why we trap and execute
  // `unreachable`. Calling them only on the cold path keeps every check a few bytes long.
  const trapFuelFunc = m.funcTypes.length;
  const trapEntryFunc = trapFuelFunc + 1;
  const voidType = wrapperTypeIndex(new Uint8Array(0), new Uint8Array(0));
  let i32TypeIndex = -1;

  // The wrapper block's type, per function type (most modules have a few dozen types, thousands of functions).
  const blockTypes = new Map<number, Uint8Array>();
  const blockTypeOf = (typeIndex: number): Uint8Array => {
    let bt = blockTypes.get(typeIndex);
    if (bt === undefined) {
      const results = m.types[typeIndex]!.results;
      bt = encodeBlockType(results, () => wrapperTypeIndex(results));
      blockTypes.set(typeIndex, bt);
    }
    return bt;
  };
  const replaced = new Map<number, Uint8Array>();
  // Code section.
  const code = reusedWriter(0);
  const scratch = reusedWriter(1);
  let instructions = 0;
  let codeBytesIn = 0;
  // Pass 1: analyse every body. What the module's sections say reaches a function other than
  // by direct calls is known now; `ref.func` in code is found by the analysis itself.
  const reachableBySections = new Set<number>(m.refFuncs);
  for (const e of m.exports) if (e.kind === 'func') reachableBySections.add(e.index);
  if (m.start !== undefined) reachableBySections.add(m.start);
  const analyses = m.bodies.map((body, i) => {
    const funcIndex = m.importedFuncCount + i;
    const type = m.types[m.funcTypes[funcIndex]!]!;
    return analyzeBody(
      m,
      costs,
      funcIndex,
      body.codeStart,
      body.end,
      type.params.length + body.localCount,
      -1,
      !reachableBySections.has(funcIndex),
    );
  });
  // Functions that only direct calls can reach (not exported, not the start function, never
  // referenced by a table or ref.func): callers may take over work from their entries.
  const reachableOtherwise = new Set<number>(reachableBySections);
  for (const a of analyses) for (let k = 0; k < a.refFuncs.length; k++) reachableOtherwise.add(a.refFuncs[k]!);

  // Frame weights (spec: stack.md#S1); only functions on call cycles, and those heading chains too
  // heavy for the reserve, account them (spec: stack.md#S4).
  const own = new Int32Array(m.bodies.length);
  for (let i = 0; i < m.bodies.length; i++) {
    const body = m.bodies[i]!;
    const type = m.types[m.funcTypes[m.importedFuncCount + i]!]!;
    let w = FRAME_OVERHEAD;
    const params = type.params;
    for (let k = 0; k < params.length; k++) w += params[k] === 0x7b ? 2 : 1;
    const decls = body.localDecls;
    for (let k = 0; k < decls.length; k++) w += decls[k]!.count * (decls[k]!.type === 0x7b ? 2 : 1);
    own[i] = w + analyses[i]!.maxHeight * (analyses[i]!.usesV128 ? 2 : 1);
  }
  const plan = planFrames(m, analyses, own);

  // Depth-passing functions (spec: stack.md#S7): on a cycle, reachable only by direct calls, and
  // from at most DEPTH_PASSING_MAX_SITES of them, so every caller can hand over the callee's depth
  // as an extra last parameter (each site costs 5 bytes, and the entry saves about 20). Their
  // bodies are analysed again to move every local after the parameters up by one.
  const sites = new Int32Array(m.bodies.length);
  for (const a of analyses) for (const c of a.callees) if (c >= m.importedFuncCount) sites[c - m.importedFuncCount]++;
  const passesDepth = new Uint8Array(m.bodies.length);
  const passedWeight = new Int32Array(m.bodies.length);
  const funcTypeOut = m.funcTypes.slice(m.importedFuncCount);
  let anyPassesDepth = false;
  for (let i = 0; i < m.bodies.length; i++) {
    const f = m.importedFuncCount + i;
    if (!plan.cyclic[i] || reachableOtherwise.has(f) || sites[i]! > DEPTH_PASSING_MAX_SITES) continue;
    const body = m.bodies[i]!;
    const type = m.types[m.funcTypes[f]!]!;
    passesDepth[i] = 1;
    anyPassesDepth = true;
    passedWeight[i] = plan.weight[i]! + 1;
    analyses[i] = analyzeBody(
      m,
      costs,
      f,
      body.codeStart,
      body.end,
      type.params.length + body.localCount,
      type.params.length,
      true,
    );
    const params = new Uint8Array(type.params.length + 1);
    params.set(type.params);
    params[type.params.length] = 0x7f;
    funcTypeOut[i] = wrapperTypeIndex(type.results, params);
  }

  // Callers pay the entry charge of a function that only direct calls can reach, so its entry
  // only checks (spec: fuel.md#F7). Functions whose entry segment itself calls something keep
  // their charge, so the moved costs never depend on each other.
  const imported = m.importedFuncCount;
  const movedCost = new Int32Array(m.bodies.length).fill(-1);
  analyses.forEach((a, i) => {
    if (!reachableOtherwise.has(imported + i) && !a.callSegs.includes(0)) movedCost[i] = a.args[0]!;
  });
  for (const a of analyses) {
    for (let k = 0; k < a.callSegs.length; k++) {
      const c = a.callees[k]! - imported;
      if (c >= 0 && movedCost[c]! >= 0) a.args[a.callSegs[k]!] += movedCost[c]!;
    }
  }
  movedCost.forEach((cost, i) => {
    if (cost >= 0) analyses[i]!.args[0] = 0;
  });

  // The dynamic-charge helpers this module's bulk operations call, appended after the trap functions.
  let helperBits = 0;
  for (const a of analyses) helperBits |= a.helpers;
  const helperUsed = [(helperBits & 1) !== 0, (helperBits & 2) !== 0, (helperBits & 4) !== 0];
  const chargeHelperFuncs = [-1, -1, -1];
  let appended = TRAP_FUNCS;
  for (let h = 0; h < 3; h++) if (helperUsed[h]) chargeHelperFuncs[h] = trapFuelFunc + appended++;
  code.u32(m.bodies.length + appended);

  // Call sites of depth-passing functions push the callee's depth; a depth-passing function that
  // makes any other call keeps the global right while it runs (spec: stack.md#S7). These patches
  // are worked out per body just before it is emitted, into one reused set of arrays, and
  // emitBody merges them with the analysis's own: merging into the analyses' arrays allocated
  // and copied every body with calls.
  const extra: ExtraPatches = { offsets: [], kinds: [], args: [], count: 0 };
  const add = (offset: number, kind: number, arg: number): void => {
    const k = extra.count++;
    extra.offsets[k] = offset;
    extra.kinds[k] = kind;
    extra.args[k] = arg;
  };
  for (let i = 0; i < m.bodies.length; i++) {
    const body = m.bodies[i]!;
    const funcIndex = m.importedFuncCount + i;
    const type = m.types[m.funcTypes[funcIndex]!]!;
    const a = analyses[i]!;
    instructions += a.instructions;
    codeBytesIn += body.end - body.start;
    const weight = passesDepth[i] ? 0 : plan.weight[i]!;
    // A depth-passing function's callers add its weight plus its extra parameter.
    const needed = Math.max(passesDepth[i] ? passedWeight[i]! : plan.weight[i]!, own[i]!);
    if (needed > stackLimit - CHAIN_MAX_WEIGHT) {
      // One frame (with the chain it heads) alone exceeds the budget: it could never run, so say so now.
      throw new ValidationError(
        'DL_ERR_LIMIT_FRAME',
        `function ${funcIndex} needs a stack frame of weight ${needed}, over the stack budget ${stackLimit}`,
        { section: 'code', func: funcIndex },
      );
    }
    // Off call cycles nothing can recur, so the entry needs no check (spec: fuel.md#F4).
    if (weight === 0 && !plan.cyclic[i]) a.kinds[0] = Patch.Charge;
    extra.count = 0;
    let syncDepth = false;
    if (anyPassesDepth) {
      // Every execution of a segment that calls depth-passing functions checks both budgets once,
      // in front of its first such call, for the heaviest of them; their entries check nothing
      // (spec: stack.md#S7). A segment's code all runs once it starts, so the check covers every
      // call of the run. Each call then pushes its callee's depth.
      const { callAt, callees, callSegs } = a;
      let d = 0;
      while (d < callAt.length) {
        const c = callees[d]! - m.importedFuncCount;
        if (c < 0 || !passesDepth[c]) {
          syncDepth = true;
          d++;
          continue;
        }
        // The run of calls to depth-passing functions in this segment, consecutive in code order.
        const seg = callSegs[d]!;
        let runEnd = d;
        let heaviest = 0;
        while (runEnd < callAt.length && callSegs[runEnd] === seg) {
          const k = callees[runEnd]! - m.importedFuncCount;
          if (k < 0 || !passesDepth[k]) break;
          if (passedWeight[k]! > heaviest) heaviest = passedWeight[k]!;
          runEnd++;
        }
        add(callAt[d]!, Patch.CallSiteCheck, heaviest);
        for (; d < runEnd; d++) add(callAt[d]!, Patch.CallDepthArg, passedWeight[callees[d]! - m.importedFuncCount]!);
      }
      if (a.indirectTypes.length > 0) syncDepth = true;
    }
    emitBody(
      {
        bytes: m.bytes,
        costs,
        fuelGlobal,
        depthGlobal,
        trapFuelFunc,
        trapEntryFunc,
        chargeHelperFuncs,
        frameWeight: weight,
        stackLimit: stackLimit - CHAIN_MAX_WEIGHT,
        wrapperBlockType:
          weight > 0 || (passesDepth[i] && syncDepth) ? blockTypeOf(m.funcTypes[funcIndex]!) : NO_BLOCK_TYPE,
        paramCount: type.params.length + passesDepth[i]!,
        memoryLimitPages,
        depthParam: passesDepth[i] ? type.params.length : -1,
        syncDepth,
      },
      body,
      a,
      scratch.reset(),
      extra,
    );
    code.sizedFrom(scratch);
  }
  // fuel trap: reason = 1; unreachable
  code.sized(new Writer(12).u8(0).u8(0x41).s32(TRAP_REASON.fuel).u8(0x24).u32(trapGlobal).u8(0x00).u8(0x0b).finish());
  // entry trap: reason = fuel < 0 ? 1 : 2; unreachable (fuel wins when both budgets fail)
  code.sized(
    new Writer(24)
      .u8(0)
      .u8(0x41)
      .s32(TRAP_REASON.fuel)
      .u8(0x41)
      .s32(TRAP_REASON.stack)
      .u8(0x23)
      .u32(fuelGlobal)
      .u8(0x42)
      .u8(0)
      .u8(0x53)
      .u8(0x1b)
      .u8(0x24)
      .u32(trapGlobal)
      .u8(0x00)
      .u8(0x0b)
      .finish(),
  );
  chargeHelperBodies({ costs, fuelGlobal, trapFuelFunc, memoryLimitPages, growRefusedGlobal }).forEach((body, h) => {
    if (helperUsed[h]) code.sized(body);
  });
  {
    const s = sectionOf(m, SECTION.function);
    const w = new Writer();
    w.u32(m.bodies.length + appended);
    if (s) {
      if (anyPassesDepth) for (const t of funcTypeOut) w.u32(t);
      else w.bytes(m.bytes.subarray(afterCount(m, s.contentStart), s.contentEnd));
    }
    w.u32(voidType).u32(voidType);
    if (appended > TRAP_FUNCS) i32TypeIndex = wrapperTypeIndex(Uint8Array.of(0x7f), Uint8Array.of(0x7f));
    for (let h = TRAP_FUNCS; h < appended; h++) w.u32(i32TypeIndex);
    replaced.set(SECTION.function, w.finish());
  }

  replaced.set(SECTION.code, code.view());

  // Type section: append wrapper block types.
  if (extraTypes.length > 0) {
    const s = sectionOf(m, SECTION.type);
    const w = new Writer();
    w.u32(m.types.length + extraTypes.length);
    if (s) w.bytes(m.bytes.subarray(afterCount(m, s.contentStart), s.contentEnd));
    for (const t of extraTypes) w.u8(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
    replaced.set(SECTION.type, w.finish());
  }

  // Globals: fuel (mut i64), depth (mut i32), trap reason (mut i32), appended.
  {
    const s = sectionOf(m, SECTION.global);
    const definedGlobals = m.globalTypes.length - m.imports.filter((i) => i.kind === 'global').length;
    const w = new Writer();
    w.u32(definedGlobals + (growRefusedGlobal !== undefined ? 4 : 3));
    if (s) w.bytes(m.bytes.subarray(afterCount(m, s.contentStart), s.contentEnd));
    w.u8(0x7e).u8(0x01).u8(0x42).u8(0x00).u8(0x0b);
    w.u8(0x7f).u8(0x01).u8(0x41).u8(0x00).u8(0x0b);
    w.u8(0x7f).u8(0x01).u8(0x41).u8(0x00).u8(0x0b);
    if (growRefusedGlobal !== undefined) w.u8(0x7f).u8(0x01).u8(0x41).u8(0x00).u8(0x0b);
    replaced.set(SECTION.global, w.finish());
  }

  // Exports.
  {
    const s = sectionOf(m, SECTION.export);
    const w = new Writer();
    w.u32(m.exports.length + 3 + (m.start !== undefined ? 1 : 0) + (growRefusedGlobal !== undefined ? 1 : 0));
    if (s) w.bytes(m.bytes.subarray(afterCount(m, s.contentStart), s.contentEnd));
    w.name(EXPORT_FUEL).u8(0x03).u32(fuelGlobal);
    w.name(EXPORT_DEPTH).u8(0x03).u32(depthGlobal);
    w.name(EXPORT_TRAP).u8(0x03).u32(trapGlobal);
    if (growRefusedGlobal !== undefined) w.name(EXPORT_GROW_REFUSED).u8(0x03).u32(growRefusedGlobal);
    if (m.start !== undefined) w.name(EXPORT_START).u8(0x00).u32(m.start);
    replaced.set(SECTION.export, w.finish());
  }

  // Memory: clamp the maximum to the limit; an initial size over the limit can never run.
  for (const mem of m.memories) {
    if (mem.limits.min > memoryLimitPages) {
      throw new ValidationError(
        'DL_ERR_LIMIT_MEMORY',
        `memory starts at ${mem.limits.min} pages (${mem.limits.min * 64} KiB), over the limit of ${memoryLimitPages} pages; raise the memory limit or shrink the module's initial memory`,
        { section: mem.imported ? 'import' : 'memory' },
      );
    }
    const max = Math.min(mem.limits.max ?? memoryLimitPages, memoryLimitPages);
    const sid = mem.imported ? SECTION.import : SECTION.memory;
    const s = sectionOf(m, sid)!;
    const w = new Writer();
    w.bytes(m.bytes.subarray(s.contentStart, mem.limitsStart));
    writeLimits(w, mem.limits.min, max);
    w.bytes(m.bytes.subarray(mem.limitsEnd, s.contentEnd));
    replaced.set(sid, w.finish());
  }

  const dropped = new Set<number>([SECTION.start]);
  const out = assemble(m, replaced, dropped);
  return {
    bytes: out,
    hasStart: m.start !== undefined,
    memoryLimitPages,
    stackLimit,
    stats: { functions: m.bodies.length, instructions, codeBytesIn, codeBytesOut: code.length },
  };
}

/**
 * Rewrites a module for deterministic execution and returns the new bytes.
 * @param wasm a WebAssembly 2.0 binary
 * @param options limits and cost table
 * @returns the instrumented binary
 * @throws {ValidationError} malformed module or an unsupported feature
 * @example
 * const out = instrument(readFileSync('prog.wasm'), { memoryLimit: 64 << 20 });
 */
export function instrument(wasm: Uint8Array, options: InstrumentOptions = {}): Uint8Array {
  return instrumentModule(wasm, options).bytes;
}

// The rewriter's three big buffers (code section, one body, the assembled module) are kept between
// calls: fresh ones cost page faults on first touch (about 0.5 ns a byte here) every call. Calls
// never overlap (all of this is synchronous), and a buffer grown past RETAIN_MAX is let go.
const RETAIN_MAX = 16 << 20;
const writers: Writer[] = [new Writer(1 << 16), new Writer(1 << 16), new Writer(1 << 16)];

function reusedWriter(k: number): Writer {
  let w = writers[k]!;
  if (w.capacity > RETAIN_MAX) writers[k] = w = new Writer(1 << 16);
  return w.reset();
}

function sectionOf(m: ParsedModule, id: number): { contentStart: number; contentEnd: number } | undefined {
  return m.sections.find((s) => s.id === id);
}

/** Skips the leading u32 count of a vector section. */
function afterCount(m: ParsedModule, pos: number): number {
  while (m.bytes[pos]! & 0x80) pos++;
  return pos + 1;
}

/** Where sections go, by id, in canonical order (§5.5.2). */
const ORDER = [
  SECTION.type,
  SECTION.import,
  SECTION.function,
  SECTION.table,
  SECTION.memory,
  SECTION.global,
  SECTION.export,
  SECTION.start,
  SECTION.element,
  SECTION.dataCount,
  SECTION.code,
  SECTION.data,
];

/**
 * Reassembles a module: untouched sections are copied verbatim (custom sections stay where they
 * were), replaced ones re-encoded, missing replaced ones inserted at their canonical place.
 */
export function assemble(
  m: ParsedModule,
  replaced: Map<number, Uint8Array>,
  dropped: Set<number> = new Set(),
): Uint8Array {
  const w = reusedWriter(2);
  w.bytes(m.bytes.subarray(0, 8));
  const present = new Set(m.sections.map((s) => s.id));
  const emitNew = (id: number): void => {
    const content = replaced.get(id);
    if (content !== undefined) w.u8(id).sized(content);
  };
  let orderPos = 0;
  const flushMissingBefore = (id: number): void => {
    const rank = ORDER.indexOf(id as (typeof ORDER)[number]);
    while (orderPos < rank) {
      const missing = ORDER[orderPos]!;
      if (!present.has(missing)) emitNew(missing);
      orderPos++;
    }
  };
  for (const s of m.sections) {
    if (s.id !== SECTION.custom) {
      flushMissingBefore(s.id);
      orderPos = ORDER.indexOf(s.id as (typeof ORDER)[number]) + 1;
      if (dropped.has(s.id)) continue;
      if (replaced.has(s.id)) {
        emitNew(s.id);
        continue;
      }
    }
    w.bytes(m.bytes.subarray(s.start, s.contentEnd));
  }
  while (orderPos < ORDER.length) {
    const missing = ORDER[orderPos++]!;
    if (!present.has(missing)) emitNew(missing);
  }
  return w.finish();
}

/** Re-encodes a module without changes: byte-identical to its input (used by the round-trip tests). */
export function roundTrip(wasm: Uint8Array): Uint8Array {
  return assemble(decodeModule(wasm), new Map());
}

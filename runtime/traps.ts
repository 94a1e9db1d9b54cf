/**
 * Turns what a guest call threw into docklock's closed set of deterministic traps
 * (spec: spec/traps.md#T1). Our own `unreachable`s are told apart from the guest's by the
 * trap-reason global the instrumentation sets just before them; engine messages are mapped to
 * stable codes so no V8 wording ever reaches a result.
 */
import { InternalError, OutOfFuel, StackExhausted, Trap } from './errors.ts';
import type { TrapCode } from './errors.ts';
import { TRAP_REASON } from './instrument/emit-body.ts';

const MESSAGE_CODES: [RegExp, TrapCode][] = [
  [/^unreachable/, 'unreachable'],
  [/divide by zero|remainder by zero/, 'integer_divide_by_zero'],
  [/integer overflow|divide result unrepresentable/, 'integer_overflow'],
  [/float unrepresentable|invalid conversion/, 'invalid_conversion'],
  [/memory access out of bounds|data segment (\d+ is )?out of bounds|out of bounds memory/, 'out_of_bounds_memory'],
  [
    /table index is out of bounds|table access out of bounds|element segment out of bounds|invalid index into function table|table out of bounds/,
    'out_of_bounds_table',
  ],
  [/signature mismatch|type mismatch/, 'indirect_call_type_mismatch'],
  [/null function|uninitialized element/, 'uninitialized_element'],
  [/null pointer|null reference|dereferencing a null/, 'null_reference'],
];

const TRAP_MESSAGES: Record<TrapCode, string> = {
  out_of_fuel: 'all fuel consumed',
  stack_exhausted: 'call stack budget exhausted',
  unreachable: 'wasm trap: unreachable executed',
  integer_divide_by_zero: 'wasm trap: integer divide by zero',
  integer_overflow: 'wasm trap: integer overflow',
  invalid_conversion: 'wasm trap: invalid conversion to integer',
  out_of_bounds_memory: 'wasm trap: out of bounds memory access',
  out_of_bounds_table: 'wasm trap: out of bounds table access',
  indirect_call_type_mismatch: 'wasm trap: indirect call type mismatch (or null function)',
  null_reference: 'wasm trap: null reference',
  uninitialized_element: 'wasm trap: uninitialized element',
  out_of_bounds_data_segment: 'wasm trap: out of bounds data segment access',
  host_error: 'host function failed',
};

/**
 * Classifies an exception that escaped guest code. `reason` is the value of the trap-reason
 * global at that moment. Anything that is not a WebAssembly trap (a host function's own error,
 * `proc_exit`) is returned unchanged.
 */
export function classifyTrap(err: unknown, reason: number): unknown {
  if (reason === TRAP_REASON.fuel) return new OutOfFuel();
  if (reason === TRAP_REASON.stack) return new StackExhausted();
  if (err instanceof WebAssembly.RuntimeError) {
    const msg = err.message;
    for (const [re, code] of MESSAGE_CODES)
      if (re.test(msg)) return new Trap(code, TRAP_MESSAGES[code], { cause: err });
    return new InternalError(`unclassified WebAssembly trap: ${msg}`, { cause: err });
  }
  if (err instanceof RangeError && /call stack size/i.test(err.message)) {
    // V8's own overflow depth is not deterministic; the stack budget exists so this never happens.
    const e = new InternalError(
      'the engine stack overflowed before the deterministic stack budget was reached; lower the stack budget',
      { cause: err },
    );
    return e;
  }
  return err;
}

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { instrument, ValidationError } from '../../index.ts';
import { wat } from './wat.ts';
import { fixture } from '../run/helpers.ts';

/**
 * `instrument()` promises a coded ValidationError for a module it cannot take. The decoder and the
 * analysis check structure and features but not types, so mutations V8 rejects used to come back
 * as (invalid) output. Property: for any mutation of a valid module, instrument() either throws a
 * coded ValidationError or returns bytes V8 validates.
 */
const seeds: Uint8Array[] = [
  wat(`(module (memory (export "memory") 1) (global $g (mut i32) (i32.const 0))
    (func $f (export "f") (param i32 i64) (result i32) (local f64)
      (block (loop (br_if 1 (i32.eqz (local.get 0))) (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br 0)))
      (i32.add (i32.wrap_i64 (local.get 1)) (i32.load (i32.const 8)))))`),
  fixture('fib'),
  fixture('hello'),
];

type Mutation = { at: number; byte: number; op: 'set' | 'insert' | 'delete' };

function mutate(bytes: Uint8Array, ms: Mutation[]): Uint8Array {
  let out = Array.from(bytes);
  for (const m of ms) {
    // Past the 8-byte header, so most mutants get as far as the sections.
    const at = 8 + (m.at % Math.max(1, out.length - 8));
    if (m.op === 'set') out[at] = m.byte;
    else if (m.op === 'insert') out.splice(at, 0, m.byte);
    else out = out.filter((_, i) => i !== at);
  }
  return Uint8Array.from(out);
}

const mutation = fc.record({
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  op: fc.constantFrom<'set' | 'insert' | 'delete'>('set', 'set', 'insert', 'delete'),
});

describe('instrument() validates what it is given', () => {
  it('refuses a well-formed module with a type error (V8 rejects it) with DL_ERR_MODULE_INVALID', () => {
    const ok = wat('(module (func (export "f") (result i32) (i32.const 7)))');
    // The body's `i32.const 7; end` (41 07 0b) becomes `i64.const 7; end`: a type error.
    const at = ok.findIndex((b, i) => b === 0x41 && ok[i + 1] === 0x07 && ok[i + 2] === 0x0b);
    expect(at).toBeGreaterThan(0);
    const bad = ok.slice();
    bad[at] = 0x42;
    expect(WebAssembly.validate(bad)).toBe(false);
    expect(() => instrument(bad)).toThrow(ValidationError);
    try {
      instrument(bad);
    } catch (e) {
      expect((e as ValidationError).code).toBe('DL_ERR_MODULE_INVALID');
    }
  });

  it('property: a mutated module gives a coded ValidationError or output V8 validates', () => {
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (s, ms) => {
          const bytes = mutate(seeds[s]!, ms);
          let out: Uint8Array;
          try {
            out = instrument(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(ValidationError);
            expect((e as ValidationError).code).toMatch(/^DL_ERR_[A-Z_]+$/);
            refused++;
            return;
          }
          accepted++;
          expect(WebAssembly.validate(out as Uint8Array<ArrayBuffer>)).toBe(true);
        },
      ),
      { numRuns: 400, seed: 12 },
    );
    // Both outcomes occur, so neither branch passes vacuously.
    expect(refused).toBeGreaterThan(50);
    expect(accepted).toBeGreaterThan(5);
  });
});

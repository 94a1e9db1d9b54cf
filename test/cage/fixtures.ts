/** Shared test data for the cage's data-layer suites. */
import fc from 'fast-check';
import { blake3 } from '../../runtime/hash.ts';
import type { RunResult } from '../../runtime/result.ts';
import type { WitnessEntry } from '../../runtime/witness/entry.ts';

const value = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
  fc.double(),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
);
const arbEntry: fc.Arbitrary<WitnessEntry> = fc
  .record({
    index: fc.nat({ max: 2 ** 32 - 1 }),
    name: fc.oneof(
      fc.constantFrom('wasi_snapshot_preview1.random_get', 'docklock.http_request', 'wasi_snapshot_preview1.fd_write'),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
    ),
    args: fc.array(value, { maxLength: 20 }),
    result: fc.option(value, { nil: null }),
    writes: fc.array(fc.record({ ptr: fc.nat({ max: 2 ** 32 - 1 }), bytes: fc.uint8Array({ maxLength: 300 }) }), {
      maxLength: 18,
    }),
    fuel: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    data: fc.option(fc.uint8Array({ maxLength: 70_000 }), { nil: undefined, freq: 8 }),
  })
  .map((r) => {
    const { data, ...rest } = r;
    return data === undefined ? rest : { ...rest, data };
  });

export { arbEntry };

export const h = (s: string): Uint8Array => blake3(new TextEncoder().encode(s));
export function sampleResult(over: Partial<RunResult> = {}): RunResult {
  return {
    formatVersion: 1,
    status: 'exited',
    exitCode: 0,
    trap: null,
    fuelUsed: 123_456_789_012n,
    fuelLimit: 10_000_000_000_000n,
    stdout: new TextEncoder().encode('hello\n'),
    stderr: new Uint8Array(0),
    outputs: new Map([
      ['/output/b.txt', Uint8Array.of(2)],
      ['/output/a.txt', Uint8Array.of(1)],
    ]),
    witnessEntries: 3,
    witnessRoot: h('root'),
    moduleHash: h('module'),
    manifestHash: h('manifest'),
    inputHash: h('input'),
    instrumenterVersion: 'instrument/1',
    costTableVersion: 'cost/1',
    ...over,
  };
}

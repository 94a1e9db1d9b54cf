/**
 * What the wasi:http host keeps for a component outside its memory (header fields, request bodies)
 * counts against the run's memory limit (spec/wasi.md#W9): a guest that leaks a handle per loop
 * would otherwise grow the validator's heap without bound, since fuel pays only for guest code.
 */
import { describe, expect, it } from 'vitest';
import { createWasiP2 } from '../../host-functions/wasi-p2/host.ts';
import { GuestMemory, WitnessLimit } from '../../runtime/store.ts';

const LIMIT = 64 * 1024;
const types = (): Record<string, unknown> =>
  createWasiP2({}, new GuestMemory(), 1024, LIMIT)['wasi:http/types'] as Record<string, unknown>;
type FieldsClass = new () => {
  append(name: string, value: Uint8Array): void;
  clone(): unknown;
  entries(): [string, Uint8Array][];
};

describe('wasi:http host bytes count against the memory limit', () => {
  it('ends the run (WitnessLimit, reported as memory_limit) once fields held add up past it', () => {
    const Fields = types().Fields as FieldsClass;
    const value = new Uint8Array(1000).fill(0x61);
    let made = 0;
    expect(() => {
      for (;;) {
        // A new resource each time, dropped by the guest: the account is never refunded.
        new Fields().append('x-big', value);
        made++;
      }
    }).toThrow(WitnessLimit);
    expect(made).toBe(Math.floor(LIMIT / 1005));
  });

  it('charges clones to the same account, and a clone is of the class the guest was given', () => {
    const Fields = types().Fields as FieldsClass;
    const f = new Fields();
    f.append('x', new Uint8Array(30_000).fill(0x61));
    const c = f.clone();
    expect(c).toBeInstanceOf(Fields);
    expect(() => f.clone()).toThrow(WitnessLimit);
  });

  it('gives each run its own account', () => {
    const value = new Uint8Array(40_000).fill(0x61);
    new (types().Fields as FieldsClass)().append('x', value);
    expect(() => new (types().Fields as FieldsClass)().append('x', value)).not.toThrow();
  });
});

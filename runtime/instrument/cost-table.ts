/**
 * The versioned fuel cost table (spec: spec/fuel.md#F2). A run's fuel figure is only comparable
 * between nodes using the same table, so its version is part of every compile cache key and of
 * the result hash. Change a cost → bump the version; never reuse a retired version string.
 */

/** A cost table is immutable once used: compile caches its hash per table object. */
export interface CostTable {
  /** Stable identifier, hashed into results. */
  readonly version: string;
  /** Cost of each single-byte opcode. */
  readonly op: Readonly<Uint8Array>;
  /** Cost of each 0xFC sub-opcode (static part). */
  readonly fc: Readonly<Uint8Array>;
  /** Cost of each 0xFD (SIMD) sub-opcode. */
  readonly simd: Readonly<Uint8Array>;
  /** Bulk memory ops (`memory.copy/fill/init`) cost `length >> bulkByteShift` on top of their static cost. */
  readonly bulkByteShift: number;
  /** Table ops with a length (`table.copy/fill/init/grow`) cost this per element. */
  readonly tableElementCost: number;
  /** `memory.grow` costs this per page requested (up to the memory limit). */
  readonly memoryGrowPageCost: number;
}

function build(): CostTable {
  const op = new Uint8Array(256).fill(1);
  // Structural markers do no work of their own (as in wasmtime's default fuel costs).
  for (const o of [0x01, 0x02, 0x03, 0x05, 0x0b]) op[o] = 0;
  op[0x10] = 2; // call
  op[0x11] = 3; // call_indirect: type check + table load
  for (const o of [0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82]) op[o] = 2; // integer div/rem
  op[0x40] = 2; // memory.grow (static part)
  const fc = new Uint8Array(18).fill(1);
  const simd = new Uint8Array(256).fill(1);
  return { version: 'docklock-cost/1', op, fc, simd, bulkByteShift: 4, tableElementCost: 1, memoryGrowPageCost: 64 };
}

/** The default table: 1 per instruction, 0 for structural markers, more for calls and division. */
export const DEFAULT_COST_TABLE: CostTable = /* @__PURE__ */ build();

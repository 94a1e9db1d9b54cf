// Running a miner's module in a nested cage (grant `nested`; spec/nested.md). Constants mirror
// host-functions/nested/abi.ts (a test checks they agree).

@external("docklock", "nested_load")
declare function nested_load(ptr: usize, len: i32, memory_pages: i32, stack: i32): i32;
@external("docklock", "nested_call")
declare function nested_call(handle: i32, name: usize, name_len: i32, input: usize, in_len: i32, out: usize, out_cap: i32, fuel: u64, info: usize): i32;

/** nested_load / nested_call errors (negative). */
export const NESTED_LIMIT: i32 = -2;
export const NESTED_INVALID: i32 = -4;
export const NESTED_FAULT: i32 = -5;
export const NESTED_BAD_HANDLE: i32 = -6;
export const NESTED_FORBIDDEN_IMPORT: i32 = -7;

/** nested_call statuses (non-negative). */
export const STATUS_OK: i32 = 0;
export const STATUS_OUT_OF_FUEL: i32 = 1;
export const STATUS_STACK_EXHAUSTED: i32 = 2;
export const STATUS_MEMORY_LIMIT: i32 = 3;
export const STATUS_TRAPPED: i32 = 4;
export const STATUS_BAD_ABI: i32 = 5;
export const STATUS_OUTPUT_TOO_LARGE: i32 = 6;

/** A stable name for a load error or call status, for score details. */
export function nestedStatusName(code: i32): string {
  switch (code) {
    case 0: return "ok";
    case 1: return "out_of_fuel";
    case 2: return "stack_exhausted";
    case 3: return "memory_limit";
    case 4: return "trapped";
    case 5: return "bad_abi";
    case 6: return "output_too_large";
    case -2: return "limit";
    case -4: return "invalid_module";
    case -5: return "fault";
    case -6: return "bad_handle";
    case -7: return "forbidden_import";
    default: return "unknown";
  }
}

export class CallResult {
  /** STATUS_* (≥ 0) or a negative NESTED_* error. */
  status: i32 = 0;
  /** Fuel the call used (billed to this challenge too). */
  fuelUsed: u64 = 0;
  /** The output; empty unless status is STATUS_OK. */
  output: Uint8Array = new Uint8Array(0);
  /** Length the submission returned (also when it did not fit). */
  outLen: u32 = 0;
  /** Trap code + 1 (runtime/errors.ts TRAP_CODES order), 0 for none. */
  trap: u32 = 0;

  get ok(): bool {
    return this.status == STATUS_OK;
  }
}

/** A miner's module, compiled by docklock with no imports; every call runs in a fresh instance. */
export class Submission {
  /** Handle ≥ 0, or a negative NESTED_* error when loading failed. */
  readonly handle: i32;

  private constructor(handle: i32) {
    this.handle = handle;
  }

  get loaded(): bool {
    return this.handle >= 0;
  }

  /**
   * Loads module bytes. `memoryPages` (64 KiB each) and `stack` (frame-weight units) of 0 take the
   * defaults (16 MiB, 16384); both are capped by this challenge's own limits.
   */
  static load(bytes: Uint8Array, memoryPages: i32 = 0, stack: i32 = 0): Submission {
    return new Submission(nested_load(bytes.dataStart, bytes.length, memoryPages, stack));
  }

  /**
   * Calls export `name(ptr, len) -> i64` with `input` and a fuel budget; at most `outCap` bytes of
   * output are accepted. The submission exports `memory` and `alloc(len) -> ptr`.
   */
  call(name: string, input: Uint8Array, fuel: u64, outCap: i32 = 1 << 20): CallResult {
    const r = new CallResult();
    if (this.handle < 0) {
      r.status = NESTED_BAD_HANDLE;
      return r;
    }
    const n = String.UTF8.encode(name);
    const out = new Uint8Array(outCap);
    const info = new ArrayBuffer(16);
    r.status = nested_call(this.handle, changetype<usize>(n), n.byteLength, input.dataStart, input.length, out.dataStart, outCap, fuel, changetype<usize>(info));
    r.fuelUsed = load<u64>(changetype<usize>(info));
    r.outLen = load<u32>(changetype<usize>(info), 8);
    r.trap = load<u32>(changetype<usize>(info), 12);
    if (r.status == STATUS_OK) r.output = out.subarray(0, <i32>r.outLen);
    return r;
  }
}

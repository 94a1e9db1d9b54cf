// Challenge state, docklock.state_* (grant `state`; docs/escrow.md). Reads see the snapshot the
// run was given plus the run's own writes; writes are staged and reach the store only when the
// escrow commits the run.

@external("docklock", "state_get")
declare function state_get(key: usize, key_len: i32, buf: usize, cap: i32): i32;
@external("docklock", "state_put")
declare function state_put(key: usize, key_len: i32, val: usize, val_len: i32): i32;
@external("docklock", "state_delete")
declare function state_delete(key: usize, key_len: i32): i32;
@external("docklock", "state_scan")
declare function state_scan(start: usize, start_len: i32, limit: i32, buf: usize, cap: i32): i32;

/** Negative results (host-functions/state/abi.ts). */
export const STATE_NOT_FOUND: i32 = -1;
export const STATE_LIMIT: i32 = -2;
export const STATE_BUFFER: i32 = -3;
export const STATE_FAULT: i32 = -5;

/** The value of `key`, or null when there is none (never written, or deleted). */
export function stateGet(key: string): Uint8Array | null {
  const k = String.UTF8.encode(key);
  let buf = new Uint8Array(256);
  let n = state_get(changetype<usize>(k), k.byteLength, buf.dataStart, buf.length);
  if (n < 0) return null;
  if (n > buf.length) {
    buf = new Uint8Array(n);
    n = state_get(changetype<usize>(k), k.byteLength, buf.dataStart, buf.length);
  }
  return buf.subarray(0, n);
}

/** The value of `key` as UTF-8 text, or `fallback`. */
export function stateGetText(key: string, fallback: string = ""): string {
  const v = stateGet(key);
  return v === null ? fallback : String.UTF8.decode(v.buffer.slice(v.byteOffset, v.byteOffset + v.length));
}

/** Stages a write; 0, or STATE_LIMIT (key, value or the run's write set too large). */
export function statePut(key: string, value: Uint8Array): i32 {
  const k = String.UTF8.encode(key);
  return state_put(changetype<usize>(k), k.byteLength, value.dataStart, value.length);
}

export function statePutText(key: string, value: string): i32 {
  return statePut(key, Uint8Array.wrap(String.UTF8.encode(value)));
}

/** Stages a deletion; 0 or STATE_LIMIT. */
export function stateDelete(key: string): i32 {
  const k = String.UTF8.encode(key);
  return state_delete(changetype<usize>(k), k.byteLength);
}

export class StateEntry {
  constructor(public key: string, public value: Uint8Array) {}
}

/** Up to `limit` (1..1024) entries with keys ≥ `start`, in key order; continue from the last key + "\0". */
export function stateScan(start: string, limit: i32, cap: i32 = 65536): StateEntry[] {
  const s = String.UTF8.encode(start);
  const buf = new Uint8Array(cap);
  const n = state_scan(changetype<usize>(s), s.byteLength, limit, buf.dataStart, buf.length);
  const out = new Array<StateEntry>();
  let at = 0;
  for (let i = 0; i < n; i++) {
    const kl = load<u32>(buf.dataStart + at);
    const key = String.UTF8.decodeUnsafe(buf.dataStart + at + 4, kl);
    const vl = load<u32>(buf.dataStart + at + 4 + kl);
    out.push(new StateEntry(key, buf.slice(at + 8 + kl, at + 8 + kl + vl)));
    at += 8 + kl + vl;
  }
  return out;
}

/**
 * The byte form of a run's state change (read set and write set): length-prefixed, keys in byte
 * order, so the same change always has the same bytes and the same BLAKE3 hash on every node.
 * The write-set hash is what a result commits to; the escrow stores the whole change in this form.
 *
 *   change   = u32 nReads, read*, u32 nWrites, write*
 *   read     = u32 keyLen, key, u64 version
 *   write    = u32 keyLen, key, u8 kind (0 delete, 1 put), [u32 valueLen, value]
 *
 * All integers little-endian.
 */
import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { StateError } from './errors.ts';
import type { StateRead, StateWrite } from './store.ts';

export interface EncodedChange {
  readonly reads: readonly StateRead[];
  readonly writes: readonly StateWrite[];
}

export function encodeChange(change: EncodedChange): Uint8Array {
  let size = 8;
  for (const r of change.reads) size += 4 + r.key.length + 8;
  for (const w of change.writes) size += 4 + w.key.length + 1 + (w.value === null ? 0 : 4 + w.value.length);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let at = 0;
  const bytes = (b: Uint8Array): void => {
    dv.setUint32(at, b.length, true);
    out.set(b, at + 4);
    at += 4 + b.length;
  };
  dv.setUint32(at, change.reads.length, true);
  at += 4;
  for (const r of change.reads) {
    bytes(r.key);
    dv.setBigUint64(at, BigInt(r.version), true);
    at += 8;
  }
  dv.setUint32(at, change.writes.length, true);
  at += 4;
  for (const w of change.writes) {
    bytes(w.key);
    out[at++] = w.value === null ? 0 : 1;
    if (w.value !== null) bytes(w.value);
  }
  return out;
}

export function decodeChange(buf: Uint8Array): EncodedChange {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const fail = (): never => {
    throw new StateError('DL_ERR_STATE_CHANGE_MALFORMED', `a state change is malformed at byte ${at}`, { offset: at });
  };
  const u32 = (): number => {
    if (at + 4 > buf.length) fail();
    const v = dv.getUint32(at, true);
    at += 4;
    return v;
  };
  const bytes = (): Uint8Array => {
    const n = u32();
    if (at + n > buf.length) fail();
    const b = buf.slice(at, at + n);
    at += n;
    return b;
  };
  const reads: StateRead[] = [];
  for (let i = u32(); i > 0; i--) {
    const key = bytes();
    if (at + 8 > buf.length) fail();
    reads.push({ key, version: Number(dv.getBigUint64(at, true)) });
    at += 8;
  }
  const writes: StateWrite[] = [];
  for (let i = u32(); i > 0; i--) {
    const key = bytes();
    if (at >= buf.length) fail();
    const kind = buf[at++];
    if (kind !== 0 && kind !== 1) fail();
    writes.push({ key, value: kind === 1 ? bytes() : null });
  }
  if (at !== buf.length) fail();
  return { reads, writes };
}

/** BLAKE3 of the write set alone (reads count 0), hex: what a run's result commits to. */
export function writeSetHash(writes: readonly StateWrite[]): string {
  return bytesToHex(blake3(encodeChange({ reads: [], writes })));
}

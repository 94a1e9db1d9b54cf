/**
 * The byte form of a run's state change (read set, write set and the scans it made):
 * length-prefixed, keys in byte order, so the same change always has the same bytes and the same
 * BLAKE3 hash on every node. The write-set hash is what an escrow is opened on; the whole change is
 * what a run's `docklock.state_change` witness entry holds and what the escrow stores.
 *
 *   change = u32 nReads, read*, u32 nWrites, write*, u32 nScans, scan*
 *   read   = bytes key, u64 version, u8 seen (0 not given, 1 absent, 2 present), [32-byte BLAKE3(value)]
 *   write  = bytes key, u8 kind (0 delete, 1 put), [bytes value]
 *   scan   = bytes start, u32 limit, u32 nKeys, bytes key*
 *   bytes  = u32 length, the bytes
 *
 * All integers little-endian. A read's value hash lets the escrow check, before it opens an
 * escrow, that what the run read is what the store held at the snapshot; a scan's key list lets it
 * check that the run saw every key the store had in that range.
 */
import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { StateError } from './errors.ts';
import type { StateRead, StateScan, StateWrite } from './store.ts';

export interface EncodedChange {
  readonly reads: readonly StateRead[];
  readonly writes: readonly StateWrite[];
  readonly scans?: readonly StateScan[];
}

const HASH_BYTES = 32;

function sizeOf(change: EncodedChange): number {
  let size = 12;
  for (const r of change.reads) size += 4 + r.key.length + 8 + 1 + (r.valueHash instanceof Uint8Array ? HASH_BYTES : 0);
  for (const w of change.writes) size += 4 + w.key.length + 1 + (w.value === null ? 0 : 4 + w.value.length);
  for (const s of change.scans ?? []) {
    size += 4 + s.start.length + 8;
    for (const k of s.keys) size += 4 + k.length;
  }
  return size;
}

export function encodeChange(change: EncodedChange): Uint8Array {
  const out = new Uint8Array(sizeOf(change));
  const dv = new DataView(out.buffer);
  let at = 0;
  const u32 = (n: number): void => {
    dv.setUint32(at, n, true);
    at += 4;
  };
  const bytes = (b: Uint8Array): void => {
    u32(b.length);
    out.set(b, at);
    at += b.length;
  };
  u32(change.reads.length);
  for (const r of change.reads) {
    bytes(r.key);
    dv.setBigUint64(at, BigInt(r.version), true);
    at += 8;
    if (r.valueHash === undefined) out[at++] = 0;
    else if (r.valueHash === null) out[at++] = 1;
    else {
      if (r.valueHash.length !== HASH_BYTES) throw new TypeError('a read value hash is 32 bytes');
      out[at++] = 2;
      out.set(r.valueHash, at);
      at += HASH_BYTES;
    }
  }
  u32(change.writes.length);
  for (const w of change.writes) {
    bytes(w.key);
    out[at++] = w.value === null ? 0 : 1;
    if (w.value !== null) bytes(w.value);
  }
  const scans = change.scans ?? [];
  u32(scans.length);
  for (const s of scans) {
    bytes(s.start);
    u32(s.limit);
    u32(s.keys.length);
    for (const k of s.keys) bytes(k);
  }
  return out;
}

/**
 * Decodes {@link encodeChange}'s bytes.
 * @throws {StateError} `DL_ERR_STATE_CHANGE_MALFORMED` with `where.offset` for bytes that do not decode.
 */
export function decodeChange(buf: Uint8Array): Required<EncodedChange> {
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
  // A count can never exceed the bytes left: a hostile count fails before any allocation.
  const count = (minBytesEach: number): number => {
    const n = u32();
    if (n * minBytesEach > buf.length - at) fail();
    return n;
  };
  const reads: StateRead[] = [];
  for (let i = count(13); i > 0; i--) {
    const key = bytes();
    if (at + 9 > buf.length) fail();
    const version = Number(dv.getBigUint64(at, true));
    if (!Number.isSafeInteger(version)) fail();
    at += 8;
    const seen = buf[at++];
    if (seen === 0) reads.push({ key, version });
    else if (seen === 1) reads.push({ key, version, valueHash: null });
    else if (seen === 2) {
      if (at + HASH_BYTES > buf.length) fail();
      reads.push({ key, version, valueHash: buf.slice(at, at + HASH_BYTES) });
      at += HASH_BYTES;
    } else fail();
  }
  const writes: StateWrite[] = [];
  for (let i = count(5); i > 0; i--) {
    const key = bytes();
    if (at >= buf.length) fail();
    const kind = buf[at++];
    if (kind !== 0 && kind !== 1) fail();
    writes.push({ key, value: kind === 1 ? bytes() : null });
  }
  const scans: StateScan[] = [];
  for (let i = count(12); i > 0; i--) {
    const start = bytes();
    const limit = u32();
    const keys: Uint8Array[] = [];
    for (let j = count(4); j > 0; j--) keys.push(bytes());
    scans.push({ start, limit, keys });
  }
  if (at !== buf.length) fail();
  return { reads, writes, scans };
}

/** BLAKE3 of a value, as a read records it. */
export function valueHash(value: Uint8Array): Uint8Array {
  return blake3(value);
}

/** BLAKE3 of the write set alone (no reads, no scans), hex: what an escrow is opened on. */
export function writeSetHash(writes: readonly StateWrite[]): string {
  return bytesToHex(blake3(encodeChange({ reads: [], writes })));
}

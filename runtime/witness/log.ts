/**
 * The append-only witness of one run.
 *
 * Host functions append in the guest's hot loop (a million `random_get` calls is an ordinary
 * run), so the log stores entries column by column in typed arrays and copies written bytes into
 * shared arenas: an append allocates nothing that outlives the call. Keeping a million small
 * entry objects alive instead measured ~0.6 µs per append and ~1.9 µs per entry at finalisation
 * (bench/RESULTS.md, "Witness"), all of it garbage-collector work on retained objects.
 * {@link WitnessLog.entry} and {@link WitnessLog.entries} build entry objects on demand.
 *
 * Encoding and hashing wait for {@link WitnessLog.finalize}.
 *
 * @module
 */
import { blake3Into, HASH_BYTES } from '../hash.ts';
import type { MemoryWrite, WitnessEntry } from './entry.ts';
import { EntryEncoder, FIELDS, MessagePackWriter, WITNESS_ENTRY_VERSION } from './encoding.ts';
import { merkleRootOfSlab } from './merkle.ts';

/** The committed form of a log: leaf hashes H(0x00 ‖ encodeEntry(e)) and their RFC 9162 root. */
export interface WitnessCommitment {
  /** 32-byte Merkle root; H("") for an empty log. */
  root: Uint8Array;
  /** One 32-byte leaf hash per entry, in order; input to `inclusionProof`. */
  leaves: Uint8Array[];
}

/** Size of one arena for copied write bytes; writes over 1/16 of it get their own copy. */
const ARENA_BYTES = 1 << 16;
const BIG_WRITE = ARENA_BYTES >>> 4;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

// Value tags of the argument and result columns.
const T_NULL = 0;
const T_NUMBER = 1;
/** bigint in the i64 range, stored in the signed view. */
const T_I64 = 2;
/** bigint above the i64 range (≤ 2^64−1), stored in the unsigned view. */
const T_U64 = 3;

/** A growable column of 64-bit slots seen as float64, int64 and uint64, plus a tag per slot. */
class ValueColumn {
  tag = new Uint8Array(64);
  num = new Float64Array(64);
  i64 = new BigInt64Array(this.num.buffer);
  u64 = new BigUint64Array(this.num.buffer);
  length = 0;

  push(v: number | bigint | null, what: string): void {
    if (this.length === this.tag.length) this.#grow();
    const i = this.length++;
    if (typeof v === 'number') {
      this.tag[i] = T_NUMBER;
      this.num[i] = v;
    } else if (typeof v === 'bigint') {
      if (v >= I64_MIN && v <= I64_MAX) {
        this.tag[i] = T_I64;
        this.i64[i] = v;
      } else if (v > I64_MAX && v <= U64_MAX) {
        this.tag[i] = T_U64;
        this.u64[i] = v;
      } else {
        this.length--;
        throw new RangeError(`witness ${what} bigint ${v} does not fit in 64 bits`);
      }
    } else if (v === null) {
      this.tag[i] = T_NULL;
    } else {
      this.length--;
      throw new TypeError(`witness ${what} must be a number or bigint, got ${typeof v}`);
    }
  }

  get(i: number): number | bigint | null {
    switch (this.tag[i]) {
      case T_NUMBER:
        return this.num[i];
      case T_I64:
        return this.i64[i];
      case T_U64:
        return this.u64[i];
      default:
        return null;
    }
  }

  write(w: MessagePackWriter, i: number): void {
    switch (this.tag[i]) {
      case T_NUMBER:
        w.number(this.num[i]);
        break;
      case T_I64:
        w.bigint(this.i64[i]);
        break;
      case T_U64:
        w.bigint(this.u64[i]);
        break;
      default:
        w.byte(0xc0);
    }
  }

  #grow(): void {
    const n = this.tag.length * 2;
    const tag = new Uint8Array(n);
    tag.set(this.tag);
    const num = new Float64Array(n);
    num.set(this.num);
    this.tag = tag;
    this.num = num;
    this.i64 = new BigInt64Array(num.buffer);
    this.u64 = new BigUint64Array(num.buffer);
  }
}

function grownU32(a: Uint32Array<ArrayBuffer>, need: number): Uint32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const b = new Uint32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Append-only list of host calls.
 *
 * @example
 * ```ts
 * const log = new WitnessLog();
 * log.append({ name: 'wasi_snapshot_preview1.random_get', args: [1024, 8], result: 0,
 *              writes: [{ ptr: 1024, bytes: memory.subarray(1024, 1032) }], fuel: 1234n });
 * const { root } = log.finalize();
 * ```
 */
export class WitnessLog {
  #n = 0;
  // Per entry.
  #nameId = new Uint32Array(64);
  #fuel = new BigUint64Array(64);
  /** Args of entry i are slots argStart[i] .. argStart[i+1] of #args. */
  #argStart = new Uint32Array(65);
  /** Writes of entry i are writeStart[i] .. writeStart[i+1] of the write columns. */
  #writeStart = new Uint32Array(65);
  readonly #args = new ValueColumn();
  readonly #result = new ValueColumn();
  readonly #data = new Map<number, Uint8Array>();
  // Per write.
  #wPtr = new Uint32Array(64);
  #wArena = new Uint32Array(64);
  #wOff = new Uint32Array(64);
  #wLen = new Uint32Array(64);
  #nWrites = 0;
  // Names are interned: a module imports a handful of functions.
  readonly #names: string[] = [];
  readonly #nameIds = new Map<string, number>();
  // Written bytes: arena k is #arenas[k]; a big write is an arena of its own.
  readonly #arenas: Uint8Array[] = [new Uint8Array(ARENA_BYTES)];
  #arena = this.#arenas[0];
  #arenaId = 0;
  #arenaPos = 0;
  /** Entry objects built so far by entries()/entry(), by index. */
  readonly #objects: WitnessEntry[] = [];

  /**
   * Records one host call. Write bytes are copied (they usually view guest memory, which the guest
   * keeps changing); `data` is kept as given, so the caller hands it over and must not mutate it.
   *
   * @param e - the call without its index.
   * @returns the new entry's index.
   * @throws {TypeError|RangeError} if a value has an impossible type or range (a host bug); the log
   *   is unchanged then.
   */
  append(e: Omit<WitnessEntry, 'index'>): number {
    const i = this.#n;
    const fuel = e.fuel;
    if (typeof fuel !== 'bigint' || fuel < 0n || fuel > U64_MAX) throw new RangeError(`witness entry fuel must be a u64 bigint, got ${String(fuel)}`);
    const writes = e.writes;
    for (let k = 0; k < writes.length; k++) {
      const w = writes[k];
      if (w.ptr >>> 0 !== w.ptr) throw new RangeError(`witness write ptr must be a u32, got ${String(w.ptr)}`);
      if (!(w.bytes instanceof Uint8Array)) throw new TypeError('witness write bytes must be a Uint8Array');
    }
    if (e.data !== undefined && !(e.data instanceof Uint8Array)) throw new TypeError('witness entry data must be a Uint8Array');
    let nameId = this.#nameIds.get(e.name);
    if (nameId === undefined) {
      if (typeof e.name !== 'string') throw new TypeError(`witness entry name must be a string, got ${typeof e.name}`);
      nameId = this.#names.length;
      this.#names.push(e.name);
      this.#nameIds.set(e.name, nameId);
    }
    // Values last among the checks: a bad one rolls back only the columns it touched.
    const args = e.args;
    const argBase = this.#args.length;
    try {
      for (let k = 0; k < args.length; k++) this.#args.push(args[k], 'argument');
      this.#result.push(e.result, 'result');
    } catch (err) {
      this.#args.length = argBase;
      throw err;
    }

    if (i === this.#nameId.length) this.#growEntries();
    this.#nameId[i] = nameId;
    this.#fuel[i] = fuel;
    this.#argStart[i + 1] = this.#args.length;
    for (let k = 0; k < writes.length; k++) this.#pushWrite(writes[k]);
    this.#writeStart[i + 1] = this.#nWrites;
    if (e.data !== undefined) this.#data.set(i, e.data);
    this.#n = i + 1;
    return i;
  }

  /** Number of entries. */
  get length(): number {
    return this.#n;
  }

  /**
   * The entry at `i`, built from the columns (write bytes view the log's own copy).
   *
   * @param i - 0 ≤ i < length.
   * @returns the entry (do not mutate).
   * @throws {RangeError} if out of range.
   */
  entry(i: number): WitnessEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.#n) throw new RangeError(`witness entry index must be in [0, ${this.#n}), got ${i}`);
    let e = this.#objects[i];
    if (e === undefined) {
      e = this.#build(i);
      this.#objects[i] = e;
    }
    return e;
  }

  /**
   * All entries, in order, as objects (built on first request and kept).
   *
   * @returns a fresh array of the log's entry objects.
   */
  entries(): readonly WitnessEntry[] {
    const out = new Array<WitnessEntry>(this.#n);
    for (let i = 0; i < this.#n; i++) out[i] = this.entry(i);
    return out;
  }

  /**
   * Encodes every entry, hashes the leaves and builds the Merkle root, straight from the columns.
   * Can be called again after more appends; it always covers the whole log.
   *
   * @returns root and leaf hashes (views into one slab).
   */
  finalize(): WitnessCommitment {
    const n = this.#n;
    const w = new MessagePackWriter();
    const slab = new Uint8Array(n * HASH_BYTES);
    const args = this.#args;
    const result = this.#result;
    for (let i = 0; i < n; i++) {
      // Same bytes as EntryEncoder.encode(entry(i), true): 0x00 leaf prefix, then the tuple.
      w.reset();
      w.ensure(3);
      w.buf[w.pos++] = 0x00;
      w.buf[w.pos++] = 0x90 | FIELDS;
      w.buf[w.pos++] = WITNESS_ENTRY_VERSION;
      w.number(i);
      w.string(this.#names[this.#nameId[i]]);
      const a0 = this.#argStart[i];
      const a1 = this.#argStart[i + 1];
      w.arrayHeader(a1 - a0);
      for (let k = a0; k < a1; k++) args.write(w, k);
      result.write(w, i);
      const w0 = this.#writeStart[i];
      const w1 = this.#writeStart[i + 1];
      w.arrayHeader(w1 - w0);
      for (let k = w0; k < w1; k++) {
        w.byte(0x92);
        w.number(this.#wPtr[k]);
        const off = this.#wOff[k];
        w.bin(this.#arenas[this.#wArena[k]].subarray(off, off + this.#wLen[k]));
      }
      w.bigint(this.#fuel[i]);
      const data = this.#data.get(i);
      if (data === undefined) w.byte(0xc0);
      else w.bin(data);
      blake3Into(w.view(), slab, i * HASH_BYTES);
    }
    const leaves = new Array<Uint8Array>(n);
    for (let i = 0; i < n; i++) leaves[i] = slab.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
    return { root: merkleRootOfSlab(slab.slice(), n), leaves };
  }

  #pushWrite(w: MemoryWrite): void {
    const k = this.#nWrites;
    if (k === this.#wPtr.length) {
      this.#wPtr = grownU32(this.#wPtr, k + 1);
      this.#wArena = grownU32(this.#wArena, k + 1);
      this.#wOff = grownU32(this.#wOff, k + 1);
      this.#wLen = grownU32(this.#wLen, k + 1);
    }
    const b = w.bytes;
    const n = b.length;
    this.#wPtr[k] = w.ptr;
    this.#wLen[k] = n;
    if (n > BIG_WRITE) {
      this.#wArena[k] = this.#arenas.length;
      this.#wOff[k] = 0;
      this.#arenas.push(b.slice());
    } else {
      if (this.#arenaPos + n > ARENA_BYTES) {
        this.#arena = new Uint8Array(ARENA_BYTES);
        this.#arenaId = this.#arenas.length;
        this.#arenas.push(this.#arena);
        this.#arenaPos = 0;
      }
      const arena = this.#arena;
      const pos = this.#arenaPos;
      if (n <= 16) for (let j = 0; j < n; j++) arena[pos + j] = b[j];
      else arena.set(b, pos);
      this.#wArena[k] = this.#arenaId;
      this.#wOff[k] = pos;
      this.#arenaPos = pos + n;
    }
    this.#nWrites = k + 1;
  }

  #growEntries(): void {
    const n = this.#nameId.length * 2;
    this.#nameId = grownU32(this.#nameId, n);
    const fuel = new BigUint64Array(n);
    fuel.set(this.#fuel);
    this.#fuel = fuel;
    this.#argStart = grownU32(this.#argStart, n + 1);
    this.#writeStart = grownU32(this.#writeStart, n + 1);
  }

  #build(i: number): WitnessEntry {
    const a0 = this.#argStart[i];
    const a1 = this.#argStart[i + 1];
    const args = new Array<number | bigint>(a1 - a0);
    for (let k = a0; k < a1; k++) args[k - a0] = this.#args.get(k) as number | bigint;
    const w0 = this.#writeStart[i];
    const w1 = this.#writeStart[i + 1];
    const writes = new Array<MemoryWrite>(w1 - w0);
    for (let k = w0; k < w1; k++) {
      const off = this.#wOff[k];
      writes[k - w0] = { ptr: this.#wPtr[k], bytes: this.#arenas[this.#wArena[k]].subarray(off, off + this.#wLen[k]) };
    }
    const e: WitnessEntry = { index: i, name: this.#names[this.#nameId[i]], args, result: this.#result.get(i), writes, fuel: this.#fuel[i] };
    const data = this.#data.get(i);
    if (data !== undefined) e.data = data;
    return e;
  }
}

/**
 * Leaf hashes and Merkle root of a list of entries, as {@link WitnessLog.finalize} computes them;
 * used to re-check a witness read from a bundle.
 *
 * @param entries - entries in log order; entry `i` must carry `index === i`.
 * @returns root and leaf hashes.
 * @throws {RangeError} if an entry's index is not its position.
 * @example
 * ```ts
 * bytesEqual(commitEntries(bundle.witness).root, storedRoot);
 * ```
 */
export function commitEntries(entries: readonly WitnessEntry[]): WitnessCommitment {
  const n = entries.length;
  const encoder = new EntryEncoder();
  const slab = new Uint8Array(n * HASH_BYTES);
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    if (e.index !== i) throw new RangeError(`witness entry at position ${i} carries index ${e.index}`);
    // The encoder reserves the 0x00 leaf prefix, so this is H(0x00 ‖ encodeEntry(e)) with no copy.
    blake3Into(encoder.encode(e, true), slab, i * HASH_BYTES);
  }
  const leaves = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) leaves[i] = slab.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  return { root: merkleRootOfSlab(slab.slice(), n), leaves };
}

/**
 * The append-only witness of one run.
 *
 * Host functions append in the guest's hot loop (a million `random_get` calls is an ordinary
 * run), so an append must allocate nothing that outlives the call and touch as little fresh memory
 * as it can: on the project's machine first-touching a fresh page costs ~0.5 ns per byte, which
 * for the earlier typed-array columns (≈70 bytes per entry, copied again at every doubling) was
 * the largest part of recording a call (bench/RESULTS.md, "Witness").
 *
 * So each entry is stored as the bytes that end its canonical encoding: the MessagePack of
 * `args, result, writes, fuel` exactly as encoding.ts lays them out (≈31 bytes for a
 * `random_get(ptr, 8)`), in byte chunks that are never copied. A record is
 * `[body length][name id][those bytes]`, where the length and the id take one byte each when
 * small (else 0xff and a big-endian u32), and lies whole inside one chunk. {@link WitnessLog.finalize} then only adds the
 * leading fields (version, index, name) and the trailing `data` field around those bytes and
 * hashes; {@link WitnessLog.entry} decodes them into an entry object on demand.
 *
 * @module
 */
import { blake3Into, HASH_BYTES } from '../hash.ts';
import { blake3LeafWords, blake3PaddedScratch, LITTLE_ENDIAN } from '../blake3-small.ts';
import type { MemoryWrite, WitnessEntry } from './entry.ts';
import { checkValue, EntryEncoder, FIELDS, witnessPackr, WITNESS_ENTRY_VERSION } from './encoding.ts';
import { merkleRootOfLeafSlab } from './merkle.ts';
import { putArrayHeader, putBigint, putBin, putNumber, putNumberDv, putU32BE } from './msgpack-put.ts';

/** The committed form of a log: leaf hashes H(0x00 ‖ encodeEntry(e)) and their RFC 9162 root. */
export interface WitnessCommitment {
  /** 32-byte Merkle root; H("") for an empty log. */
  root: Uint8Array;
  /**
   * One 32-byte leaf hash per entry, in order; input to `inclusionProof`. Built on first access:
   * a run needs only the root, and a million retained views would cost more than their hashes.
   */
  readonly leaves: Uint8Array[];
}

/** The commitment over a slab of `n` leaf hashes (kept, not copied). */
function commitment(slab: Uint8Array, n: number): WitnessCommitment {
  let leaves: Uint8Array[] | undefined;
  return {
    root: merkleRootOfLeafSlab(slab, n),
    get leaves(): Uint8Array[] {
      if (leaves === undefined) {
        leaves = new Array<Uint8Array>(n);
        for (let i = 0; i < n; i++) leaves[i] = slab.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
      }
      return leaves;
    },
  };
}

/** Chunks start small (most runs make a few calls) and double up to this size. */
const MAX_CHUNK = 1 << 20;
const FIRST_CHUNK = 4096;
const U64_MAX = (1n << 64n) - 1n;
/** Name ids below this take one byte in a record; others 0xff then a u32. */
const NAME_ESCAPE = 0xff;
/** Bytes of the leaf input before the index: leaf prefix 0x00, fixarray of FIELDS, version. */
const LEAF_HEAD = Uint8Array.of(0x00, 0x90 | FIELDS, WITNESS_ENTRY_VERSION);

/** Reads back the MessagePack subset the writers above produce (our own bytes: not checked). */
class RecordReader {
  b: Uint8Array = new Uint8Array(0);
  p = 0;
  readonly #dv8 = new DataView(new ArrayBuffer(8));

  u8(): number {
    return this.b[this.p++];
  }

  be(n: number): number {
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 256 + this.b[this.p++];
    return v;
  }

  #eight(): DataView {
    for (let k = 0; k < 8; k++) this.#dv8.setUint8(k, this.b[this.p++]);
    return this.#dv8;
  }

  value(): number | bigint | null {
    const t = this.u8();
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    switch (t) {
      case 0xc0:
        return null;
      case 0xcc:
        return this.be(1);
      case 0xcd:
        return this.be(2);
      case 0xce:
        return this.be(4);
      case 0xd0:
        return (this.be(1) << 24) >> 24;
      case 0xd1:
        return (this.be(2) << 16) >> 16;
      case 0xd2:
        return this.be(4) | 0;
      case 0xcb:
        return this.#eight().getFloat64(0);
      case 0xd3:
        return this.#eight().getBigInt64(0);
      case 0xcf:
        return this.#eight().getBigUint64(0);
      default:
        throw new Error(`witness log: unexpected MessagePack byte 0x${t.toString(16)} in a record (a log bug)`);
    }
  }

  arrayHeader(): number {
    const t = this.u8();
    if (t < 0xa0) return t & 0x0f;
    return t === 0xdc ? this.be(2) : this.be(4);
  }

  bin(): Uint8Array {
    const t = this.u8();
    const n = t === 0xc4 ? this.be(1) : t === 0xc5 ? this.be(2) : this.be(4);
    const out = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return out;
  }
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
  /** Records back to back; chunk k holds bytes 0 .. used[k] (the last chunk: up to #pos). */
  readonly #chunks: Uint8Array[] = [];
  readonly #used: number[] = [];
  #chunk = new Uint8Array(0);
  #dv = new DataView(this.#chunk.buffer);
  #pos = 0;
  /** Where entry i's record starts, for entry(i): chunk and offset, filled in on demand. */
  readonly #ixChunk: number[] = [];
  readonly #ixPos: number[] = [];
  readonly #data = new Map<number, Uint8Array>();
  /**
   * Arguments and result of entries holding a −0: MessagePack writes −0 as the integer 0, and
   * entry() must return exactly what was appended. Rare, so kept aside.
   */
  readonly #negZero = new Map<number, { args: (number | bigint)[]; result: number | bigint | null }>();
  // Names are interned: a module imports a handful of functions.
  readonly #names: string[] = [];
  readonly #nameIds = new Map<string, number>();
  /** MessagePack of each name (msgpackr's own string rules), for finalize. */
  readonly #nameBytes: Uint8Array[] = [];
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
    const fuel = e.fuel;
    if (typeof fuel !== 'bigint' || fuel < 0n || fuel > U64_MAX) throw new RangeError(`witness entry fuel must be a u64 bigint, got ${String(fuel)}`);
    const writes = e.writes;
    for (let k = 0; k < writes.length; k++) if (!(writes[k].bytes instanceof Uint8Array)) throw new TypeError('witness write bytes must be a Uint8Array');
    if (e.data !== undefined && !(e.data instanceof Uint8Array)) throw new TypeError('witness entry data must be a Uint8Array');
    const nameId = this.intern(e.name);
    const args = e.args;
    return this.appendCall(nameId, args, args.length, e.result, Number(fuel & 0xffff_ffffn), Number(fuel >> 32n), e.writes, e.data);
  }

  /**
   * The id of an import name for {@link WitnessLog.appendCall}; the same name always gets the same id.
   *
   * @param name - `module.field` of the import.
   * @returns its id in this log.
   * @throws {TypeError} if `name` is not a string.
   */
  intern(name: string): number {
    let id = this.#nameIds.get(name);
    if (id === undefined) {
      if (typeof name !== 'string') throw new TypeError(`witness entry name must be a string, got ${typeof name}`);
      id = this.#names.length;
      this.#names.push(name);
      this.#nameIds.set(name, id);
      this.#nameBytes.push(witnessPackr.pack(name).slice());
    }
    return id;
  }

  /**
   * {@link WitnessLog.append} for the host-call hot path: the name comes pre-interned and the fuel
   * as two u32 halves, so no BigInt and no entry object are needed. Stores the same entry, with
   * the same encoding, as `append` of the equivalent entry object.
   *
   * @param nameId - from {@link WitnessLog.intern} on this log.
   * @param args - the arguments; the first `arity` are recorded.
   * @param arity - number of arguments.
   * @param result - the value returned to the guest, or null.
   * @param fuelLo - low 32 bits of the fuel used, a u32.
   * @param fuelHi - high 32 bits of the fuel used, a u32.
   * @param writes - bytes written into guest memory (copied); each `bytes` must be a Uint8Array.
   * @param data - payload kept as given, or undefined.
   * @returns the new entry's index.
   * @throws {TypeError|RangeError} as {@link WitnessLog.append} for values of the wrong type or
   *   range (write bytes and data are trusted to be Uint8Arrays); the log is unchanged then.
   */
  appendCall(nameId: number, args: readonly (number | bigint)[], arity: number, result: number | bigint | null, fuelLo: number, fuelHi: number, writes: readonly MemoryWrite[], data: Uint8Array | undefined): number {
    if (!(nameId >>> 0 === nameId && nameId < this.#names.length)) throw new RangeError(`witness name id ${nameId} was not interned in this log`);
    if (fuelLo >>> 0 !== fuelLo || fuelHi >>> 0 !== fuelHi) throw new RangeError(`witness entry fuel words must be u32s, got ${fuelLo}, ${fuelHi}`);
    // Upper bound of the body: name id, args, result, writes, fuel.
    let need = 5 + 5 + 9 * arity + 9 + 5 + 9;
    const nw = writes.length;
    for (let k = 0; k < nw; k++) {
      const w = writes[k];
      if (w.ptr >>> 0 !== w.ptr) throw new RangeError(`witness write ptr must be a u32, got ${String(w.ptr)}`);
      need += 11 + w.bytes.length;
    }
    // Bytes past #pos are not part of the log until #pos moves at the end, so a value that fails
    // its check below leaves the log as it was.
    const i = this.#n;
    const shortLen = need < NAME_ESCAPE;
    if (this.#pos + need + 5 > this.#chunk.length) this.#newChunk(need + 5);
    const b = this.#chunk;
    const dv = this.#dv;
    const lenAt = this.#pos;
    let p = lenAt + (shortLen ? 1 : 5);
    if (nameId < NAME_ESCAPE) b[p++] = nameId;
    else {
      b[p++] = NAME_ESCAPE;
      putU32BE(b, p, nameId);
      p += 4;
    }
    let negZero = false;
    p = putArrayHeader(b, p, arity);
    for (let k = 0; k < arity; k++) {
      const v = args[k];
      if (typeof v === 'number') {
        p = putNumberDv(b, dv, p, v);
        if (v === 0 && Object.is(v, -0)) negZero = true;
      } else {
        checkValue(v, 'argument');
        p = putBigint(b, p, v);
      }
    }
    if (result === null) b[p++] = 0xc0;
    else if (typeof result === 'number') {
      p = putNumberDv(b, dv, p, result);
      if (result === 0 && Object.is(result, -0)) negZero = true;
    } else {
      checkValue(result, 'result');
      p = putBigint(b, p, result);
    }
    p = putArrayHeader(b, p, nw);
    for (let k = 0; k < nw; k++) {
      const w = writes[k];
      b[p++] = 0x92;
      p = putNumberDv(b, dv, p, w.ptr);
      const bytes = w.bytes;
      const n = bytes.length;
      // Most writes are a few bytes (random_get, a struct, an errno-sized result): bin8 and a loop.
      if (n <= 32) {
        dv.setUint16(p, 0xc400 | n);
        p += 2;
        for (let j = 0; j < n; j++) b[p + j] = bytes[j];
        p += n;
      } else p = putBin(b, p, bytes);
    }
    // Fuel: always 9 bytes, uint64 only above the i64 range (as msgpackr writes a bigint).
    b[p] = fuelHi > 0x7fff_ffff ? 0xcf : 0xd3;
    dv.setUint32(p + 1, fuelHi);
    dv.setUint32(p + 5, fuelLo);
    p += 9;

    if (shortLen) b[lenAt] = p - lenAt - 1;
    else {
      b[lenAt] = NAME_ESCAPE;
      putU32BE(b, lenAt + 1, p - lenAt - 5);
    }
    this.#pos = p;
    if (data !== undefined) this.#data.set(i, data);
    if (negZero) this.#negZero.set(i, { args: args.slice(0, arity), result });
    this.#n = i + 1;
    return i;
  }

  /** Opens a chunk for a record of up to `need` bytes. */
  #newChunk(need: number): void {
    const last = this.#chunk.length;
    const chunk = new Uint8Array(Math.max(need, last === 0 ? FIRST_CHUNK : Math.min(last * 2, MAX_CHUNK)));
    const k = this.#chunks.length;
    // A chunk opened for an append whose value check then failed holds nothing: replace it, so no
    // chunk is ever empty.
    if (k > 0 && this.#pos === 0) this.#chunks[k - 1] = chunk;
    else {
      if (k > 0) this.#used[k - 1] = this.#pos;
      this.#chunks.push(chunk);
      this.#used.push(0);
    }
    this.#chunk = chunk;
    this.#dv = new DataView(chunk.buffer);
    this.#pos = 0;
  }

  /** Bytes used in chunk k. */
  #usedOf(k: number): number {
    return k === this.#chunks.length - 1 ? this.#pos : this.#used[k];
  }

  /** Number of entries. */
  get length(): number {
    return this.#n;
  }

  /**
   * The entry at `i`, decoded from the log (write bytes view the log's own copy).
   *
   * @param i - 0 ≤ i < length.
   * @returns the entry (do not mutate).
   * @throws {RangeError} if out of range.
   */
  entry(i: number): WitnessEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.#n) throw new RangeError(`witness entry index must be in [0, ${this.#n}), got ${i}`);
    let e = this.#objects[i];
    if (e === undefined) {
      this.#locate(i);
      e = this.#build(i, this.#chunks[this.#ixChunk[i]], this.#ixPos[i]);
      this.#objects[i] = e;
    }
    return e;
  }

  /** Extends the record index (#ixChunk, #ixPos) to cover entry i. */
  #locate(i: number): void {
    const ixc = this.#ixChunk;
    const ixp = this.#ixPos;
    let k = ixc.length;
    if (k > i) return;
    let c = 0;
    let q = 0;
    if (k > 0) {
      c = ixc[k - 1];
      q = recordEnd(this.#chunks[c], ixp[k - 1]);
    }
    for (; k <= i; k++) {
      if (q >= this.#usedOf(c)) {
        c++;
        q = 0;
      }
      ixc.push(c);
      ixp.push(q);
      q = recordEnd(this.#chunks[c], q);
    }
  }

  /**
   * All entries, in order, as objects (built on first request and kept).
   *
   * @returns a fresh array of the log's entry objects.
   */
  entries(): readonly WitnessEntry[] {
    const n = this.#n;
    const out = new Array<WitnessEntry>(n);
    let c = 0;
    let q = 0;
    for (let i = 0; i < n; i++) {
      if (q >= this.#usedOf(c)) {
        c++;
        q = 0;
      }
      const chunk = this.#chunks[c];
      let e = this.#objects[i];
      if (e === undefined) {
        e = this.#build(i, chunk, q);
        this.#objects[i] = e;
      }
      out[i] = e;
      q = recordEnd(chunk, q);
    }
    return out;
  }

  /**
   * Hashes every entry's canonical encoding as a leaf and builds the Merkle root. The stored bytes
   * are already most of each encoding: only version, index, name and data are added around them.
   * Can be called again after more appends; it always covers the whole log.
   *
   * @returns root and leaf hashes (views into one slab, made on first access).
   */
  finalize(): WitnessCommitment {
    const n = this.#n;
    const slab = new Uint8Array(n * HASH_BYTES);
    const slabWords = LITTLE_ENDIAN ? new Uint32Array(slab.buffer) : null;
    let scratch = blake3PaddedScratch(1024);
    let sb = scratch.bytes;
    sb.set(LEAF_HEAD, 0);
    const names = this.#nameBytes;
    const data = this.#data;
    const hasData = data.size > 0;
    let c = 0;
    let chunk = this.#chunks[0];
    let used = n === 0 ? 0 : this.#usedOf(0);
    let q = 0;
    for (let i = 0; i < n; i++) {
      if (q >= used) {
        c++;
        chunk = this.#chunks[c];
        used = this.#usedOf(c);
        q = 0;
      }
      let len = chunk[q++];
      if (len === NAME_ESCAPE) {
        len = readU32BE(chunk, q);
        q += 4;
      }
      const end = q + len;
      let nameId = chunk[q++];
      if (nameId === NAME_ESCAPE) {
        nameId = readU32BE(chunk, q);
        q += 4;
      }
      const name = names[nameId];
      const d = hasData ? data.get(i) : undefined;
      const need = LEAF_HEAD.length + 5 + name.length + (end - q) + (d === undefined ? 1 : 5 + d.length);
      if (need > sb.length) {
        scratch = blake3PaddedScratch(need);
        sb = scratch.bytes;
        sb.set(LEAF_HEAD, 0);
      }
      let p = putNumber(sb, LEAF_HEAD.length, i);
      const nl = name.length;
      for (let k = 0; k < nl; k++) sb[p + k] = name[k];
      p += nl;
      // The rest is a few dozen bytes for most calls: a loop beats subarray().set() there.
      if (end - q <= 64) for (; q < end; q++) sb[p++] = chunk[q];
      else {
        sb.set(chunk.subarray(q, end), p);
        p += end - q;
        q = end;
      }
      if (d === undefined) sb[p++] = 0xc0;
      else p = putBin(sb, p, d);
      if (slabWords !== null && p <= 1024) blake3LeafWords(scratch.words, p, slabWords, i * 8);
      else blake3Into(sb.subarray(0, p), slab, i * HASH_BYTES);
    }
    return commitment(slab, n);
  }

  /** Entry i from its record at `start` in `chunk`. */
  #build(i: number, chunk: Uint8Array, start: number): WitnessEntry {
    const r = reader;
    r.b = chunk;
    r.p = start;
    if (r.u8() === NAME_ESCAPE) r.be(4); // body length
    let nameId = r.u8();
    if (nameId === NAME_ESCAPE) nameId = r.be(4);
    const na = r.arrayHeader();
    let args = new Array<number | bigint>(na);
    for (let k = 0; k < na; k++) args[k] = r.value() as number | bigint;
    let result = r.value();
    const nw = r.arrayHeader();
    const writes = new Array<MemoryWrite>(nw);
    for (let k = 0; k < nw; k++) {
      r.u8(); // 0x92
      const ptr = r.value() as number;
      writes[k] = { ptr, bytes: r.bin() };
    }
    const fuel = r.value() as bigint;
    const exact = this.#negZero.get(i);
    if (exact !== undefined) {
      args = exact.args;
      result = exact.result;
    }
    const e: WitnessEntry = { index: i, name: this.#names[nameId], args, result, writes, fuel };
    const data = this.#data.get(i);
    if (data !== undefined) e.data = data;
    return e;
  }
}

function readU32BE(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** Where the record starting at `q` in `chunk` ends. */
function recordEnd(chunk: Uint8Array, q: number): number {
  const len = chunk[q];
  return len === NAME_ESCAPE ? q + 5 + readU32BE(chunk, q + 1) : q + 1 + len;
}

const reader = new RecordReader();

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
  return commitment(slab, n);
}

/**
 * The append-only witness of one run (spec: witness.md#H5).
 *
 * Host functions append in the guest's hot loop (a million `random_get` calls is an ordinary
 * run), so an append allocates nothing and stores raw 32-bit words: no MessagePack encoding, no
 * type dispatch beyond sorting values into four kinds. Encoding an entry costs as much again as
 * storing it, and most entries are only ever hashed, once, at the end; so the canonical encoding
 * (encoding.ts) is produced by {@link WitnessLog.finalize} as it hashes, and by
 * {@link WitnessLog.entry} on demand. Measured on a `random_get` loop: appending the encoded
 * form in JavaScript cost ~45 ns a call, these words ~15 ns (bench/RESULTS.md, "Witness").
 *
 * A record, in the words of an `Int32Array` chunk, lies whole in one chunk:
 *
 * | word | content                                                                  |
 * |------|--------------------------------------------------------------------------|
 * | 0    | words in the record                                                      |
 * | 1    | name id (bits 0–15), arity (16–23), result kind (24–27), KINDS flag (28) |
 * | 2    | number of writes                                                         |
 * | 3, 4 | fuel used: low, high u32                                                 |
 * | …    | if KINDS: ⌈arity/8⌉ words of argument kinds, 4 bits each; else all I32    |
 * | …    | each argument, then the result: I32 one word; F64, I64, U64 two (low, high) |
 * | …    | each write: ptr, length, the bytes (zero-padded to a word)               |
 *
 * `data` payloads (rare, e.g. an HTTP exchange) are kept aside by entry index.
 *
 * @module
 */
import { VALTYPE } from '../instrument/opcodes.ts';
import { blake3Into, HASH_BYTES } from '../hash.ts';
import { blake3LeafWords, blake3PaddedScratch, LITTLE_ENDIAN } from '../blake3-small.ts';
import type { MemoryWrite, WitnessEntry } from './entry.ts';
import {
  checkValue,
  encodeEntry,
  EntryEncoder,
  FIELDS,
  witnessPackr,
  WITNESS_ENTRY_VERSION,
  WITNESS_MAX_ARGS,
  WITNESS_MAX_NAMES,
} from './encoding.ts';
import { merkleRootOfLeafSlab } from './merkle.ts';
import { putArrayHeader, putBin, putBinHeader, putNumber, putU32BE } from './msgpack-put.ts';

/** Bytes counted for each entry's leaf hash, which finalize keeps for the whole log. */
const LEAF_BYTES = HASH_BYTES;

/** The committed form of a log: leaf hashes H(0x00 ‖ encodeEntry(e)) and their RFC 9162 root. */
export interface WitnessCommitment {
  /** 32-byte Merkle root; H("") for an empty log. */
  root: Uint8Array;
  /**
   * One 32-byte leaf hash per entry, in order; input to `inclusionProof`. Built on first access:
   * a run needs only the root, and a million retained views would cost more than their hashes.
   */
  readonly leaves: Uint8Array[];
  /**
   * With `finalize({ encode: true })`: every entry's canonical encoding back to back, the bytes
   * `encodeEntries(log.entries())` gives (and a bundle stores), without building entry objects.
   */
  encoded?: Uint8Array;
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

/** How one import's raw-word arguments are laid out (see {@link WitnessLog.rawShape}). */
export interface RawShape {
  readonly log: WitnessLog;
  /** Header word 1 without the result kind. */
  readonly head: number;
  /** No kind words: every argument is an i32. */
  readonly allI32: boolean;
  readonly kinds: Int32Array;
  readonly words: number;
  readonly start: number;
  /** Words of the record before its writes. */
  readonly fixed: number;
}

const WASM_I32 = VALTYPE.i32;
const WASM_I64 = VALTYPE.i64;

/** Value kinds of a record (4 bits each). */
export const KIND = { I32: 0, F64: 1, I64: 2, U64: 3, NULL: 4 } as const;
const HEADER_WORDS = 5;
const KINDS_FLAG = 1 << 28;
/** Names and arities a record can hold (decodeEntries rejects witnesses beyond them). */
const MAX_NAMES = WITNESS_MAX_NAMES;
const MAX_ARITY = WITNESS_MAX_ARGS;
/** Chunks start small (most runs make a few calls) and double up to this many words (1 MiB). */
const MAX_CHUNK_WORDS = 1 << 18;
const FIRST_CHUNK_WORDS = 1024;
/** Room reserved past a record's fixed part, so that a few small writes need no second check. */
const SMALL_WRITES_WORDS = 64;
/**
 * Full chunks given back by {@link WitnessLog.release}, for the next log in this thread. A fresh
 * chunk costs page faults as it is first written (bench/RESULTS.md, witness);
 * whether a freed one comes back already mapped depends on when the GC ran. At most 64 MiB.
 */
const chunkPool: Int32Array<ArrayBuffer>[] = [];
const CHUNK_POOL_MAX = 64;
const I64_MAX = (1n << 63n) - 1n;
/** Bytes of the leaf input before the index: leaf prefix 0x00, fixarray of FIELDS, version. */
const LEAF_HEAD = Uint8Array.of(0x00, 0x90 | FIELDS, WITNESS_ENTRY_VERSION);

// Splitting 64-bit values into two words (and back) through one 8-byte scratch.
const s64 = new ArrayBuffer(8);
const sF64 = new Float64Array(s64);
const sI64 = new BigInt64Array(s64);
const sU64 = new BigUint64Array(s64);
const sW = new Int32Array(s64);
// Word order of the scratch: which word holds the low half.
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;

/** The kind of a value, checking bigints fit 64 bits and everything else is a number. */
function kindOf(v: number | bigint | null, what: string): number {
  if (typeof v === 'number') return (v | 0) === v && !Object.is(v, -0) ? KIND.I32 : KIND.F64;
  if (v === null) return KIND.NULL;
  checkValue(v, what);
  return v > I64_MAX ? KIND.U64 : KIND.I64;
}

function valueWords(kind: number): number {
  return kind === KIND.I32 ? 1 : kind === KIND.NULL ? 0 : 2;
}

/** Stores `v` of `kind` at word `p`; returns the next word. */
function putValue(w: Int32Array, p: number, v: number | bigint | null, kind: number): number {
  switch (kind) {
    case KIND.I32:
      w[p] = v as number;
      return p + 1;
    case KIND.NULL:
      return p;
    case KIND.F64:
      sF64[0] = v as number;
      break;
    case KIND.I64:
      sI64[0] = v as bigint;
      break;
    default:
      sU64[0] = v as bigint;
  }
  w[p] = sW[LO];
  w[p + 1] = sW[HI];
  return p + 2;
}

/** Reads a value of `kind` at word `p` (callers advance by `valueWords(kind)`). */
function getValue(w: Int32Array, p: number, kind: number): number | bigint | null {
  switch (kind) {
    case KIND.I32:
      return w[p];
    case KIND.NULL:
      return null;
  }
  sW[LO] = w[p];
  sW[HI] = w[p + 1];
  return kind === KIND.F64 ? sF64[0] : kind === KIND.I64 ? sI64[0] : sU64[0];
}

/** Writes the value of `kind` at word `q` of `w` as MessagePack (as msgpackr writes the JS value). */
function encodeValue(b: Uint8Array, p: number, w: Int32Array, q: number, kind: number): number {
  switch (kind) {
    case KIND.I32:
      return putNumber(b, p, w[q]);
    case KIND.NULL:
      b[p] = 0xc0;
      return p + 1;
    case KIND.F64:
      sW[LO] = w[q];
      sW[HI] = w[q + 1];
      return putNumber(b, p, sF64[0]);
  }
  // int64 / uint64, big-endian: the form msgpackr gives every bigint.
  b[p] = kind === KIND.I64 ? 0xd3 : 0xcf;
  putU32BE(b, p + 1, w[q + 1] >>> 0);
  putU32BE(b, p + 5, w[q] >>> 0);
  return p + 9;
}

/** Kind of argument k, from the record's kinds words at `kindsAt` (or I32 when there are none). */
function argKind(w: Int32Array, kindsAt: number, k: number): number {
  return kindsAt < 0 ? KIND.I32 : (w[kindsAt + (k >> 3)] >>> ((k & 7) * 4)) & 0xf;
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
  /** Words of the chunks before the current one, and bytes of `data`: see storedBytes. */
  #closedWords = 0;
  #dataBytes = 0;
  /** Records back to back; chunk k holds words 0 .. used[k] (the last chunk: up to #pos). */
  readonly #chunks: Int32Array<ArrayBuffer>[] = [];
  readonly #used: number[] = [];
  #w = new Int32Array(0);
  #b = new Uint8Array(0);
  #pos = 0;
  /** Where entry i's record starts, for entry(i): chunk and word, filled in on demand. */
  readonly #ixChunk: number[] = [];
  readonly #ixPos: number[] = [];
  readonly #data = new Map<number, Uint8Array>();
  // Names are interned: a module imports a handful of functions.
  readonly #names: string[] = [];
  readonly #nameIds = new Map<string, number>();
  /** MessagePack of each name (msgpackr's own string rules), for finalize. */
  readonly #nameBytes: Uint8Array[] = [];
  /** Entry objects built so far by entries()/entry(), by index. */
  readonly #objects: WitnessEntry[] = [];
  /** Set by release(): the chunks belong to the pool now. */
  #released = false;
  /** Copies of chunks' bytes that entry objects view (see #copyOf). */
  readonly #copies: (Uint8Array | undefined)[] = [];
  /** Where the last record starts in the current chunk (see sameEntry). */
  #lastStart = 0;
  /** Sequential cursor for sameEntry (see #seek): entry index, chunk, word. */
  #curI = -1;
  #curC = 0;
  #curP = 0;
  /** The log sameEntry last compared with, and its ids for this log's names (see #peerName). */
  #peer: WitnessLog | undefined;
  readonly #peerIds: number[] = [];

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
    if (typeof fuel !== 'bigint' || fuel < 0n || fuel > (1n << 64n) - 1n)
      throw new RangeError(`witness entry fuel must be a u64 bigint, got ${String(fuel)}`);
    const writes = e.writes;
    for (let k = 0; k < writes.length; k++)
      if (!(writes[k].bytes instanceof Uint8Array)) throw new TypeError('witness write bytes must be a Uint8Array');
    if (e.data !== undefined && !(e.data instanceof Uint8Array))
      throw new TypeError('witness entry data must be a Uint8Array');
    const nameId = this.intern(e.name);
    const args = e.args;
    return this.appendCall(
      nameId,
      args,
      args.length,
      e.result,
      Number(fuel & 0xffff_ffffn),
      Number(fuel >> 32n),
      e.writes,
      e.data,
    );
  }

  /**
   * The id of an import name for {@link WitnessLog.appendCall}; the same name always gets the same id.
   *
   * @param name - `module.field` of the import.
   * @returns its id in this log.
   * @throws {TypeError} if `name` is not a string; {@link RangeError} past 65,536 names.
   */
  intern(name: string): number {
    let id = this.#nameIds.get(name);
    if (id === undefined) {
      if (typeof name !== 'string') throw new TypeError(`witness entry name must be a string, got ${typeof name}`);
      if (this.#names.length >= MAX_NAMES)
        throw new RangeError(`a witness log holds at most ${MAX_NAMES} import names`);
      id = this.#names.length;
      this.#names.push(name);
      this.#nameIds.set(name, id);
      this.#nameBytes.push(witnessPackr.pack(name).slice());
    }
    return id;
  }

  /**
   * {@link WitnessLog.append} for the host-call hot path: the name comes pre-interned and the fuel
   * as two u32 halves, so no BigInt and no entry object are needed. Stores the same entry as
   * `append` of the equivalent entry object.
   *
   * @param nameId - from {@link WitnessLog.intern} on this log.
   * @param args - the arguments; the first `arity` (≤ 255) are recorded.
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
  appendCall(
    nameId: number,
    args: readonly (number | bigint)[],
    arity: number,
    result: number | bigint | null,
    fuelLo: number,
    fuelHi: number,
    writes: readonly MemoryWrite[],
    data: Uint8Array | undefined,
  ): number {
    if (!(arity >>> 0 === arity && arity <= MAX_ARITY))
      throw new RangeError(`a witness entry holds at most ${MAX_ARITY} arguments, got ${arity}`);
    let allI32 = true;
    let argWords = 0;
    for (let k = 0; k < arity; k++) {
      const kind = kindOf(args[k], 'argument');
      if (kind !== KIND.I32) allI32 = false;
      argWords += valueWords(kind);
    }
    const kindWords = allI32 ? 0 : (arity + 7) >> 3;
    const resultKind = kindOf(result, 'result');
    let p = this.#open(nameId, arity, kindWords + argWords, resultKind, fuelLo, fuelHi, writes, kindWords !== 0);
    const w = this.#w;
    if (!allI32) {
      for (let j = 0; j < kindWords; j++) w[p + j] = 0;
      for (let k = 0; k < arity; k++) w[p + (k >> 3)] |= kindOf(args[k], 'argument') << ((k & 7) * 4);
      const kindsAt = p;
      p += kindWords;
      for (let k = 0; k < arity; k++) p = putValue(w, p, args[k], argKind(w, kindsAt, k));
    } else for (let k = 0; k < arity; k++) w[p++] = args[k] as number;
    return this.#close(p, result, resultKind, writes, data);
  }

  /**
   * The fixed part of the records of one import whose arguments arrive as raw words, as the
   * host-call trampolines leave them (host-functions/trampolines.ts): an i32 as one word and an
   * i64 as two (low, high), from word `start` of the source on. For {@link WitnessLog.appendRaw}.
   *
   * @param nameId - from {@link WitnessLog.intern} on this log.
   * @param params - the wasm types of the arguments: only i32 (0x7f) and i64 (0x7e), at most 255.
   * @param start - the word where the first argument lies in every source.
   * @throws {RangeError} for any other types or an unknown name id.
   */
  rawShape(nameId: number, params: readonly number[], start: number): RawShape {
    if (!(nameId >>> 0 === nameId && nameId < this.#names.length))
      throw new RangeError(`witness name id ${nameId} was not interned in this log`);
    const arity = params.length;
    if (arity > MAX_ARITY || params.some((t) => t !== WASM_I32 && t !== WASM_I64))
      throw new RangeError('raw witness arguments are at most 255 i32/i64 values');
    const allI32 = params.every((t) => t === WASM_I32);
    const kinds = new Int32Array(allI32 ? 0 : (arity + 7) >> 3);
    params.forEach((t, k) => {
      kinds[k >> 3] |= (t === WASM_I64 ? KIND.I64 : KIND.I32) << ((k & 7) * 4);
    });
    const words = params.reduce((n, t) => n + (t === WASM_I64 ? 2 : 1), 0);
    return Object.freeze({
      log: this,
      head: nameId | (arity << 16) | (allI32 ? 0 : KINDS_FLAG),
      allI32,
      kinds,
      words,
      start,
      fixed: HEADER_WORDS + kinds.length + words + 2,
    });
  }

  /**
   * {@link WitnessLog.appendCall} for a call whose arguments are raw words in `src` laid out as
   * `shape` says: stores the same entry as `appendCall` of the same values, without looking at
   * the arguments' types. A method of the log (not a closure per import) so that V8 keeps it
   * inlined from one run to the next.
   *
   * @throws {RangeError} as {@link WitnessLog.appendCall}, or if `shape` was made by another log.
   */
  appendRaw(
    shape: RawShape,
    src: Int32Array,
    result: number | bigint | null,
    fuelLo: number,
    fuelHi: number,
    writes: readonly MemoryWrite[],
    data: Uint8Array | undefined,
  ): number {
    if (shape.log !== this) throw new RangeError('a raw witness shape belongs to the log that made it');
    const resultKind =
      typeof result === 'number' && (result | 0) === result && !Object.is(result, -0)
        ? KIND.I32
        : kindOf(result, 'result');
    if (fuelLo >>> 0 !== fuelLo || fuelHi >>> 0 !== fuelHi)
      throw new RangeError(`witness entry fuel words must be u32s, got ${fuelLo}, ${fuelHi}`);
    // One pass: room for the fixed part now, for each write as it comes (#moveRecord).
    if (this.#pos + shape.fixed > this.#w.length) this.#newChunk(shape.fixed + SMALL_WRITES_WORDS);
    let w = this.#w;
    let s0 = this.#pos;
    w[s0 + 1] = shape.head | (resultKind << 24);
    const nw = writes.length;
    w[s0 + 2] = nw;
    w[s0 + 3] = fuelLo;
    w[s0 + 4] = fuelHi;
    let p = s0 + HEADER_WORDS;
    const words = shape.words;
    const start = shape.start;
    if (shape.allI32) {
      // The usual shape (every WASI call): no kind words, a few argument words.
      switch (words) {
        case 1:
          w[p] = src[start];
          break;
        case 2:
          w[p] = src[start];
          w[p + 1] = src[start + 1];
          break;
        case 3:
          w[p] = src[start];
          w[p + 1] = src[start + 1];
          w[p + 2] = src[start + 2];
          break;
        case 4:
          w[p] = src[start];
          w[p + 1] = src[start + 1];
          w[p + 2] = src[start + 2];
          w[p + 3] = src[start + 3];
          break;
        default:
          for (let j = 0; j < words; j++) w[p + j] = src[start + j];
      }
    } else {
      const kinds = shape.kinds;
      for (let j = 0; j < kinds.length; j++) w[p++] = kinds[j];
      for (let j = 0; j < words; j++) w[p + j] = src[start + j];
    }
    p += words;
    if (resultKind === KIND.I32) w[p++] = result as number;
    else p = putValue(w, p, result, resultKind);
    let b = this.#b;
    for (let k = 0; k < nw; k++) {
      const wr = writes[k];
      const ptr = wr.ptr;
      if (ptr >>> 0 !== ptr) throw new RangeError(`witness write ptr must be a u32, got ${String(ptr)}`);
      const bytes = wr.bytes;
      const n = bytes.length;
      const need = 2 + ((n + 3) >> 2);
      if (p + need > w.length) {
        p = this.#moveRecord(s0, p, need);
        s0 = 0;
        w = this.#w;
        b = this.#b;
      }
      p = putWrite(w, b, p, ptr, bytes);
    }
    return this.#commit(s0, p, data);
  }

  /**
   * Moves the record being written (words s0 .. p of the current chunk, not yet committed) to the
   * start of a new chunk with room for `more` words after it; returns its new end.
   */
  #moveRecord(s0: number, p: number, more: number): number {
    const old = this.#w;
    this.#newChunk(p - s0 + more + SMALL_WRITES_WORDS);
    this.#w.set(old.subarray(s0, p), 0);
    return p - s0;
  }

  /** Checks the fixed fields, makes room and writes the header; returns where the arguments go. */
  #open(
    nameId: number,
    arity: number,
    argWords: number,
    resultKind: number,
    fuelLo: number,
    fuelHi: number,
    writes: readonly MemoryWrite[],
    hasKinds: boolean,
  ): number {
    if (!(nameId >>> 0 === nameId && nameId < this.#names.length))
      throw new RangeError(`witness name id ${nameId} was not interned in this log`);
    if (fuelLo >>> 0 !== fuelLo || fuelHi >>> 0 !== fuelHi)
      throw new RangeError(`witness entry fuel words must be u32s, got ${fuelLo}, ${fuelHi}`);
    let need = HEADER_WORDS + argWords + 2;
    const nw = writes.length;
    for (let k = 0; k < nw; k++) {
      const wr = writes[k];
      if (wr.ptr >>> 0 !== wr.ptr) throw new RangeError(`witness write ptr must be a u32, got ${String(wr.ptr)}`);
      need += 2 + ((wr.bytes.length + 3) >> 2);
    }
    if (this.#pos + need > this.#w.length) this.#newChunk(need);
    const w = this.#w;
    const p = this.#pos;
    w[p + 1] = nameId | (arity << 16) | (resultKind << 24) | (hasKinds ? KINDS_FLAG : 0);
    w[p + 2] = nw;
    w[p + 3] = fuelLo;
    w[p + 4] = fuelHi;
    return p + HEADER_WORDS;
  }

  /** Writes the result and the writes after the arguments ending at word `p`, and commits. */
  #close(
    p: number,
    result: number | bigint | null,
    resultKind: number,
    writes: readonly MemoryWrite[],
    data: Uint8Array | undefined,
  ): number {
    return this.#closeWrites(this.#pos, putValue(this.#w, p, result, resultKind), writes, data);
  }

  /** Writes the writes from word `p` of the record starting at `start`, and commits it. */
  #closeWrites(start: number, p: number, writes: readonly MemoryWrite[], data: Uint8Array | undefined): number {
    const w = this.#w;
    const b = this.#b;
    const nw = writes.length;
    for (let k = 0; k < nw; k++) p = putWrite(w, b, p, writes[k].ptr, writes[k].bytes);
    return this.#commit(start, p, data);
  }

  /** Ends the record at words start .. p of the current chunk: it is now entry #n. */
  #commit(start: number, p: number, data: Uint8Array | undefined): number {
    this.#w[start] = p - start;
    this.#lastStart = start;
    this.#pos = p;
    const i = this.#n;
    if (data !== undefined) {
      this.#data.set(i, data);
      this.#dataBytes += data.length;
    }
    this.#n = i + 1;
    return i;
  }

  /**
   * What the entries so far hold in memory, as the witness budget counts it (spec/wasi.md#W9):
   * each record's words, its leaf hash and its `data`. A function of the entries alone, so the
   * same on every node and in replay.
   */
  get storedBytes(): number {
    // Kept from what the log tracks anyway (nothing added to an append): a chunk's used words are
    // exactly its committed records', since a record that moves to a new chunk was not committed.
    return (this.#closedWords + this.#pos) * 4 + this.#n * LEAF_BYTES + this.#dataBytes;
  }

  /** Opens a chunk for a record of up to `need` words. */
  #newChunk(need: number): void {
    const last = this.#w.length;
    if (this.#released) throw new Error('witness log: append after release() (a docklock bug)');
    const size = Math.max(need, last === 0 ? FIRST_CHUNK_WORDS : Math.min(last * 2, MAX_CHUNK_WORDS));
    // Pooled chunks are not cleared: a record is read only up to its own length, and every word
    // of it (write padding included) is written by its append.
    const chunk = (size === MAX_CHUNK_WORDS ? chunkPool.pop() : undefined) ?? new Int32Array(size);
    const k = this.#chunks.length;
    // A chunk opened for an append whose value check then failed holds nothing: replace it, so no
    // chunk is ever empty.
    if (k > 0 && this.#pos === 0) {
      giveBack([this.#chunks[k - 1]]);
      this.#chunks[k - 1] = chunk;
    } else {
      if (k > 0) {
        this.#used[k - 1] = this.#pos;
        this.#closedWords += this.#pos;
      }
      this.#chunks.push(chunk);
      this.#used.push(0);
    }
    this.#w = chunk;
    this.#b = new Uint8Array(chunk.buffer);
    this.#pos = 0;
  }

  /**
   * Gives the log's storage to the next log in this thread (see `chunkPool`). Entry objects already
   * built stay valid (they hold copies); the log can no longer be appended to or read, except
   * `entries()` if every entry was built before. Calling it again does nothing.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    giveBack(this.#chunks.splice(0));
    this.#used.length = 0;
    this.#w = new Int32Array(0);
    this.#b = new Uint8Array(0);
    this.#pos = 0;
  }

  #checkLive(): void {
    if (this.#released) throw new Error('witness log: read after release() (a docklock bug)');
  }

  /** Words used in chunk k. */
  #usedOf(k: number): number {
    return k === this.#chunks.length - 1 ? this.#pos : this.#used[k];
  }

  /** Number of entries. */
  get length(): number {
    return this.#n;
  }

  /**
   * The entry at `i`, decoded from the log (write bytes are copies).
   *
   * @param i - 0 ≤ i < length.
   * @returns the entry (do not mutate).
   * @throws {RangeError} if out of range.
   */
  entry(i: number): WitnessEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.#n)
      throw new RangeError(`witness entry index must be in [0, ${this.#n}), got ${i}`);
    let e = this.#objects[i];
    if (e === undefined) {
      this.#checkLive();
      this.#locate(i);
      const c = this.#ixChunk[i];
      // A chunk still being written would be copied again for every entry read from it.
      e = this.#build(i, this.#chunks[c], this.#ixPos[i], c < this.#chunks.length - 1 ? this.#copyOf(c) : null);
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
      q = ixp[k - 1] + this.#chunks[c][ixp[k - 1]];
    }
    for (; k <= i; k++) {
      if (q >= this.#usedOf(c)) {
        c++;
        q = 0;
      }
      ixc.push(c);
      ixp.push(q);
      q += this.#chunks[c][q];
    }
  }

  /**
   * The bytes of chunk c, copied once and kept for the entries that view them: one copy per chunk
   * costs far less than one small ArrayBuffer per write (bench/RESULTS.md, witness).
   */
  #copyOf(c: number): Uint8Array {
    const used = this.#usedOf(c) * 4;
    let copy = this.#copies[c];
    if (copy === undefined || copy.length < used) {
      copy = new Uint8Array(this.#chunks[c].buffer, 0, used).slice();
      this.#copies[c] = copy;
    }
    return copy;
  }

  /**
   * A log holding `entries` (as {@link WitnessLog.append} would build it), e.g. a witness read from
   * a bundle, for a replay to compare against.
   *
   * @throws {RangeError|TypeError} if an entry's index is not its position or a value is impossible.
   */
  static from(entries: readonly WitnessEntry[]): WitnessLog {
    const log = new WitnessLog();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.index !== i) throw new RangeError(`witness entry at position ${i} carries index ${e.index}`);
      log.append(e);
    }
    return log;
  }

  /**
   * Whether entry `i` of this log and of `other` have the same canonical encoding (so the same
   * leaf hash): same name, arguments, result, writes, fuel and data. Compares the stored words, so
   * a replay checks each call without building entry objects; only when they differ are the two
   * encodings compared (a −0 and a 0 are stored differently but encode alike). Sequential `i` is
   * O(1) each.
   *
   * @param i - an index below both logs' lengths.
   */
  sameEntry(i: number, other: WitnessLog): boolean {
    if (!(i >>> 0 === i && i < this.#n && i < other.#n))
      throw new RangeError(`witness entry index ${i} is not in both logs`);
    if (this.#released || other.#released) {
      this.#checkLive();
      other.#checkLive();
    }
    // A replay compares the entry it just appended: its record is the last one written.
    let a: Int32Array;
    let p: number;
    if (i === this.#n - 1) {
      a = this.#w;
      p = this.#lastStart;
    } else {
      this.#seek(i);
      a = this.#chunks[this.#curC];
      p = this.#curP;
    }
    other.#seek(i);
    const b = other.#chunks[other.#curC];
    const q = other.#curP;
    const len = a[p];
    const ha = a[p + 1];
    const hb = b[q + 1];
    let same =
      len === b[q] &&
      (ha & ~0xffff) === (hb & ~0xffff) &&
      (other === this.#peer && this.#peerIds[ha & 0xffff] === (hb & 0xffff)
        ? true
        : this.#peerName(ha & 0xffff, other) === (hb & 0xffff));
    for (let k = 2; k < len; k++) {
      if (a[p + k] !== b[q + k]) {
        same = false;
        break;
      }
    }
    if (same && (this.#data.size !== 0 || other.#data.size !== 0)) {
      const da = this.#data.get(i);
      const db = other.#data.get(i);
      same =
        da === undefined || db === undefined ? da === db : da.length === db.length && da.every((x, k) => x === db[k]);
    }
    if (same) return true;
    const ea = encodeEntry(this.entry(i));
    const eb = encodeEntry(other.entry(i));
    return ea.length === eb.length && ea.every((x, k) => x === eb[k]);
  }

  /** The id `other` gives this log's name `id` (−1 if it has none); cached per peer log. */
  #peerName(id: number, other: WitnessLog): number {
    if (this.#peer !== other) {
      this.#peer = other;
      this.#peerIds.length = 0;
    }
    let peer = this.#peerIds[id];
    if (peer === undefined) {
      peer = other.#nameIds.get(this.#names[id]) ?? -1;
      this.#peerIds[id] = peer;
    }
    return peer;
  }

  /**
   * Points the cursor (#curI, #curC, #curP) at entry i's record: O(1) for the same or the next
   * entry (a replay compares them in order), else through the record index.
   */
  #seek(i: number): void {
    if (i === this.#curI) return;
    if (i === this.#curI + 1 && this.#curI >= 0) {
      let c = this.#curC;
      let p = this.#curP + this.#chunks[c][this.#curP];
      if (p >= (c === this.#chunks.length - 1 ? this.#pos : this.#used[c])) {
        c++;
        p = 0;
      }
      this.#curC = c;
      this.#curP = p;
    } else if (i === 0) {
      this.#curC = 0;
      this.#curP = 0;
    } else {
      this.#locate(i);
      this.#curC = this.#ixChunk[i];
      this.#curP = this.#ixPos[i];
    }
    this.#curI = i;
  }

  /**
   * All entries, in order, as objects (built on first request and kept).
   *
   * @returns a fresh array of the log's entry objects.
   */
  entries(): readonly WitnessEntry[] {
    const n = this.#n;
    if (this.#released) {
      const built = this.#objects.slice(0, n);
      for (let i = 0; i < n; i++) if (built[i] === undefined) this.#checkLive();
      return built;
    }
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
        e = this.#build(i, chunk, q, this.#copyOf(c));
        this.#objects[i] = e;
      }
      out[i] = e;
      q += chunk[q];
    }
    return out;
  }

  /**
   * Encodes every entry canonically (encoding.ts), hashes it as a leaf and builds the Merkle root.
   * Can be called again after more appends; it always covers the whole log. `encode: true` also
   * returns the encodings (`encoded`).
   *
   * @returns root and leaf hashes (views into one slab, made on first access).
   */
  finalize(options: { encode?: boolean } = {}): WitnessCommitment {
    this.#checkLive();
    const n = this.#n;
    // The canonical entries back to back (what a bundle stores), copied from the leaf inputs.
    let enc = options.encode === true ? new Uint8Array(Math.max(64, n * 40)) : null;
    let encLen = 0;
    const slab = new Uint8Array(n * HASH_BYTES);
    const slabWords = LITTLE_ENDIAN ? new Uint32Array(slab.buffer) : null;
    let scratch = blake3PaddedScratch(1024);
    let sb = scratch.bytes;
    sb.set(LEAF_HEAD, 0);
    const names = this.#nameBytes;
    const data = this.#data;
    const hasData = data.size > 0;
    let c = 0;
    let w = this.#chunks[0];
    let b = n === 0 ? this.#b : new Uint8Array(w.buffer);
    let used = n === 0 ? 0 : this.#usedOf(0);
    let q = 0;
    for (let i = 0; i < n; i++) {
      if (q >= used) {
        c++;
        w = this.#chunks[c];
        b = new Uint8Array(w.buffer);
        used = this.#usedOf(c);
        q = 0;
      }
      const len = w[q];
      const head = w[q + 1];
      const name = names[head & 0xffff];
      const d = hasData ? data.get(i) : undefined;
      // A value word encodes to at most 5 bytes, a write's two words to 11, bytes to themselves:
      // never more than twice the record's bytes, plus the array headers.
      const need = LEAF_HEAD.length + 5 + name.length + 8 * len + 16 + (d === undefined ? 1 : 5 + d.length);
      if (need > sb.length) {
        scratch = blake3PaddedScratch(need);
        sb = scratch.bytes;
        sb.set(LEAF_HEAD, 0);
      }
      let p = putNumber(sb, LEAF_HEAD.length, i);
      const nl = name.length;
      for (let k = 0; k < nl; k++) sb[p + k] = name[k];
      p += nl;
      p = encodeTail(sb, p, w, b, q);
      if (d === undefined) sb[p++] = 0xc0;
      else p = putBin(sb, p, d);
      if (slabWords !== null && p <= 1024) blake3LeafWords(scratch.words, p, slabWords, i * 8);
      else blake3Into(sb.subarray(0, p), slab, i * HASH_BYTES);
      if (enc !== null) {
        if (encLen + p > enc.length) {
          const grown = new Uint8Array(Math.max(enc.length * 2, encLen + p));
          grown.set(enc.subarray(0, encLen));
          enc = grown;
        }
        // Without the leaf prefix byte.
        if (p <= 65) for (let k = 1; k < p; k++) enc[encLen++] = sb[k];
        else {
          enc.set(sb.subarray(1, p), encLen);
          encLen += p - 1;
        }
      }
      q += len;
    }
    const out = commitment(slab, n);
    if (enc !== null) out.encoded = enc.subarray(0, encLen);
    return out;
  }

  /**
   * Entry i from its record at word `start` of `w`. Write bytes are views of `copy` (a copy of the
   * chunk's bytes, see #copyOf), or their own copies when it is null.
   */
  #build(i: number, w: Int32Array, start: number, copy: Uint8Array | null): WitnessEntry {
    const head = w[start + 1];
    const arity = (head >>> 16) & 0xff;
    const resultKind = (head >>> 24) & 0xf;
    const nw = w[start + 2];
    let q = start + HEADER_WORDS;
    let kindsAt = -1;
    if ((head & KINDS_FLAG) !== 0) {
      kindsAt = q;
      q += (arity + 7) >> 3;
    }
    const args = new Array<number | bigint>(arity);
    for (let k = 0; k < arity; k++) {
      const kind = argKind(w, kindsAt, k);
      args[k] = getValue(w, q, kind) as number | bigint;
      q += valueWords(kind);
    }
    const result = getValue(w, q, resultKind);
    q += valueWords(resultKind);
    const writes = new Array<MemoryWrite>(nw);
    for (let k = 0; k < nw; k++) {
      const len = w[q + 1];
      const at = (q + 2) << 2;
      // Never a view of the chunk itself: the pool reuses it after release().
      writes[k] = {
        ptr: w[q] >>> 0,
        bytes: copy === null ? new Uint8Array(w.buffer, at, len).slice() : copy.subarray(at, at + len),
      };
      q += 2 + ((len + 3) >> 2);
    }
    sW[LO] = w[start + 3];
    sW[HI] = w[start + 4];
    const e: WitnessEntry = { index: i, name: this.#names[head & 0xffff], args, result, writes, fuel: sU64[0] };
    const data = this.#data.get(i);
    if (data !== undefined) e.data = data;
    return e;
  }
}

/** Stores one write (ptr, length, bytes zero-padded to a word) at word `p`; returns the next word. */
function putWrite(w: Int32Array, b: Uint8Array, p: number, ptr: number, bytes: Uint8Array): number {
  const n = bytes.length;
  w[p] = ptr;
  w[p + 1] = n;
  p += 2;
  // The padding is part of the record (sameEntry compares words): clear it.
  if ((n & 3) !== 0) w[p + (n >> 2)] = 0;
  const at = p << 2;
  // Most writes are a few bytes (random_get, a struct, an errno): a loop beats set() there.
  if (n <= 32) for (let j = 0; j < n; j++) b[at + j] = bytes[j];
  else b.set(bytes, at);
  return p + ((n + 3) >> 2);
}

function giveBack(chunks: readonly Int32Array<ArrayBuffer>[]): void {
  for (const c of chunks) if (c.length === MAX_CHUNK_WORDS && chunkPool.length < CHUNK_POOL_MAX) chunkPool.push(c);
}

/**
 * Writes the MessagePack of a record's args, result, writes and fuel (fields 3–6 of the entry)
 * at `p` of `out`; the record starts at word `q` of `w` (`b` is the same chunk as bytes).
 */
function encodeTail(out: Uint8Array, p: number, w: Int32Array, b: Uint8Array, q: number): number {
  const head = w[q + 1];
  const arity = (head >>> 16) & 0xff;
  const resultKind = (head >>> 24) & 0xf;
  const nw = w[q + 2];
  const fuelLo = w[q + 3] >>> 0;
  const fuelHi = w[q + 4] >>> 0;
  let r = q + HEADER_WORDS;
  let kindsAt = -1;
  if ((head & KINDS_FLAG) !== 0) {
    kindsAt = r;
    r += (arity + 7) >> 3;
  }
  p = putArrayHeader(out, p, arity);
  for (let k = 0; k < arity; k++) {
    const kind = argKind(w, kindsAt, k);
    p = encodeValue(out, p, w, r, kind);
    r += valueWords(kind);
  }
  p = encodeValue(out, p, w, r, resultKind);
  r += valueWords(resultKind);
  p = putArrayHeader(out, p, nw);
  for (let k = 0; k < nw; k++) {
    out[p++] = 0x92;
    p = putNumber(out, p, w[r] >>> 0);
    const len = w[r + 1];
    const at = (r + 2) << 2;
    p = putBinHeader(out, p, len);
    if (len <= 64) for (let j = 0; j < len; j++) out[p + j] = b[at + j];
    else out.set(b.subarray(at, at + len), p);
    p += len;
    r += 2 + ((len + 3) >> 2);
  }
  // Fuel: always 9 bytes, uint64 only above the i64 range (as msgpackr writes a bigint).
  out[p] = fuelHi > 0x7fff_ffff ? 0xcf : 0xd3;
  putU32BE(out, p + 1, fuelHi);
  putU32BE(out, p + 5, fuelLo);
  return p + 9;
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
  return commitment(slab, n);
}

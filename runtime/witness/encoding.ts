/**
 * Canonical binary encoding of one witness entry: the bytes that become a Merkle leaf
 * (spec: witness.md#H1).
 *
 * An entry is a MessagePack array in a fixed order (never a map, whose key order would be free):
 *
 * | # | field   | MessagePack type                                          |
 * |---|---------|-----------------------------------------------------------|
 * | 0 | version | positive int, {@link WITNESS_ENTRY_VERSION}                |
 * | 1 | index   | uint (u32)                                                |
 * | 2 | name    | str                                                       |
 * | 3 | args    | array of value                                            |
 * | 4 | result  | value or nil                                              |
 * | 5 | writes  | array of [ptr: uint, bytes: bin]                          |
 * | 6 | fuel    | int64/uint64 (always 9 bytes, as msgpackr writes bigint)  |
 * | 7 | data    | bin or nil                                                |
 *
 * A value is a JS `number` (MessagePack int ≤ 32 bits or float64) or a `bigint` (always int64 /
 * uint64). msgpackr never writes a number as a 64-bit int, so the JS type survives the round trip.
 *
 * @module
 */
import { canonicalPackr } from '../msgpack.ts';
import { InputError } from '../errors.ts';
import { putArrayHeader, putBigint, putBin, putNumber } from './msgpack-put.ts';
import type { MemoryWrite, WitnessEntry } from './entry.ts';

/** Version tag of the entry layout above. Bump it, never reuse it, when the layout changes. */
export const WITNESS_ENTRY_VERSION = 1;
/** Most arguments an entry holds (a host call has a handful; the log packs the count in a byte). */
export const WITNESS_MAX_ARGS = 255;
/** Most distinct import names a witness holds (the log packs a name id in 16 bits). */
export const WITNESS_MAX_NAMES = 1 << 16;

/** Fields of an entry tuple. */
export const FIELDS = 8;
const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

/** The witness format's encoder: the one canonical MessagePack encoder (runtime/msgpack.ts). */
export const witnessPackr = canonicalPackr;
/** The matching decoder (a `Packr` decodes too): 64-bit ints come back as bigint, maps (never written) as `Map`. */
export const witnessUnpackr = canonicalPackr;

/** The fixed-order array that {@link encodeEntry} packs; also the witness form inside a bundle. */
export type EntryTuple = [
  number,
  number,
  string,
  (number | bigint)[],
  number | bigint | null,
  [number, Uint8Array][],
  bigint,
  Uint8Array | null,
];

/**
 * The fixed-order tuple of an entry (checked), ready for msgpackr.
 *
 * @param e - the entry.
 * @returns the tuple laid out as in the module header.
 * @throws {TypeError} if a field has the wrong type (a host recorded something impossible: our bug).
 * @throws {RangeError} if an integer is out of its range (u32 index/ptr, u64 fuel, i64/u64 bigints).
 * @example
 * ```ts
 * entryTuple(e)[0]; // WITNESS_ENTRY_VERSION
 * ```
 */
export function entryTuple(e: WitnessEntry): EntryTuple {
  if (!isU32(e.index)) throw new RangeError(`witness entry index must be a u32, got ${String(e.index)}`);
  if (typeof e.name !== 'string') throw new TypeError(`witness entry name must be a string, got ${typeof e.name}`);
  for (const a of e.args) checkValue(a, 'argument');
  if (e.result !== null) checkValue(e.result, 'result');
  if (typeof e.fuel !== 'bigint' || e.fuel < 0n || e.fuel > U64_MAX)
    throw new RangeError(`witness entry fuel must be a u64 bigint, got ${String(e.fuel)}`);
  const writes = new Array<[number, Uint8Array]>(e.writes.length);
  for (let i = 0; i < e.writes.length; i++) {
    const w = e.writes[i];
    if (!isU32(w.ptr)) throw new RangeError(`witness write ptr must be a u32, got ${String(w.ptr)}`);
    if (!(w.bytes instanceof Uint8Array)) throw new TypeError('witness write bytes must be a Uint8Array');
    writes[i] = [w.ptr, w.bytes];
  }
  if (e.data !== undefined && !(e.data instanceof Uint8Array))
    throw new TypeError('witness entry data must be a Uint8Array');
  return [
    WITNESS_ENTRY_VERSION,
    e.index,
    e.name,
    e.args as (number | bigint)[],
    e.result,
    writes,
    e.fuel,
    e.data ?? null,
  ];
}

/**
 * Canonical bytes of one entry. Same entry → same bytes, on every node.
 *
 * @param e - the entry.
 * @returns a fresh MessagePack encoding, byte-identical to `witnessPackr.pack(entryTuple(e))`.
 * @throws {TypeError|RangeError} as {@link entryTuple}.
 * @example
 * ```ts
 * decodeEntry(encodeEntry(e)); // deep-equals e
 * ```
 */
export function encodeEntry(e: WitnessEntry): Uint8Array {
  return new EntryEncoder().encode(e, false).slice();
}

/**
 * A growing buffer that appends MessagePack values exactly as msgpackr encodes them (integers
 * that fit 32 bits in the smallest int format, other numbers as float64, bigints as 9-byte
 * int64/uint64, smallest bin/array headers). The witness hot path uses it instead of msgpackr's
 * generic `pack`, which costs several times more per small entry.
 */
export class MessagePackWriter {
  /** The output buffer; replaced when it grows, so read it after writing. */
  buf = new Uint8Array(4096);
  /** Bytes written so far. */
  pos = 0;
  readonly #strings = new Map<string, Uint8Array>();

  /** Starts a new value at offset 0. */
  reset(): void {
    this.pos = 0;
  }

  /** The bytes written since {@link MessagePackWriter.reset} (a view, valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** One raw byte (a fixed-size header or nil). */
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** A JS number: smallest int format if it is a 32-bit integer, else float64. */
  number(v: number): void {
    this.ensure(9);
    this.pos = putNumber(this.buf, this.pos, v);
  }

  /** A bigint in −2^63..2^64−1 (the caller checks the range). */
  bigint(v: bigint): void {
    this.ensure(9);
    this.pos = putBigint(this.buf, this.pos, v);
  }

  /** Header of an array of `n` values (fixarray, array16 or array32). */
  arrayHeader(n: number): void {
    this.ensure(5);
    this.pos = putArrayHeader(this.buf, this.pos, n);
  }

  /** Bytes as bin8/bin16/bin32. */
  bin(b: Uint8Array): void {
    this.ensure(5 + b.length);
    this.pos = putBin(this.buf, this.pos, b);
  }

  /**
   * A string. Strings repeat (a handful of import names per module): each is encoded once with
   * msgpackr itself, so its string rules (header sized by UTF-8 length, lone surrogates) apply.
   */
  string(s: string): void {
    let enc = this.#strings.get(s);
    if (enc === undefined) {
      if (typeof s !== 'string') throw new TypeError(`witness entry name must be a string, got ${typeof s}`);
      enc = witnessPackr.pack(s).slice();
      this.#strings.set(s, enc);
    }
    this.ensure(enc.length);
    this.buf.set(enc, this.pos);
    this.pos += enc.length;
  }

  /** A witness value: number, or bigint checked to fit 64 bits. */
  value(v: number | bigint, what: string): void {
    checkValue(v, what);
    if (typeof v === 'number') this.number(v);
    else this.bigint(v);
  }
}

/**
 * A reusable encoder of entry objects into one growing buffer. It emits exactly the bytes msgpackr
 * emits for {@link entryTuple} (test/cage/witness-encoding.test.ts checks byte equality) and can
 * reserve a leading Merkle leaf prefix byte so the leaf hash needs no copy.
 *
 * @example
 * ```ts
 * const enc = new EntryEncoder();
 * blake3(enc.encode(entry, true)); // H(0x00 ‖ encodeEntry(entry))
 * ```
 */
export class EntryEncoder {
  readonly #w = new MessagePackWriter();

  /**
   * Encodes `e`.
   *
   * @param e - the entry; checked as by {@link entryTuple}.
   * @param leafPrefix - when true the output starts with the RFC 9162 leaf prefix 0x00.
   * @returns a view of the encoder's buffer, valid until the next call.
   * @throws {TypeError|RangeError} as {@link entryTuple}.
   */
  encode(e: WitnessEntry, leafPrefix: boolean): Uint8Array {
    const w = this.#w;
    w.reset();
    if (leafPrefix) w.byte(0x00);
    writeEntry(w, e);
    return w.view();
  }
}

/** Appends the canonical encoding of `e` to `w` (checked as by {@link entryTuple}). */
function writeEntry(w: MessagePackWriter, e: WitnessEntry): void {
  if (!isU32(e.index)) throw new RangeError(`witness entry index must be a u32, got ${String(e.index)}`);
  if (typeof e.fuel !== 'bigint' || e.fuel < 0n || e.fuel > U64_MAX)
    throw new RangeError(`witness entry fuel must be a u64 bigint, got ${String(e.fuel)}`);
  w.byte(0x90 | FIELDS);
  w.byte(WITNESS_ENTRY_VERSION);
  w.number(e.index);
  w.string(e.name);
  const args = e.args;
  w.arrayHeader(args.length);
  for (let i = 0; i < args.length; i++) w.value(args[i], 'argument');
  if (e.result === null) w.byte(0xc0);
  else w.value(e.result, 'result');
  const writes = e.writes;
  w.arrayHeader(writes.length);
  for (let i = 0; i < writes.length; i++) {
    const x = writes[i];
    if (!isU32(x.ptr)) throw new RangeError(`witness write ptr must be a u32, got ${String(x.ptr)}`);
    if (!(x.bytes instanceof Uint8Array)) throw new TypeError('witness write bytes must be a Uint8Array');
    w.byte(0x92);
    w.number(x.ptr);
    w.bin(x.bytes);
  }
  w.bigint(e.fuel);
  if (e.data === undefined) w.byte(0xc0);
  else if (e.data instanceof Uint8Array) w.bin(e.data);
  else throw new TypeError('witness entry data must be a Uint8Array');
}

/**
 * The canonical encodings of `entries`, back to back: the witness as stored in a bundle, where
 * each entry's bytes are exactly its Merkle leaf data.
 *
 * @param entries - entries in order.
 * @returns one buffer; {@link decodeEntries} splits it again.
 * @throws {TypeError|RangeError} as {@link entryTuple}.
 * @example
 * ```ts
 * decodeEntries(encodeEntries(log.entries())); // deep-equals log.entries()
 * ```
 */
export function encodeEntries(entries: readonly WitnessEntry[]): Uint8Array {
  const w = new MessagePackWriter();
  for (let i = 0; i < entries.length; i++) writeEntry(w, entries[i]);
  return w.buf.slice(0, w.pos);
}

/**
 * Decodes a sequence written by {@link encodeEntries}, trusting nothing. Entry `i` must carry
 * index `i`.
 *
 * @param bytes - untrusted input; empty means no entries.
 * @returns the entries (byte fields view `bytes`).
 * @throws {InputError} `DL_ERR_WITNESS_MALFORMED`, `DL_ERR_WITNESS_VERSION` or `DL_ERR_WITNESS_SCHEMA`
 *   (`where.entry` names the entry).
 * @example
 * ```ts
 * decodeEntries(new Uint8Array(0)); // []
 * ```
 */
export function decodeEntries(bytes: Uint8Array): WitnessEntry[] {
  if (bytes.length === 0) return [];
  let raw: unknown[];
  try {
    raw = witnessUnpackr.unpackMultiple(bytes) as unknown[];
  } catch (cause) {
    throw new InputError(
      'DL_ERR_WITNESS_MALFORMED',
      `witness is not a sequence of MessagePack values: ${(cause as Error).message}`,
      {},
      { cause },
    );
  }
  const out = new Array<WitnessEntry>(raw.length);
  const names = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const e = entryFromTuple(raw[i], i);
    if (e.index !== i)
      throw new InputError('DL_ERR_WITNESS_SCHEMA', `witness entry at position ${i} carries index ${e.index}`, {
        entry: i,
        field: 'index',
      });
    names.add(e.name);
    if (names.size > WITNESS_MAX_NAMES)
      throw new InputError(
        'DL_ERR_WITNESS_SCHEMA',
        `witness names more than ${WITNESS_MAX_NAMES} different imports (entry ${i} adds one more)`,
        { entry: i, field: 'name' },
      );
    out[i] = e;
  }
  return out;
}

/**
 * Decodes bytes produced by {@link encodeEntry}, trusting nothing about them.
 *
 * @param bytes - untrusted input.
 * @param at - entry number for error locations, when decoding from a list.
 * @returns the entry; byte fields are views into `bytes`.
 * @throws {InputError} `DL_ERR_WITNESS_MALFORMED` (not one MessagePack value),
 *   `DL_ERR_WITNESS_VERSION` (unknown version tag), `DL_ERR_WITNESS_SCHEMA` (wrong shape or type).
 * @example
 * ```ts
 * decodeEntry(Uint8Array.of(0xc1)); // throws InputError DL_ERR_WITNESS_MALFORMED
 * ```
 */
export function decodeEntry(bytes: Uint8Array, at?: number): WitnessEntry {
  let raw: unknown;
  try {
    raw = witnessUnpackr.unpack(bytes);
  } catch (cause) {
    throw new InputError(
      'DL_ERR_WITNESS_MALFORMED',
      `witness entry is not a single MessagePack value: ${(cause as Error).message}`,
      where(at),
      { cause },
    );
  }
  return entryFromTuple(raw, at);
}

/**
 * Validates a decoded tuple (from {@link decodeEntry} or a bundle) and builds the entry.
 *
 * @param raw - any decoded MessagePack value.
 * @param at - entry number for error locations.
 * @returns the entry.
 * @throws {InputError} `DL_ERR_WITNESS_VERSION` or `DL_ERR_WITNESS_SCHEMA`.
 * @example
 * ```ts
 * entryFromTuple(witnessUnpackr.unpack(bytes));
 * ```
 */
export function entryFromTuple(raw: unknown, at?: number): WitnessEntry {
  if (!Array.isArray(raw) || raw.length === 0) throw schema('an array', raw, 'entry', at);
  if (raw[0] !== WITNESS_ENTRY_VERSION) {
    throw new InputError(
      'DL_ERR_WITNESS_VERSION',
      `witness entry version ${String(raw[0])} is not supported; this build reads version ${WITNESS_ENTRY_VERSION}`,
      where(at, 'version'),
    );
  }
  if (raw.length !== FIELDS) throw schema(`an array of ${FIELDS} fields`, `${raw.length} fields`, 'entry', at);
  const [, index, name, args, result, writes, fuel, data] = raw as unknown[];
  if (!isU32(index)) throw schema('a u32', index, 'index', at);
  if (typeof name !== 'string') throw schema('a string', name, 'name', at);
  if (!Array.isArray(args) || args.length > WITNESS_MAX_ARGS)
    throw schema(`an array of at most ${WITNESS_MAX_ARGS} values`, args, 'args', at);
  for (let i = 0; i < args.length; i++)
    if (!isValue(args[i])) throw schema('a number or 64-bit bigint', args[i], `args.${i}`, at);
  if (result !== null && !isValue(result)) throw schema('a number, 64-bit bigint or nil', result, 'result', at);
  if (!Array.isArray(writes)) throw schema('an array', writes, 'writes', at);
  const outWrites = new Array<MemoryWrite>(writes.length);
  for (let i = 0; i < writes.length; i++) {
    const w: unknown = writes[i];
    if (!Array.isArray(w) || w.length !== 2 || !isU32(w[0]) || !(w[1] instanceof Uint8Array))
      throw schema('[ptr: u32, bytes: bin]', w, `writes.${i}`, at);
    outWrites[i] = { ptr: w[0], bytes: plain(w[1]) };
  }
  if (typeof fuel !== 'bigint' || fuel < 0n || fuel > U64_MAX) throw schema('a u64 (int64/uint64)', fuel, 'fuel', at);
  if (data !== null && !(data instanceof Uint8Array)) throw schema('bin or nil', data, 'data', at);
  const entry: WitnessEntry = {
    index,
    name,
    args: args as (number | bigint)[],
    result: result as number | bigint | null,
    writes: outWrites,
    fuel,
  };
  if (data !== null) entry.data = plain(data);
  return entry;
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32_MAX;
}

function isValue(v: unknown): v is number | bigint {
  return typeof v === 'number' || (typeof v === 'bigint' && v >= I64_MIN && v <= U64_MAX);
}

/** Throws unless `v` is a number or a bigint that fits 64 bits (−2^63..2^64−1). */
export function checkValue(v: unknown, what: string): void {
  if (typeof v === 'number') return;
  if (typeof v === 'bigint') {
    if (v < I64_MIN || v > U64_MAX) throw new RangeError(`witness ${what} bigint ${v} does not fit in 64 bits`);
    return;
  }
  throw new TypeError(`witness ${what} must be a number or bigint, got ${typeof v}`);
}

/** msgpackr returns Buffers; hand out plain Uint8Array views so callers see one type. */
function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function where(entry: number | undefined, field?: string): { entry?: number; field?: string } {
  const w: { entry?: number; field?: string } = {};
  if (entry !== undefined) w.entry = entry;
  if (field !== undefined) w.field = field;
  return w;
}

function schema(expected: string, got: unknown, field: string, at: number | undefined): InputError {
  return new InputError(
    'DL_ERR_WITNESS_SCHEMA',
    `witness entry field ${field} must be ${expected}, got ${describe(got)}`,
    where(at, field),
  );
}

function describe(v: unknown): string {
  if (v === null) return 'nil';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `a string`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}

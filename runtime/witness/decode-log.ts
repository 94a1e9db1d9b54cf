/**
 * Canonical witness bytes (a bundle's witness: entries back to back, encoding.ts) straight into a
 * {@link WitnessLog}, for a replay to compare against, without building entry objects.
 *
 * `decodeEntries` followed by `WitnessLog.from` is slow (msgpackr builds a tuple of arrays per
 * entry, which is then checked and stored; figures in bench/RESULTS.md, witness); a replay of a million calls spent more time
 * there than running the guest. This reader accepts exactly what `decodeEntries` accepts (a
 * property test runs both over valid and mutated witnesses, test/cage/witness-decode-log.test.ts)
 * and reports the same error codes. The input is untrusted: every read is bounds-checked.
 *
 * @module
 */
import { InputError } from '../errors.ts';
import type { MemoryWrite } from './entry.ts';
import { FIELDS, WITNESS_ENTRY_VERSION, WITNESS_MAX_ARGS, WITNESS_MAX_NAMES, witnessUnpackr } from './encoding.ts';
import { WitnessLog } from './log.ts';

const U64_MAX = (1n << 64n) - 1n;

/** A value that is not one the entry field allows (or not a MessagePack value we read). */
class Unexpected extends Error {}

/** Reads the MessagePack subset a witness may hold; anything else is {@link Unexpected}. */
class Reader {
  readonly b: Uint8Array;
  readonly dv: DataView;
  p = 0;

  constructor(b: Uint8Array) {
    this.b = b;
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Throws MALFORMED if fewer than `n` bytes remain. */
  need(n: number): void {
    if (this.p + n > this.b.length)
      throw new InputError(
        'DL_ERR_WITNESS_MALFORMED',
        `witness is not a sequence of MessagePack values: it ends inside a value at byte ${this.b.length}`,
        {},
      );
  }

  u8(): number {
    this.need(1);
    return this.b[this.p++];
  }

  /** The header of an array: its length, or -1 if the next value is not an array. */
  arrayHeader(): number {
    const t = this.u8();
    if (t >= 0x90 && t <= 0x9f) return t & 0x0f;
    if (t === 0xdc) {
      this.need(2);
      const n = this.dv.getUint16(this.p);
      this.p += 2;
      return n;
    }
    if (t === 0xdd) {
      this.need(4);
      const n = this.dv.getUint32(this.p);
      this.p += 4;
      return n;
    }
    this.p--;
    return -1;
  }

  /**
   * A number as msgpackr returns it: ints up to 32 bits and floats as numbers, 64-bit ints as
   * bigints; `null` for nil. Any other type is Unexpected (after skipping nothing: the caller fails).
   */
  numberOrNil(): number | bigint | null {
    const t = this.u8();
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    const dv = this.dv;
    switch (t) {
      case 0xc0:
        return null;
      case 0xcc:
        this.need(1);
        return this.b[this.p++];
      case 0xcd:
        this.need(2);
        this.p += 2;
        return dv.getUint16(this.p - 2);
      case 0xce:
        this.need(4);
        this.p += 4;
        return dv.getUint32(this.p - 4);
      case 0xcf:
        this.need(8);
        this.p += 8;
        return dv.getBigUint64(this.p - 8);
      case 0xd0:
        this.need(1);
        this.p += 1;
        return dv.getInt8(this.p - 1);
      case 0xd1:
        this.need(2);
        this.p += 2;
        return dv.getInt16(this.p - 2);
      case 0xd2:
        this.need(4);
        this.p += 4;
        return dv.getInt32(this.p - 4);
      case 0xd3:
        this.need(8);
        this.p += 8;
        return dv.getBigInt64(this.p - 8);
      case 0xca:
        // msgpackr rounds float32 to the shortest decimal that reads back the same: let it decode.
        this.need(4);
        this.p += 4;
        return witnessUnpackr.unpack(this.b.subarray(this.p - 5, this.p)) as number;
      case 0xcb:
        this.need(8);
        this.p += 8;
        return dv.getFloat64(this.p - 8);
    }
    throw new Unexpected();
  }

  /** bin8/16/32 as a view, or `null` for nil; anything else is Unexpected. */
  binOrNil(): Uint8Array | null {
    const t = this.u8();
    let n: number;
    if (t === 0xc0) return null;
    if (t === 0xc4) n = this.u8();
    else if (t === 0xc5) {
      this.need(2);
      n = this.dv.getUint16(this.p);
      this.p += 2;
    } else if (t === 0xc6) {
      this.need(4);
      n = this.dv.getUint32(this.p);
      this.p += 4;
    } else throw new Unexpected();
    this.need(n);
    this.p += n;
    return this.b.subarray(this.p - n, this.p);
  }

  /** The bytes of a str value (its whole encoding), or null if the next value is not a str. */
  strBytes(): Uint8Array | null {
    const start = this.p;
    const t = this.u8();
    let n: number;
    if (t >= 0xa0 && t <= 0xbf) n = t & 0x1f;
    else if (t === 0xd9) n = this.u8();
    else if (t === 0xda) {
      this.need(2);
      n = this.dv.getUint16(this.p);
      this.p += 2;
    } else if (t === 0xdb) {
      this.need(4);
      n = this.dv.getUint32(this.p);
      this.p += 4;
    } else {
      this.p = start;
      return null;
    }
    this.need(n);
    this.p += n;
    return this.b.subarray(start, this.p);
  }
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

function schema(field: string, expected: string, at: number): InputError {
  return new InputError('DL_ERR_WITNESS_SCHEMA', `witness entry field ${field} must be ${expected}`, {
    entry: at,
    field,
  });
}

/**
 * A log holding the entries encoded back to back in `bytes`.
 *
 * @throws {InputError} `DL_ERR_WITNESS_MALFORMED`, `DL_ERR_WITNESS_VERSION` or
 *   `DL_ERR_WITNESS_SCHEMA`, as `decodeEntries` would for the same bytes.
 */
export function witnessLogFromEncoded(bytes: Uint8Array): WitnessLog {
  const log = new WitnessLog();
  const r = new Reader(bytes);
  const args: (number | bigint)[] = [];
  const writes: MemoryWrite[] = [];
  // Names repeat: the id of the last name's bytes, and every name decoded so far by its bytes.
  const ids = new Map<string, number>();
  let lastName: Uint8Array | null = null;
  let lastId = -1;
  for (let i = 0; r.p < bytes.length; i++) {
    const at = i;
    try {
      const fields = r.arrayHeader();
      if (fields <= 0) throw schema('entry', 'an array', at);
      const version = r.numberOrNil();
      if (version !== WITNESS_ENTRY_VERSION) {
        throw new InputError(
          'DL_ERR_WITNESS_VERSION',
          `witness entry version ${String(version)} is not supported; this build reads version ${WITNESS_ENTRY_VERSION}`,
          { entry: at, field: 'version' },
        );
      }
      if (fields !== FIELDS) throw schema('entry', `an array of ${FIELDS} fields`, at);
      const index = r.numberOrNil();
      if (!isU32(index)) throw schema('index', 'a u32', at);
      const nameBytes = r.strBytes();
      if (nameBytes === null) throw schema('name', 'a string', at);
      let id: number;
      if (lastName !== null && nameBytes.length === lastName.length && nameBytes.every((x, k) => x === lastName![k]))
        id = lastId;
      else {
        // msgpackr decodes the name, so its string rules apply exactly as in decodeEntries.
        const name = witnessUnpackr.unpack(nameBytes) as string;
        const known = ids.get(name);
        if (known === undefined && ids.size >= WITNESS_MAX_NAMES) {
          throw new InputError(
            'DL_ERR_WITNESS_SCHEMA',
            `witness names more than ${WITNESS_MAX_NAMES} different imports (entry ${at} adds one more)`,
            { entry: at, field: 'name' },
          );
        }
        id = known ?? log.intern(name);
        ids.set(name, id);
        lastName = nameBytes;
        lastId = id;
      }
      const na = r.arrayHeader();
      if (na < 0 || na > WITNESS_MAX_ARGS) throw schema('args', `an array of at most ${WITNESS_MAX_ARGS} values`, at);
      args.length = 0;
      for (let k = 0; k < na; k++) {
        const v = r.numberOrNil();
        if (v === null || (typeof v === 'bigint' && v < -(1n << 63n)))
          throw schema(`args.${k}`, 'a number or 64-bit bigint', at);
        args.push(v);
      }
      const result = r.numberOrNil();
      const nw = r.arrayHeader();
      if (nw < 0) throw schema('writes', 'an array', at);
      writes.length = 0;
      for (let k = 0; k < nw; k++) {
        if (r.arrayHeader() !== 2) throw schema(`writes.${k}`, '[ptr: u32, bytes: bin]', at);
        const ptr = r.numberOrNil();
        const data = r.binOrNil();
        if (!isU32(ptr) || data === null) throw schema(`writes.${k}`, '[ptr: u32, bytes: bin]', at);
        writes.push({ ptr, bytes: data });
      }
      const fuel = r.numberOrNil();
      if (typeof fuel !== 'bigint' || fuel < 0n || fuel > U64_MAX) throw schema('fuel', 'a u64 (int64/uint64)', at);
      const data = r.binOrNil();
      if (index !== i)
        throw new InputError('DL_ERR_WITNESS_SCHEMA', `witness entry at position ${i} carries index ${index}`, {
          entry: i,
          field: 'index',
        });
      log.appendCall(
        id,
        args,
        na,
        result,
        Number(fuel & 0xffff_ffffn),
        Number(fuel >> 32n),
        writes,
        data === null ? undefined : data.slice(),
      );
    } catch (e) {
      if (e instanceof Unexpected) throw schema('entry', 'a witness entry of numbers, strings and bins', at);
      throw e;
    }
  }
  return log;
}

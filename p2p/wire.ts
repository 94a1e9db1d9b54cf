/**
 * Canonical MessagePack for P2P messages. Every message is one array in a fixed field order
 * (never a map), so a message has exactly one encoding: decoders re-encode what they read and
 * reject any byte string that is not that encoding, which makes message ids and signatures
 * non-malleable.
 */
import { Packr } from 'msgpackr';
import { P2PError } from './errors.ts';

const packr = /* @__PURE__ */ new Packr({
  useRecords: false,
  mapsAsObjects: false,
  int64AsType: 'bigint',
  variableMapSize: true,
  // A peer's bytes never hold msgpackr's reference extensions (shared or cyclic values).
  structuredClone: false,
});

export function pack(value: unknown): Uint8Array {
  const b = packr.pack(value);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/**
 * Decodes exactly one MessagePack value and checks that it is in canonical form.
 * @throws {P2PError} `DL_ERR_P2P_MALFORMED` when the bytes are not one canonical value
 */
export function unpackCanonical(bytes: Uint8Array, what: string): unknown {
  let value: unknown;
  try {
    const all = packr.unpackMultiple(bytes) as unknown[];
    if (all.length !== 1) throw new Error(`${all.length} values`);
    value = all[0];
  } catch (cause) {
    throw new P2PError(
      'DL_ERR_P2P_MALFORMED',
      `${what} is not one MessagePack value: ${(cause as Error).message}`,
      { field: what },
      { cause },
    );
  }
  const again = pack(value);
  if (!equalBytes(again, bytes))
    throw new P2PError('DL_ERR_P2P_MALFORMED', `${what} is not in canonical form (re-encoding gives different bytes)`, {
      field: what,
    });
  return value;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Field readers for decoded arrays: each names the field it rejects. */
export class Fields {
  readonly #a: unknown[];
  readonly #what: string;
  #i = 0;
  constructor(value: unknown, what: string, length: number) {
    if (!Array.isArray(value) || value.length !== length) throw schema(what, `an array of ${length} fields`, value);
    this.#a = value;
    this.#what = what;
  }
  #next(): unknown {
    return this.#a[this.#i++];
  }
  #name(): string {
    return `${this.#what}[${this.#i - 1}]`;
  }
  bytes(len?: number, max = 1 << 20): Uint8Array {
    const v = this.#next();
    if (!(v instanceof Uint8Array) || (len !== undefined && v.length !== len) || v.length > max)
      throw schema(this.#name(), len === undefined ? `bytes (≤ ${max})` : `${len} bytes`, v);
    return v;
  }
  bytesOrNull(len: number): Uint8Array | null {
    const v = this.#a[this.#i];
    if (v === null) {
      this.#i++;
      return null;
    }
    return this.bytes(len);
  }
  uint(max = Number.MAX_SAFE_INTEGER): number {
    const v = this.#next();
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max)
      throw schema(this.#name(), `an integer in 0..${max}`, v);
    return v;
  }
  string(max = 256): string {
    const v = this.#next();
    if (typeof v !== 'string' || v.length > max) throw schema(this.#name(), `a string of at most ${max} characters`, v);
    return v;
  }
  oneOf<T extends string>(options: readonly T[]): T {
    const v = this.#next();
    if (typeof v !== 'string' || !(options as readonly string[]).includes(v))
      throw schema(this.#name(), `one of ${options.join(', ')}`, v);
    return v as T;
  }
  literal(expected: string | number): void {
    const v = this.#next();
    if (v !== expected) {
      if (typeof expected === 'number')
        throw new P2PError(
          'DL_ERR_P2P_VERSION',
          `${this.#name()} is version ${String(v)}; this node speaks version ${expected}`,
          { field: this.#name() },
        );
      throw schema(this.#name(), JSON.stringify(expected), v);
    }
  }
  raw(): unknown {
    return this.#next();
  }
  array(max: number): unknown[] {
    const v = this.#next();
    if (!Array.isArray(v) || v.length > max) throw schema(this.#name(), `an array of at most ${max} items`, v);
    return v;
  }
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `a string of ${v.length}`;
  return v === null ? 'null' : typeof v === 'object' ? 'a map' : `${typeof v} ${String(v).slice(0, 32)}`;
}

function schema(field: string, expected: string, got: unknown): P2PError {
  return new P2PError('DL_ERR_P2P_SCHEMA', `${field} must be ${expected}, got ${describe(got)}`, { field });
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

export function fromHex(s: string, len: number, field: string): Uint8Array {
  if (typeof s !== 'string' || s.length !== len * 2 || !/^[0-9a-f]*$/i.test(s))
    throw new P2PError('DL_ERR_P2P_SCHEMA', `${field} must be ${len * 2} hex digits`, { field });
  return new Uint8Array(Buffer.from(s, 'hex'));
}

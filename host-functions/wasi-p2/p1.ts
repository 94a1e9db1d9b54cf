/**
 * The WASI 0.2 host speaks to the cage's preview1 host (host-functions/wasi/preview1.ts) through a
 * scratch memory of its own: each 0.2 call becomes the preview1 calls that answer it, so files,
 * clocks, randomness, stdin and output limits have one implementation and one witness for both
 * ABIs (docs/components.md). Every value that reaches the component comes out of a recorded
 * preview1 call. The scratch memory belongs to the host, never to the guest: the component's own
 * memory is written only by jco's glue, from the values returned here.
 */
import type { GuestMemory, HostValue } from '../../runtime/store.ts';

/** A preview1 import as the cage made it (already recorded by the witness). */
type P1Fn = (...args: HostValue[]) => HostValue | undefined;

const PAGE = 65536;
const utf8 = new TextEncoder();
const text = new TextDecoder('utf-8', { fatal: false });

/** A preview1 call that returned an errno other than success. */
export class Errno {
  readonly errno: number;
  constructor(errno: number) {
    this.errno = errno;
  }
}

export class P1 {
  readonly #fns: Readonly<Record<string, P1Fn | undefined>>;
  readonly #mem: GuestMemory;
  readonly #memory = new WebAssembly.Memory({ initial: 1 });
  #u8 = new Uint8Array(this.#memory.buffer);
  #dv = new DataView(this.#memory.buffer);
  #top = 0;

  constructor(fns: Readonly<Record<string, P1Fn | undefined>>, mem: GuestMemory) {
    this.#fns = fns;
    this.#mem = mem;
    mem.attach(this.#memory);
  }

  /** Whether the preview1 host has `name` (its group is granted). */
  has(name: string): boolean {
    return this.#fns[name] !== undefined;
  }

  /** Starts a request: the scratch is free again. */
  begin(): this {
    this.#top = 0;
    return this;
  }

  /** Reserves `len` bytes (8-aligned) and returns their address. */
  alloc(len: number): number {
    const at = this.#top;
    this.#top = (at + len + 7) & ~7;
    const need = Math.ceil(this.#top / PAGE) - this.#memory.buffer.byteLength / PAGE;
    if (need > 0) {
      this.#memory.grow(need);
      this.#u8 = new Uint8Array(this.#memory.buffer);
      this.#dv = new DataView(this.#memory.buffer);
      this.#mem.attach(this.#memory);
    }
    return at;
  }

  /** Copies bytes in; returns their address. */
  put(bytes: Uint8Array): number {
    const at = this.alloc(bytes.length);
    this.#u8.set(bytes, at);
    return at;
  }

  /** A string as UTF-8: [address, length]. */
  str(s: string): [number, number] {
    const b = utf8.encode(s);
    return [this.put(b), b.length];
  }

  /** One iovec over `len` bytes at `buf`; returns the iovec's address. */
  iovec(buf: number, len: number): number {
    const at = this.alloc(8);
    this.#dv.setUint32(at, buf, true);
    this.#dv.setUint32(at + 4, len, true);
    return at;
  }

  u8(at: number): number {
    return this.#u8[at]!;
  }
  u16(at: number): number {
    return this.#dv.getUint16(at, true);
  }
  u32(at: number): number {
    return this.#dv.getUint32(at, true);
  }
  u64(at: number): bigint {
    return this.#dv.getBigUint64(at, true);
  }
  setU32(at: number, v: number): void {
    this.#dv.setUint32(at, v, true);
  }
  setU64(at: number, v: bigint): void {
    this.#dv.setBigUint64(at, v, true);
  }
  u8s(at: number, len: number): Uint8Array {
    return this.#u8.slice(at, at + len);
  }
  text(at: number, len: number): string {
    return text.decode(this.#u8.subarray(at, at + len));
  }

  /**
   * Calls preview1 `name`; returns its errno.
   * @throws {Errno} `notsup`'s errno when the function is not granted (callers check `has` first)
   */
  call(name: string, ...args: HostValue[]): number {
    const f = this.#fns[name];
    if (f === undefined) throw new Errno(58);
    return f(...args) as number;
  }

  /** As `call`, throwing {@link Errno} for any errno but success. */
  ok(name: string, ...args: HostValue[]): void {
    const e = this.call(name, ...args);
    if (e !== 0) throw new Errno(e);
  }
}

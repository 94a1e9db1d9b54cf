/**
 * Bounds-checked access to guest linear memory for host functions. Every byte a host function
 * writes goes through `write`, which records it for the witness (spec: DESIGN.md, "host results").
 * Views are refreshed when `memory.grow` replaces the buffer.
 */
import type { MemoryWrite } from './witness/entry.ts';

/** A guest pointer or length outside linear memory: the WASI call returns ERRNO_FAULT. */
export class GuestFault extends Error {
  constructor(ptr: number, len: number) {
    super(`guest pointer ${ptr}+${len} is outside linear memory`);
    this.name = 'GuestFault';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class GuestMemory {
  #memory: WebAssembly.Memory | undefined;
  #buffer: ArrayBuffer = new ArrayBuffer(0);
  #u8 = new Uint8Array(0);
  #dv = new DataView(this.#buffer);
  /** Writes of the host call in progress, in order. The objects are pooled: valid until the next call. */
  readonly writes: MemoryWrite[] = [];
  readonly #pool: MemoryWrite[] = [];

  /** Starts a host call: forgets the previous call's writes. */
  beginCall(): void {
    // pop() on a short array is much cheaper than a length store, which V8 treats as a resize.
    const w = this.writes;
    while (w.length > 0) w.pop();
  }

  /** Records that the host wrote guest bytes `view` at `ptr` (already in memory). */
  recordWrite(ptr: number, view: Uint8Array): void {
    const i = this.writes.length;
    let w = this.#pool[i];
    if (w === undefined) {
      w = { ptr, bytes: view };
      this.#pool[i] = w;
    } else {
      w.ptr = ptr;
      w.bytes = view;
    }
    this.writes.push(w);
  }

  attach(memory: WebAssembly.Memory | undefined): void {
    this.#memory = memory;
    this.#refresh();
  }

  #refresh(): void {
    const buf = this.#memory?.buffer;
    if (buf === undefined || buf === this.#buffer) return;
    this.#buffer = buf;
    this.#u8 = new Uint8Array(buf);
    this.#dv = new DataView(buf);
  }

  /** Throws `GuestFault` unless [ptr, ptr+len) lies in memory. */
  check(ptr: number, len: number): void {
    this.#refresh();
    if (ptr >>> 0 !== ptr || len >>> 0 !== len || ptr + len > this.#u8.length) throw new GuestFault(ptr, len);
  }

  get size(): number {
    this.#refresh();
    return this.#u8.length;
  }

  u8(ptr: number): number {
    this.check(ptr, 1);
    return this.#u8[ptr]!;
  }

  u16(ptr: number): number {
    this.check(ptr, 2);
    return this.#dv.getUint16(ptr, true);
  }

  u32(ptr: number): number {
    this.check(ptr, 4);
    return this.#dv.getUint32(ptr, true);
  }

  u64(ptr: number): bigint {
    this.check(ptr, 8);
    return this.#dv.getBigUint64(ptr, true);
  }

  /** A view of guest bytes; valid until the guest runs again. */
  bytes(ptr: number, len: number): Uint8Array {
    this.check(ptr, len);
    return this.#u8.subarray(ptr, ptr + len);
  }

  /** A copy of guest bytes. */
  copy(ptr: number, len: number): Uint8Array {
    return this.bytes(ptr, len).slice();
  }

  /** UTF-8 text from the guest; invalid UTF-8 → `null` (the caller answers ERRNO_ILSEQ). */
  string(ptr: number, len: number): string | null {
    try {
      return utf8.decode(this.bytes(ptr, len));
    } catch {
      return null;
    }
  }

  /** Writes bytes into guest memory and records the write. */
  write(ptr: number, data: Uint8Array): void {
    this.check(ptr, data.length);
    this.#u8.set(data, ptr);
    this.recordWrite(ptr, this.#u8.subarray(ptr, ptr + data.length));
  }

  setU32(ptr: number, v: number): void {
    this.check(ptr, 4);
    this.#dv.setUint32(ptr, v, true);
    this.recordWrite(ptr, this.#u8.subarray(ptr, ptr + 4));
  }

  setU64(ptr: number, v: bigint): void {
    this.check(ptr, 8);
    this.#dv.setBigUint64(ptr, BigInt.asUintN(64, v), true);
    this.recordWrite(ptr, this.#u8.subarray(ptr, ptr + 8));
  }
}

/** Little-endian struct builder for the WASI structs the host fills in one write. */
export class Struct {
  readonly bytes: Uint8Array;
  readonly #dv: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#dv = new DataView(this.bytes.buffer);
  }
  u8(off: number, v: number): this {
    this.#dv.setUint8(off, v);
    return this;
  }
  u16(off: number, v: number): this {
    this.#dv.setUint16(off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.#dv.setUint32(off, v, true);
    return this;
  }
  u64(off: number, v: bigint): this {
    this.#dv.setBigUint64(off, BigInt.asUintN(64, v), true);
    return this;
  }
}

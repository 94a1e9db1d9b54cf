/**
 * `wasi:io` (error, poll, streams) over preview1 descriptors. Streams are never blocked in the
 * cage: files and stdin are in memory and output is captured, so every stream pollable is ready
 * at once; clock pollables are the only ones that wait, and they wait in virtual time
 * (spec/wasi.md#W2). Errors follow jco's convention: a thrown non-Error value is the `err` case.
 */
import { Errno, P1 } from './p1.ts';

/** `wasi:io/error.error`: carries the filesystem error code `filesystem-error-code` answers with. */
export class IoError {
  readonly code: string;
  constructor(code: string) {
    this.code = code;
  }
  toDebugString(): string {
    return this.code;
  }
}

/** preview1 errno → `wasi:filesystem/types.error-code`. */
const ERROR_CODES: Record<number, string> = {
  2: 'access',
  6: 'would-block',
  7: 'already',
  8: 'bad-descriptor',
  10: 'busy',
  16: 'deadlock',
  19: 'quota',
  20: 'exist',
  22: 'file-too-large',
  25: 'illegal-byte-sequence',
  26: 'in-progress',
  27: 'interrupted',
  28: 'invalid',
  29: 'io',
  31: 'is-directory',
  32: 'loop',
  34: 'too-many-links',
  35: 'message-size',
  37: 'name-too-long',
  43: 'no-device',
  44: 'no-entry',
  46: 'no-lock',
  48: 'insufficient-memory',
  51: 'insufficient-space',
  54: 'not-directory',
  55: 'not-empty',
  56: 'not-recoverable',
  58: 'unsupported',
  59: 'no-tty',
  60: 'no-such-device',
  61: 'overflow',
  63: 'not-permitted',
  64: 'pipe',
  69: 'read-only',
  70: 'invalid-seek',
  74: 'text-file-busy',
  75: 'cross-device',
  76: 'access',
};

export function errorCode(errno: number): string {
  return ERROR_CODES[errno] ?? 'io';
}

/** Runs a preview1-backed operation, turning an {@link Errno} into `error-code` (thrown as the err case). */
export function fsResult<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Errno) throw errorCode(e.errno);
    throw e;
  }
}

/** As {@link fsResult} for streams: `last-operation-failed` with an error resource. */
function streamResult<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Errno) throw { tag: 'last-operation-failed', val: new IoError(errorCode(e.errno)) };
    throw e;
  }
}

/** `wasi:io/poll.pollable`. `deadline` undefined: always ready (streams). */
export class Pollable {
  readonly #clock: VirtualDeadline | undefined;
  constructor(clock?: VirtualDeadline) {
    this.#clock = clock;
  }
  ready(): boolean {
    return this.#clock === undefined || this.#clock.reached();
  }
  block(): void {
    if (this.#clock !== undefined) this.#clock.wait();
  }
  /** Virtual nanoseconds left until ready (0 when ready). */
  remaining(): bigint {
    return this.#clock === undefined ? 0n : this.#clock.remaining();
  }
}

/** A deadline on the monotonic virtual clock, read and waited for through preview1. */
export interface VirtualDeadline {
  reached(): boolean;
  remaining(): bigint;
  wait(): void;
}

/** `wasi:io/poll.poll`: the ready ones, or else the earliest clock's, after jumping there. */
export function poll(list: Pollable[]): Uint32Array {
  if (list.length === 0) throw new TypeError('poll: empty list');
  let ready = list.flatMap((p, i) => (p.ready() ? [i] : []));
  if (ready.length === 0) {
    let min = list[0]!;
    for (const p of list) if (p.remaining() < min.remaining()) min = p;
    min.block();
    ready = list.flatMap((p, i) => (p.ready() ? [i] : []));
  }
  return Uint32Array.from(ready);
}

/** Largest read or write a stream does per call: bounded scratch, same answer everywhere. */
export const STREAM_CHUNK = 65536;

/** Where a stream reads: fd_read (stdin, position kept by preview1) or fd_pread at an offset. */
export class InputStream {
  readonly #p1: P1;
  readonly #fd: number;
  #offset: bigint | undefined;
  readonly #close: (() => void) | undefined;
  constructor(p1: P1, fd: number, offset?: bigint, close?: () => void) {
    this.#p1 = p1;
    this.#fd = fd;
    this.#offset = offset;
    this.#close = close;
  }
  read(len: bigint): Uint8Array {
    return streamResult(() => {
      const n = Number(len > BigInt(STREAM_CHUNK) ? BigInt(STREAM_CHUNK) : len);
      const p = this.#p1.begin();
      const buf = p.alloc(n);
      const iov = p.iovec(buf, n);
      const out = p.alloc(4);
      if (this.#offset === undefined) p.ok('fd_read', this.#fd, iov, 1, out);
      else p.ok('fd_pread', this.#fd, iov, 1, this.#offset, out);
      const got = p.u32(out);
      if (got === 0 && n > 0) throw { tag: 'closed' };
      if (this.#offset !== undefined) this.#offset += BigInt(got);
      return p.u8s(buf, got);
    });
  }
  blockingRead(len: bigint): Uint8Array {
    return this.read(len);
  }
  skip(len: bigint): bigint {
    return BigInt(this.read(len).length);
  }
  blockingSkip(len: bigint): bigint {
    return this.skip(len);
  }
  subscribe(): Pollable {
    return new Pollable();
  }
  [Symbol.dispose](): void {
    this.#close?.();
  }
}

/** Where a stream writes: fd_write (stdout, stderr, append) or fd_pwrite at an offset. */
export class OutputStream {
  readonly #p1: P1;
  readonly #fd: number;
  #offset: bigint | undefined;
  readonly #close: (() => void) | undefined;
  constructor(p1: P1, fd: number, offset?: bigint, close?: () => void) {
    this.#p1 = p1;
    this.#fd = fd;
    this.#offset = offset;
    this.#close = close;
  }
  checkWrite(): bigint {
    return BigInt(STREAM_CHUNK);
  }
  write(contents: Uint8Array): void {
    streamResult(() => {
      let done = 0;
      while (done < contents.length) {
        const chunk = contents.subarray(done, done + STREAM_CHUNK);
        const p = this.#p1.begin();
        const buf = p.put(chunk);
        const iov = p.iovec(buf, chunk.length);
        const out = p.alloc(4);
        if (this.#offset === undefined) p.ok('fd_write', this.#fd, iov, 1, out);
        else p.ok('fd_pwrite', this.#fd, iov, 1, this.#offset, out);
        const n = p.u32(out);
        if (n === 0) throw new Errno(29);
        if (this.#offset !== undefined) this.#offset += BigInt(n);
        done += n;
      }
    });
  }
  blockingWriteAndFlush(contents: Uint8Array): void {
    this.write(contents);
  }
  flush(): void {}
  blockingFlush(): void {}
  writeZeroes(len: bigint): void {
    this.write(new Uint8Array(Number(len)));
  }
  blockingWriteZeroesAndFlush(len: bigint): void {
    this.writeZeroes(len);
  }
  splice(src: InputStream, len: bigint): bigint {
    const b = src.read(len);
    this.write(b);
    return BigInt(b.length);
  }
  blockingSplice(src: InputStream, len: bigint): bigint {
    return this.splice(src, len);
  }
  subscribe(): Pollable {
    return new Pollable();
  }
  [Symbol.dispose](): void {
    this.#close?.();
  }
}

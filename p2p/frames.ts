/**
 * Reading a libp2p stream in exact-size pieces without ever holding more than asked for: the
 * reader keeps at most one chunk (the muxer's frame, ≤ 256 KiB with yamux) beyond what the caller
 * has consumed, and every read names its own limit.
 */
import type { Stream } from '@libp2p/interface';
import { P2PError } from './errors.ts';

type Chunk = Uint8Array | { subarray(): Uint8Array };

export class StreamReader {
  readonly #it: AsyncIterator<Chunk>;
  #buf: Uint8Array = new Uint8Array(0);
  #done = false;
  constructor(stream: AsyncIterable<Chunk>) {
    this.#it = stream[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#done) return false;
    const r = await this.#it.next();
    if (r.done === true) {
      this.#done = true;
      return false;
    }
    const c = r.value instanceof Uint8Array ? r.value : r.value.subarray();
    this.#buf = this.#buf.length === 0 ? c : concat(this.#buf, c);
    return true;
  }

  /** Exactly `n` bytes, or a coded error if the stream ends first. */
  async exact(n: number, what: string): Promise<Uint8Array> {
    while (this.#buf.length < n)
      if (!(await this.#fill()))
        throw new P2PError('DL_ERR_P2P_STREAM', `the stream ended inside ${what} (${this.#buf.length} of ${n} bytes)`, {
          field: what,
        });
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** The next chunk of at most `max` bytes, or null at the end. */
  async chunk(max: number): Promise<Uint8Array | null> {
    if (this.#buf.length === 0 && !(await this.#fill())) return null;
    const out = this.#buf.subarray(0, Math.min(max, this.#buf.length));
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  /** A 4-byte big-endian length, then that many bytes (≤ max); null at a clean end. */
  async frame(max: number, what: string): Promise<Uint8Array | null> {
    if (this.#buf.length === 0 && !(await this.#fill())) return null;
    const head = await this.exact(4, what);
    const n = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
    if (n > max)
      throw new P2PError('DL_ERR_P2P_TOO_LARGE', `${what} of ${n} bytes is over the ${max}-byte limit`, {
        field: what,
      });
    return (await this.exact(n, what)).slice();
  }

  /** True if the peer sent nothing more. */
  async atEnd(): Promise<boolean> {
    return this.#buf.length === 0 && !(await this.#fill());
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** Sends with backpressure: waits for 'drain' when the stream's write buffer is full. */
export async function send(stream: Stream, data: Uint8Array): Promise<void> {
  if (!stream.send(data)) await stream.onDrain();
}

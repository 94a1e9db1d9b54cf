/**
 * Reading a libp2p stream in exact-size pieces without ever holding more than asked for: the
 * reader keeps at most one chunk (what the muxer delivered at once, bounded by its receive window)
 * beyond what the caller has consumed, and every read names its own limit.
 */
import type { Stream } from '@libp2p/interface';
import { P2PError } from './errors.ts';

// What a libp2p stream yields: a Uint8Array or a Uint8ArrayList (an iterable of its parts; a 10 MiB
// transfer arrives as lists of 9 to 145 parts). Parts are queued as they are, never concatenated
// unless a read spans them: concatenating every list cost a copy of each bundle (bench:p2p, 10 MiB).
type Chunk = Uint8Array | Iterable<Uint8Array>;

export class StreamReader {
  readonly #it: AsyncIterator<Chunk>;
  readonly #parts: Uint8Array[] = [];
  #length = 0;
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
    for (const part of r.value instanceof Uint8Array ? [r.value] : r.value)
      if (part.length > 0) {
        this.#parts.push(part);
        this.#length += part.length;
      }
    return true;
  }

  /** Takes `n` ≤ the buffered length off the front: a view when one part holds it, else a copy. */
  #take(n: number): Uint8Array {
    const first = this.#parts[0]!;
    if (first.length >= n) {
      this.#length -= n;
      if (first.length === n) this.#parts.shift();
      else this.#parts[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    for (let at = 0; at < n; ) {
      const p = this.#parts[0]!;
      const k = Math.min(p.length, n - at);
      out.set(p.subarray(0, k), at);
      at += k;
      this.#length -= k;
      if (k === p.length) this.#parts.shift();
      else this.#parts[0] = p.subarray(k);
    }
    return out;
  }

  /** Exactly `n` bytes, or a coded error if the stream ends first. */
  async exact(n: number, what: string): Promise<Uint8Array> {
    while (this.#length < n)
      if (!(await this.#fill()))
        throw new P2PError('DL_ERR_P2P_STREAM', `the stream ended inside ${what} (${this.#length} of ${n} bytes)`, {
          field: what,
        });
    return n === 0 ? new Uint8Array(0) : this.#take(n);
  }

  /** The next piece of at most `max` bytes (never a copy), or null at the end. */
  async chunk(max: number): Promise<Uint8Array | null> {
    while (this.#length === 0) if (!(await this.#fill())) return null;
    return this.#take(Math.min(max, this.#parts[0]!.length));
  }

  /** A 4-byte big-endian length, then that many bytes (≤ max); null at a clean end. */
  async frame(max: number, what: string): Promise<Uint8Array | null> {
    while (this.#length === 0) if (!(await this.#fill())) return null;
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
    while (this.#length === 0) if (!(await this.#fill())) return true;
    return false;
  }
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

/**
 * A service's recent output, read from the engine as a stream and kept to a byte budget. `tail`
 * counts lines, and a line can be 16 KiB, so the last 10 000 lines of a service that writes long
 * lines are its whole log (up to the json-file cap, ~30 MB): buffered whole, a few concurrent
 * requests would take the broker's memory, and with it every owner's API and the breaker.
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';

/** The most bytes of each stream (stdout, stderr) a logs answer carries: the newest ones. */
export const LOG_BYTES_MAX = 1024 * 1024;

/** Keeps the last `max` bytes pushed into it, in memory bounded by about twice that. */
class TailBytes {
  #chunks: Buffer[] = [];
  #size = 0;
  #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  push(b: Buffer): void {
    this.#chunks.push(b);
    this.#size += b.length;
    if (this.#size > 2 * this.#max) this.#compact();
  }

  #compact(): void {
    const all = Buffer.concat(this.#chunks);
    // A copy, so the engine's large chunks are not kept alive by a small view.
    const keep = Buffer.from(all.subarray(Math.max(0, all.length - this.#max)));
    this.#chunks = [keep];
    this.#size = keep.length;
  }

  text(): string {
    this.#compact();
    let start = 0;
    // A cut inside a UTF-8 sequence: start at the next whole character.
    const b = this.#chunks[0]!;
    if (this.#size === this.#max) while (start < b.length && (b[start]! & 0xc0) === 0x80) start++;
    return b.subarray(start).toString('utf8');
  }
}

/**
 * Reads the last `tail` lines of a container's output, at most `LOG_BYTES_MAX` of each stream.
 * Docker multiplexes them in frames (8-byte header: stream, 0, 0, 0, u32 BE length), which may be
 * split across chunks.
 * @param container - the engine's handle on the container (never a TTY: the broker sets none)
 * @param tail - lines from the end
 * @returns the newest output of each stream
 */
export async function readLogTail(
  container: Docker.Container,
  tail: number,
  maxBytes = LOG_BYTES_MAX,
): Promise<{ stdout: string; stderr: string }> {
  // follow: false with a stream: dockerode only streams when following, so dial as it does.
  const stream = await new Promise<Readable>((resolve, reject) => {
    container.modem.dial(
      {
        path: `/containers/${container.id}/logs?`,
        method: 'GET',
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
        options: { stdout: true, stderr: true, tail, follow: false },
      },
      (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as Readable)),
    );
  });
  const out = new TailBytes(maxBytes);
  const err = new TailBytes(maxBytes);
  let pending: Buffer = Buffer.alloc(0);
  let need = 0;
  let target = out;
  for await (const chunk of stream) {
    const buf: Buffer = pending.length > 0 ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
    pending = Buffer.alloc(0);
    let i = 0;
    while (i < buf.length) {
      if (need > 0) {
        const n = Math.min(need, buf.length - i);
        target.push(buf.subarray(i, i + n));
        i += n;
        need -= n;
        continue;
      }
      if (buf.length - i < 8) {
        pending = Buffer.from(buf.subarray(i));
        break;
      }
      target = buf[i] === 2 ? err : out;
      need = buf.readUInt32BE(i + 4);
      i += 8;
    }
  }
  return { stdout: out.text(), stderr: err.text() };
}

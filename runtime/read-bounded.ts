/**
 * Reads a whole file, pipe or device up to a byte cap. `readFileSync` reads until end of file,
 * which `/dev/zero`, `yes |` or a named pipe never reach: a cap turns those into a coded error
 * instead of a process that fills memory. The manifest loader and the CLI's own reads (modules,
 * bundles, stdin: cli/io.ts `readInput`) use it; it imports only the errors, so the CLI may take it
 * (test/internals/layers.test.ts).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { InputError } from '../errors/index.ts';

const CHUNK = 1 << 20;

/**
 * @param path - a file path, or `-` for our stdin (fd 0, left open).
 * @param what - what the file is, for messages ("module", "stdin").
 * @param maxBytes - the largest content accepted.
 * @param why - why `maxBytes` is the cap, for the message.
 * @returns the content, in a Uint8Array of its own (its buffer may be handed to a worker).
 * @throws {InputError} `DL_ERR_CLI_READ` when it cannot be read (its errno in the message),
 *   `DL_ERR_CLI_TOO_LARGE` past `maxBytes` (a regular file before a byte is read).
 */
export function readBounded(path: string, what: string, maxBytes: number, why = 'the most docklock reads'): Uint8Array {
  const own = path !== '-';
  let fd: number | undefined;
  try {
    fd = own ? openSync(path, 'r') : 0;
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    if (st.isFile() && st.size > maxBytes) throw tooLarge(path, what, maxBytes, why);
    const chunks: Buffer[] = [];
    let total = 0;
    // A regular file usually fits the first chunk (its size, plus one byte to see its end).
    let chunk = Buffer.allocUnsafe(st.isFile() ? Math.min(st.size + 1, CHUNK) : CHUNK);
    let filled = 0;
    for (;;) {
      // Each chunk is filled before the next is made: a pipe answers 64 KiB at a time, and a
      // chunk kept per read would hold 16 times the data it carries.
      const n = readSync(fd, chunk, filled, chunk.length - filled, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw tooLarge(path, what, maxBytes, why);
      filled += n;
      if (filled === chunk.length) {
        chunks.push(chunk);
        chunk = Buffer.allocUnsafe(CHUNK);
        filled = 0;
      }
    }
    if (filled > 0) chunks.push(chunk.subarray(0, filled));
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(
      'DL_ERR_CLI_READ',
      `cannot read ${what} "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { field: what },
    );
  } finally {
    if (own && fd !== undefined) closeSync(fd);
  }
}

function tooLarge(path: string, what: string, maxBytes: number, why: string): InputError {
  const size = maxBytes % 2 ** 30 === 0 ? `${maxBytes / 2 ** 30} GiB` : `${maxBytes / 2 ** 20} MiB`;
  return new InputError('DL_ERR_CLI_TOO_LARGE', `${what} "${path}" is larger than ${size}, ${why}`, {
    field: what,
  });
}

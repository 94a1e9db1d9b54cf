/**
 * `/docklock/bundle/1`: fetch a bundle by its BLAKE3 hash (docs/p2p.md, "Bundle exchange");
 * `/docklock/bundles/1`: fetch several in one stream (a replayer assigned several claims of one
 * batch fetches their bundles from the claimer at once: one stream, not one each).
 *
 * ```
 * bundle/1   request:  hash (32 bytes), then the requester closes its write side
 *            response: status (1 byte: 0 ok, 1 not found, 2 over the server's cap), size (8 bytes, big-endian, ok only), then `size` bytes
 * bundles/1  request:  count (1 byte, 1..64), count hashes (32 bytes each), then the requester closes its write side
 *            response: for each hash in order, the bundle/1 response
 * ```
 *
 * The requester refuses a size over its own cap before reading a byte of the body, allocates
 * exactly `size` bytes, rejects a stream that runs past `size` or ends early, and hashes the
 * bytes before handing them on, rejecting any that hash to anything else: it never holds more
 * than the cap.
 */
import type { Stream } from '@libp2p/interface';
import type { BundleStore } from './bundles.ts';
import { P2PError } from './errors.ts';
import { send, type StreamReader } from './frames.ts';
import { sendRequest, serveStream } from './stream-protocol.ts';
import { blake3 } from '../index.ts';
import { equalBytes, hex } from './wire.ts';

export const BUNDLE_PROTOCOL = '/docklock/bundle/1';
export const BUNDLES_PROTOCOL = '/docklock/bundles/1';
/** Most bundles one `/docklock/bundles/1` request names. */
export const MAX_BUNDLES_PER_REQUEST = 64;
const OK = 0;
const NOT_FOUND = 1;
const TOO_LARGE = 2;

function header(status: number, size = 0): Uint8Array {
  const b = new Uint8Array(status === OK ? 9 : 1);
  b[0] = status;
  if (status === OK) new DataView(b.buffer).setBigUint64(1, BigInt(size));
  return b;
}

/** Serves one request. Never throws: a bad request is answered or aborted. */
export function serveBundle(stream: Stream, store: BundleStore, cap: number): Promise<void> {
  return serveStream(stream, async (reader) => {
    const hash = hex(await reader.exact(32, 'bundle request'));
    if (!(await reader.atEnd()))
      throw new P2PError('DL_ERR_P2P_STREAM', 'a bundle request is 32 bytes', { field: 'bundle request' });
    await answer(stream, store, cap, hash);
  });
}

/**
 * Serves one request for several bundles, answering each in order. One request is served at most
 * `cap` bytes in all, what a single `/docklock/bundle/1` request may cost: a bundle past that budget
 * is answered "over the cap" (the requester fetches it alone), so a peer gains no amplification by
 * naming 64 large bundles at once. Never throws.
 */
export function serveBundles(stream: Stream, store: BundleStore, cap: number): Promise<void> {
  return serveStream(stream, async (reader) => {
    const n = (await reader.exact(1, 'bundles request'))[0]!;
    if (n === 0 || n > MAX_BUNDLES_PER_REQUEST)
      throw new P2PError('DL_ERR_P2P_STREAM', `a bundles request names 1 to ${MAX_BUNDLES_PER_REQUEST} hashes`, {
        field: 'bundles request',
      });
    const hashes = await reader.exact(32 * n, 'bundles request');
    if (!(await reader.atEnd()))
      throw new P2PError('DL_ERR_P2P_STREAM', 'a bundles request is a count and that many hashes', {
        field: 'bundles request',
      });
    let budget = cap;
    for (let i = 0; i < n; i++)
      budget -= await answer(stream, store, Math.min(cap, budget), hex(hashes.subarray(32 * i, 32 * i + 32)));
  });
}

/** Answers one hash; returns the bytes sent of the bundle (0 unless served). */
async function answer(stream: Stream, store: BundleStore, cap: number, hash: string): Promise<number> {
  const size = store.size(hash);
  if (size === undefined) {
    await send(stream, header(NOT_FOUND));
    return 0;
  }
  if (size > cap) {
    await send(stream, header(TOO_LARGE));
    return 0;
  }
  await send(stream, header(OK, size));
  const mem = store.recent(hash);
  if (mem !== undefined) await send(stream, mem);
  else for await (const chunk of store.stream(hash)) await send(stream, chunk as Buffer);
  return size;
}

/**
 * Fetches a bundle over an open stream and checks it.
 * @returns the bundle bytes (exactly what hashes to `hash`)
 * @throws {P2PError} `DL_ERR_P2P_BUNDLE_NOT_FOUND`, `DL_ERR_P2P_BUNDLE_TOO_LARGE`,
 *   `DL_ERR_P2P_BUNDLE_HASH` (junk: wrong hash, too long, too short), `DL_ERR_P2P_STREAM`
 */
export async function fetchBundleOver(
  stream: Stream,
  hash: Uint8Array,
  cap: number,
  expectedSize?: number,
): Promise<Uint8Array> {
  const reader = await sendRequest(stream, hash);
  const out = await readOne(reader, hash, cap, expectedSize);
  if (!(await reader.atEnd()))
    throw new P2PError('DL_ERR_P2P_BUNDLE_HASH', `the peer sent more than the ${out.length} bytes it announced`, {
      field: 'bundle',
    });
  return out;
}

/**
 * Fetches several bundles over one open stream (`/docklock/bundles/1`), each checked as
 * {@link fetchBundleOver} checks one. A bundle the peer does not hold (or holds over its cap) is a
 * coded error in its place; junk (a wrong size or hash, a short or overlong stream) throws.
 * @returns per wanted bundle, its bytes or the coded error
 * @throws {P2PError} `DL_ERR_P2P_BUNDLE_HASH`, `DL_ERR_P2P_BUNDLE_TOO_LARGE`, `DL_ERR_P2P_STREAM`
 */
export async function fetchBundlesOver(
  stream: Stream,
  wants: readonly { hash: Uint8Array; size: number }[],
  cap: number,
): Promise<(Uint8Array | P2PError)[]> {
  if (wants.length === 0 || wants.length > MAX_BUNDLES_PER_REQUEST)
    throw new P2PError('DL_ERR_P2P_STREAM', `a bundles request names 1 to ${MAX_BUNDLES_PER_REQUEST} hashes`, {
      field: 'bundles request',
    });
  const request = new Uint8Array(1 + 32 * wants.length);
  request[0] = wants.length;
  wants.forEach((w, i) => request.set(w.hash, 1 + 32 * i));
  const reader = await sendRequest(stream, request);
  const out: (Uint8Array | P2PError)[] = [];
  for (const w of wants) {
    try {
      out.push(await readOne(reader, w.hash, cap, w.size));
    } catch (e) {
      const code = (e as P2PError).code;
      if (code !== 'DL_ERR_P2P_BUNDLE_NOT_FOUND' && !(code === 'DL_ERR_P2P_BUNDLE_TOO_LARGE' && e instanceof Refused))
        throw e;
      out.push(e as P2PError);
    }
  }
  if (!(await reader.atEnd()))
    throw new P2PError('DL_ERR_P2P_BUNDLE_HASH', 'the peer sent more than the bundles asked for', { field: 'bundle' });
  return out;
}

/** The peer's own refusal (status 2): the stream goes on with the next bundle. */
class Refused extends P2PError {}

/** Reads one bundle/1 response off the stream and checks it (the stream stays open for the next). */
async function readOne(
  reader: StreamReader,
  hash: Uint8Array,
  cap: number,
  expectedSize: number | undefined,
): Promise<Uint8Array> {
  const status = (await reader.exact(1, 'bundle status'))[0];
  if (status === NOT_FOUND)
    throw new P2PError('DL_ERR_P2P_BUNDLE_NOT_FOUND', `the peer does not hold bundle ${hex(hash)}`, {
      field: 'bundle',
    });
  if (status === TOO_LARGE)
    throw new Refused('DL_ERR_P2P_BUNDLE_TOO_LARGE', `bundle ${hex(hash)} is over the peer's size cap`, {
      field: 'bundle',
    });
  if (status !== OK)
    throw new P2PError('DL_ERR_P2P_STREAM', `unknown bundle status ${status}`, { field: 'bundle status' });
  const head = await reader.exact(8, 'bundle size');
  const size64 = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0);
  if (size64 > BigInt(cap))
    throw new P2PError(
      'DL_ERR_P2P_BUNDLE_TOO_LARGE',
      `the peer offers ${size64} bytes for bundle ${hex(hash)}, over the ${cap}-byte cap (limits.bundleBytes)`,
      { field: 'bundle' },
    );
  const size = Number(size64);
  if (expectedSize !== undefined && size !== expectedSize)
    throw new P2PError(
      'DL_ERR_P2P_BUNDLE_HASH',
      `the peer offers ${size} bytes; the claim says the bundle has ${expectedSize}`,
      { field: 'bundle' },
    );
  const out = new Uint8Array(size);
  await receive(reader, out);
  // Hashed once the bytes are in: the native hasher takes one pass over memory, cheaper than a
  // call per chunk, and nothing is handed on before the check.
  if (!equalBytes(blake3(out), hash))
    throw new P2PError('DL_ERR_P2P_BUNDLE_HASH', `the bytes received do not hash to ${hex(hash)}`, { field: 'bundle' });
  return out;
}

/** Fills `out` from the stream. */
async function receive(reader: StreamReader, out: Uint8Array): Promise<void> {
  const size = out.length;
  let at = 0;
  while (at < size) {
    const c = await reader.chunk(size - at);
    if (c === null)
      throw new P2PError('DL_ERR_P2P_BUNDLE_HASH', `the stream ended after ${at} of ${size} bundle bytes`, {
        field: 'bundle',
      });
    out.set(c, at);
    at += c.length;
  }
}

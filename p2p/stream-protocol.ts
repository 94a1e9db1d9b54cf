/**
 * The request/response shape both stream protocols share (`/docklock/bundle/1`,
 * `/docklock/sync/1`): the requester sends one request and closes its write side; the server reads
 * it, answers and closes, and a server that fails for any reason (a junk request, a peer that
 * vanished) aborts the stream instead of throwing into libp2p.
 */
import type { Stream } from '@libp2p/interface';
import { send, StreamReader } from './frames.ts';

/** Inbound and outbound streams per connection for each protocol (a peer cannot open hundreds). */
export const STREAM_LIMITS = { maxInboundStreams: 8, maxOutboundStreams: 16 } as const;
/** How long a dial plus a protocol negotiation may take before a fetch or sync gives up on a peer. */
export const DIAL_TIMEOUT_MS = 30_000;

/** Runs a server handler on an inbound stream. Never throws: a failed handler aborts the stream. */
export async function serveStream(
  stream: Stream,
  handle: (reader: StreamReader, stream: Stream) => Promise<void>,
): Promise<void> {
  try {
    await handle(new StreamReader(stream), stream);
    await stream.close();
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)));
  }
}

/** Sends a whole request, closes the write side (the request is complete) and returns the reply's reader. */
export async function sendRequest(stream: Stream, request: Uint8Array): Promise<StreamReader> {
  await send(stream, request);
  await stream.close();
  return new StreamReader(stream);
}

/**
 * `/docklock/sync/2`: catch-up after downtime or a partition (docs/p2p.md, "Catch-up").
 *
 * ```
 * request:  frame(["docklock/sync", 1, from ms, to ms, limit])        the requester closes its write side
 * response: frame(envelope)* : claims issued in [from, to), then their verdicts, at most `limit` of each
 * ```
 * Frames are a 4-byte big-endian length and that many bytes; each envelope is checked by the
 * requester exactly as a gossip message is, so a syncing peer gains no trust.
 */
import type { Stream } from '@libp2p/interface';
import { P2PError } from './errors.ts';
import { frame, send } from './frames.ts';
import { sendRequest, serveStream } from './stream-protocol.ts';
import { MAX_MESSAGE_BYTES } from './messages.ts';
import type { Store } from './store.ts';
import { Fields, pack, unpackCanonical } from './wire.ts';

/** Version 2 serves messages of batches too (7-field envelopes, docs/p2p.md), which version 1 nodes cannot read. */
export const SYNC_PROTOCOL = '/docklock/sync/2';
const SYNC_KIND = 'docklock/sync';
const SYNC_VERSION = 2;

export interface SyncRequest {
  from: number;
  to: number;
  limit: number;
}

export function serveSync(stream: Stream, store: Store, maxItems: number): Promise<void> {
  return serveStream(stream, async (reader) => {
    const req = await reader.frame(256, 'sync request');
    if (req === null) throw new P2PError('DL_ERR_P2P_STREAM', 'empty sync request', { field: 'sync request' });
    const f = new Fields(unpackCanonical(req, 'sync request'), 'sync request', 5);
    f.literal(SYNC_KIND);
    f.literal(SYNC_VERSION);
    const from = f.uint();
    const to = f.uint();
    const limit = Math.min(f.uint(), maxItems);
    const w = store.window(from, to, limit);
    for (const env of [...w.claims, ...w.verdicts]) await send(stream, frame(env));
  });
}

/**
 * Asks a peer for a window; `onEnvelope` sees each envelope (unchecked) as it arrives.
 * @returns how many envelopes arrived
 */
export async function requestSync(
  stream: Stream,
  req: SyncRequest,
  maxItems: number,
  onEnvelope: (env: Uint8Array) => Promise<void>,
): Promise<number> {
  const reader = await sendRequest(stream, frame(pack([SYNC_KIND, SYNC_VERSION, req.from, req.to, req.limit])));
  let n = 0;
  for (;;) {
    const env = await reader.frame(MAX_MESSAGE_BYTES, 'sync item');
    if (env === null) return n;
    if (++n > 2 * maxItems)
      throw new P2PError('DL_ERR_P2P_STREAM', `the peer sent more than the ${2 * maxItems} items asked for`, {
        field: 'sync',
      });
    await onEnvelope(env);
  }
}

/**
 * Peer exchange: each node announces its own signed addresses on {@link PEERS_TOPIC} with
 * `@libp2p/pubsub-peer-discovery`, so a node that bootstraps from one peer meets the rest (its own
 * topic, not the library's global one). This file holds the check every node applies to an
 * announcement before it is forwarded or dialled.
 */
import { publicKeyToProtobuf } from '@libp2p/crypto/keys';
import type { SignedMessage } from '@libp2p/gossipsub';
import { equalBytes } from './wire.ts';

export const PEERS_TOPIC = 'docklock/peers/1';
/** Largest announcement accepted: a public key and a handful of addresses. */
export const MAX_ANNOUNCEMENT_BYTES = 2048;

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}

/**
 * Whether an announcement (protobuf `Peer { bytes publicKey = 1; repeated bytes addrs = 2; }`)
 * announces the key that signed it: anyone may relay an announcement, nobody may speak for
 * another peer.
 */
export function announcesItsSigner(msg: SignedMessage): boolean {
  const key = publicKeyToProtobuf(msg.key);
  const head = [0x0a, ...varint(key.length)];
  return (
    msg.data.length >= head.length + key.length &&
    head.every((b, i) => msg.data[i] === b) &&
    equalBytes(msg.data.subarray(head.length, head.length + key.length), key)
  );
}

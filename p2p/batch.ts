/**
 * Signed batches: several claims (or several verdicts) of one signer as ONE gossip message
 * (docs/p2p.md, "Batches"). Under load a node has many messages ready within milliseconds, and
 * every gossip message costs each receiver libp2p's StrictSign check, our Ed25519 check, and its
 * share of gossipsub, Yamux, Noise and TCP writes (bench:p2p profile): a batch pays these once.
 *
 * ```
 * batch    = ["docklock/batch", 1, kind, signer (32), [body, …] (1..64), signature (64)]
 * signed   = "docklock/p2p/batch/1\0" ‖ kind ‖ "\0" ‖ u32be(count) ‖ MerkleRoot(bodies)
 * message  = [kind, body, signature, root, index, count, path]      (one per body, self-verifying)
 * ```
 *
 * A batch is all or nothing: every body must decode, be of the batch's kind and name the batch's
 * signer, no body may appear twice, and a receiver refuses the whole batch (and penalises its
 * sender) for any bad item: fail closed, since an honest signer never makes one.
 */
import { blake3 } from '../index.ts';
import {
  batchSigningBytes,
  leafHash,
  MAX_BATCH_ITEMS,
  merkleLevels,
  pathOf,
  rootOf,
  verifyBatchSignature,
} from './batch-proof.ts';
import { P2PError } from './errors.ts';
import { sign, type NodeKey } from './keys.ts';
import {
  batchedEnvelope,
  CLAIM_KIND,
  decodeBody,
  MAX_MESSAGE_BYTES,
  opened,
  VERDICT_KIND,
  type MessageKind,
  type Opened,
  type Sealed,
} from './messages.ts';
import { equalBytes, Fields, hex, pack, unpackCanonical } from './wire.ts';

export { MAX_BATCH_ITEMS } from './batch-proof.ts';
export const BATCH_KIND = 'docklock/batch';
export const BATCH_VERSION = 1;
/** Largest batch on the wire (gossipsub's own inbound cap is set above it). */
export const MAX_BATCH_BYTES = 128 * 1024;
/**
 * Largest body in a batch: its message envelope adds root, signature, index, count and a path of up
 * to 6 hashes (~330 bytes) and must stay within {@link MAX_MESSAGE_BYTES}, like any message.
 */
export const MAX_BATCHED_BODY_BYTES = MAX_MESSAGE_BYTES - 1024;

/** A batch taken apart: bodies undecoded, signature unchecked. */
export interface Batch {
  kind: MessageKind;
  signer: Uint8Array;
  bodies: Uint8Array[];
  signature: Uint8Array;
  /** BLAKE3(body) of each body: the message ids. */
  ids: Uint8Array[];
  idHex: string[];
}

function batchError(message: string): P2PError {
  return new P2PError('DL_ERR_P2P_BATCH', message, { field: 'batch' });
}

/**
 * Signs bodies (all of `kind`, all naming `key`) as one batch.
 * @returns the gossip message and each body's own envelope, in order
 */
export async function signBatch(
  key: NodeKey,
  kind: MessageKind,
  bodies: readonly Uint8Array[],
): Promise<{ batch: Uint8Array; envelopes: Uint8Array[] }> {
  if (bodies.length === 0 || bodies.length > MAX_BATCH_ITEMS)
    throw batchError(`a batch holds 1 to ${MAX_BATCH_ITEMS} messages, not ${bodies.length}`);
  const levels = merkleLevels(bodies.map(leafHash));
  const root = rootOf(levels);
  const signature = await sign(key, batchSigningBytes(kind, bodies.length, root));
  const envelopes = bodies.map((b, index) =>
    batchedEnvelope(kind, b, signature, { root, index, size: bodies.length, path: pathOf(levels, index) }),
  );
  return { batch: pack([BATCH_KIND, BATCH_VERSION, kind, key.publicKey, bodies, signature]), envelopes };
}

/**
 * Takes a batch apart (size, canonical form, shape, version, count, body sizes, no body twice)
 * without decoding a body or checking the signature: enough to drop what is already held.
 * @throws {P2PError} `DL_ERR_P2P_TOO_LARGE`, `DL_ERR_P2P_MALFORMED`, `DL_ERR_P2P_SCHEMA`,
 *   `DL_ERR_P2P_VERSION`, `DL_ERR_P2P_BATCH`
 */
export function decodeBatch(data: Uint8Array): Batch {
  if (data.length > MAX_BATCH_BYTES)
    throw new P2PError(
      'DL_ERR_P2P_TOO_LARGE',
      `batch of ${data.length} bytes is over the ${MAX_BATCH_BYTES}-byte limit`,
      { field: 'batch' },
    );
  const value = unpackCanonical(data, 'batch');
  if (Array.isArray(value) && (value[0] === CLAIM_KIND || value[0] === VERDICT_KIND))
    throw new P2PError(
      'DL_ERR_P2P_VERSION',
      'a single message where a batch belongs: claims and verdicts are gossiped in batches (docs/p2p.md, "Batches")',
      { field: 'batch' },
    );
  const f = new Fields(value, 'batch', 6);
  f.literal(BATCH_KIND);
  f.literal(BATCH_VERSION);
  const kind = f.oneOf([CLAIM_KIND, VERDICT_KIND] as const);
  const signer = f.bytes(32);
  const raw = f.array(MAX_BATCH_ITEMS);
  const signature = f.bytes(64);
  if (raw.length === 0) throw batchError('a batch holds at least one message');
  const bodies = raw.map((b, i) => {
    if (!(b instanceof Uint8Array) || b.length > MAX_BATCHED_BODY_BYTES)
      throw new P2PError('DL_ERR_P2P_SCHEMA', `batch body ${i} must be bytes (≤ ${MAX_BATCHED_BODY_BYTES})`, {
        field: `batch.bodies[${i}]`,
      });
    return b;
  });
  const ids = bodies.map((b) => blake3(b));
  const idHex = ids.map(hex);
  if (new Set(idHex).size !== idHex.length) throw batchError('a batch carries the same message twice');
  return { kind, signer, bodies, signature, ids, idHex };
}

/**
 * Decodes the bodies at `indices` (all of them when omitted), checks each names the batch's signer,
 * and checks the batch signature once (unless `signedHere`). The signature covers every body, so
 * bodies the caller already holds are hashed into the root but not decoded again.
 * @returns the opened messages at `indices`, each with its own self-verifying envelope
 * @throws {P2PError} `DL_ERR_P2P_MALFORMED`, `DL_ERR_P2P_SCHEMA`, `DL_ERR_P2P_VERSION`,
 *   `DL_ERR_P2P_BATCH` (a body signed by another key), `DL_ERR_P2P_BAD_SIGNATURE`
 */
export async function openBatch(b: Batch, indices?: readonly number[], signedHere = false): Promise<Opened[]> {
  const at = indices ?? b.bodies.map((_, i) => i);
  const decoded = at.map((i) => {
    const d = decodeBody(b.kind, b.bodies[i]!);
    if (!equalBytes(d.signer, b.signer))
      throw batchError(`batch message ${i} is signed by another key than the batch (${hex(d.signer).slice(0, 16)}…)`);
    return d;
  });
  const levels = merkleLevels(b.bodies.map(leafHash));
  const root = rootOf(levels);
  const size = b.bodies.length;
  if (!signedHere && !(await verifyBatchSignature(b.signer, b.kind, size, root, b.signature)))
    throw new P2PError(
      'DL_ERR_P2P_BAD_SIGNATURE',
      `the ${b.kind} batch signature does not verify against its signer's key`,
      {
        field: 'signature',
      },
    );
  return at.map((index, j) => {
    const proof = { root, index, size, path: pathOf(levels, index) };
    const s: Sealed = {
      kind: b.kind,
      body: b.bodies[index]!,
      signature: b.signature,
      proof,
      envelope: batchedEnvelope(b.kind, b.bodies[index]!, b.signature, proof),
      id: b.ids[index]!,
      idHex: b.idHex[index]!,
    };
    return opened(s, decoded[j]!);
  });
}

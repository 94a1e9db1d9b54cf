/**
 * The node's Ed25519 identity: one key signs claims and verdicts and is the libp2p peer id, so a
 * verdict's signer is the peer that sent it. Signatures use libp2p's keys (RFC 8032 Ed25519 over
 * node:crypto); anyone holding a message checks it offline from the 32-byte public key it carries.
 *
 * Key file (mode 0600), JSON: `{"format":"docklock-node-key","version":1,"seed":"<64 hex>"}`.
 */
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id';
import { P2PError } from './errors.ts';
import { fromHex, hex } from './wire.ts';

export const KEY_FILE_FORMAT = 'docklock-node-key';
export const KEY_FILE_VERSION = 1;

/** A loaded identity: sign with it, publish its public key. */
export interface NodeKey {
  privateKey: Ed25519PrivateKey;
  /** 32-byte raw Ed25519 public key. */
  publicKey: Uint8Array;
  peerId: string;
}

export async function keyFromSeed(seed: Uint8Array): Promise<NodeKey> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed);
  return { privateKey, publicKey: privateKey.publicKey.raw, peerId: peerIdFromPrivateKey(privateKey).toString() };
}

/**
 * Writes a fresh key file (refusing to overwrite one).
 * @throws {P2PError} `DL_ERR_P2P_KEY_EXISTS`
 */
export async function generateKeyFile(path: string): Promise<NodeKey> {
  const seed = new Uint8Array(randomBytes(32));
  const key = await keyFromSeed(seed);
  try {
    writeFileSync(
      path,
      `${JSON.stringify({ format: KEY_FILE_FORMAT, version: KEY_FILE_VERSION, seed: hex(seed), peerId: key.peerId })}\n`,
      { flag: 'wx', mode: 0o600 },
    );
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new P2PError(
        'DL_ERR_P2P_KEY_EXISTS',
        `${path} already exists; a key file is never overwritten (choose another path)`,
        { field: 'key' },
      );
    throw new P2PError('DL_ERR_P2P_KEY_FILE', `cannot write key file ${path}: ${code ?? (e as Error).message}`, {
      field: 'key',
    });
  }
  chmodSync(path, 0o600);
  return key;
}

/**
 * Reads a key file, checking its permissions and shape.
 * @throws {P2PError} `DL_ERR_P2P_KEY_FILE` (unreadable, malformed), `DL_ERR_P2P_KEY_PERMISSIONS` (readable by others)
 */
export async function loadKeyFile(path: string): Promise<NodeKey> {
  let text: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0)
      throw new P2PError(
        'DL_ERR_P2P_KEY_PERMISSIONS',
        `key file ${path} is readable by other users; run chmod 600 ${path}`,
        { field: 'key' },
      );
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof P2PError) throw e;
    throw new P2PError(
      'DL_ERR_P2P_KEY_FILE',
      `cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (create one with docklock node keygen)`,
      { field: 'key' },
    );
  }
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new P2PError('DL_ERR_P2P_KEY_FILE', `key file ${path} is not JSON`, { field: 'key' });
  }
  const r = o as Record<string, unknown>;
  if (
    typeof o !== 'object' ||
    o === null ||
    r.format !== KEY_FILE_FORMAT ||
    r.version !== KEY_FILE_VERSION ||
    typeof r.seed !== 'string'
  ) {
    throw new P2PError(
      'DL_ERR_P2P_KEY_FILE',
      `key file ${path} is not a ${KEY_FILE_FORMAT} version ${KEY_FILE_VERSION} file`,
      { field: 'key' },
    );
  }
  return keyFromSeed(fromHex(r.seed, 32, 'seed'));
}

export async function sign(key: NodeKey, data: Uint8Array): Promise<Uint8Array> {
  return key.privateKey.sign(data);
}

// Parsed keys by their raw bytes: building a key object per check cost as much as the check itself
// (bench:p2p profile; libp2p's verify builds a node KeyObject from a JWK on every call, so checks
// go to node:crypto with a KeyObject made once). Bounded: a flood of new keys only empties the cache.
const keyCache = new Map<string, { key: KeyObject; peerId: string }>();
/** DER SubjectPublicKeyInfo prefix of a raw Ed25519 key (RFC 8410). */
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

function parsed(publicKey: Uint8Array): { key: KeyObject; peerId: string } {
  const k = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('hex');
  let hit = keyCache.get(k);
  if (hit === undefined) {
    const key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI, publicKey]),
      format: 'der',
      type: 'spki',
    });
    hit = { key, peerId: peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString() };
    if (keyCache.size >= 4096) keyCache.clear();
    keyCache.set(k, hit);
  }
  return hit;
}

/** Checks an Ed25519 signature; never throws (a malformed key or signature is simply invalid). */
export async function verifySignature(
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return verify(null, data, parsed(publicKey).key, signature);
  } catch {
    return false;
  }
}

/** The libp2p peer id of a raw Ed25519 public key. */
export function peerIdOf(publicKey: Uint8Array): string {
  return parsed(publicKey).peerId;
}

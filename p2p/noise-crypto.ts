/**
 * Noise's ciphers with each session key prepared once. The library's Node implementation passes the
 * raw 32-byte key to `createCipheriv` for every message, and Node turns it into a key object each
 * time: in the bench:p2p profile those key-slot helpers cost about half as much as the encryption
 * itself on the node's event loop. Here the key object is made once per key and reused; the cipher,
 * nonce, associated data and tag are exactly the library's (`@chainsafe/libp2p-noise/crypto`),
 * and small messages still go to its WebAssembly cipher, as the library chooses.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';

type NoiseCrypto = typeof defaultCrypto;
type Bytes = Parameters<NoiseCrypto['chaCha20Poly1305Encrypt']>[0];

const CHACHA_POLY1305 = 'chacha20-poly1305';
/** Below this size the library uses its WebAssembly cipher (faster than Node's for small payloads). */
const SMALL = 1200;
const TAG = 16;

// Key objects by the key array a cipher state holds for its session (the same array for every
// message), checked by content as well: comparing 32 bytes is far cheaper than preparing a key.
const keys = new WeakMap<Uint8Array, { raw: Uint8Array; key: KeyObject }>();

function keyOf(k: Uint8Array): KeyObject {
  const hit = keys.get(k);
  if (hit !== undefined && Buffer.compare(hit.raw, k) === 0) return hit.key;
  const key = createSecretKey(Buffer.from(k));
  keys.set(k, { raw: Uint8Array.from(k), key });
  return key;
}

function parts(b: Bytes): Iterable<Uint8Array> {
  return b instanceof Uint8Array ? [b] : b;
}

export const noiseCrypto: NoiseCrypto = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    if (plaintext.byteLength < SMALL) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
    const cipher = createCipheriv(CHACHA_POLY1305, keyOf(k), nonce, { authTagLength: TAG });
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
    const out: Buffer[] = [];
    for (const p of parts(plaintext)) out.push(cipher.update(p));
    out.push(cipher.final(), cipher.getAuthTag());
    return Buffer.concat(out, plaintext.byteLength + TAG);
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < SMALL) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst);
    const whole = ciphertext instanceof Uint8Array ? ciphertext : ciphertext.subarray();
    const textLength = whole.byteLength - TAG;
    const decipher = createDecipheriv(CHACHA_POLY1305, keyOf(k), nonce, { authTagLength: TAG });
    decipher.setAAD(ad, { plaintextLength: textLength });
    decipher.setAuthTag(whole.subarray(textLength));
    const text = decipher.update(whole.subarray(0, textLength));
    const final = decipher.final();
    return final.byteLength > 0 ? Buffer.concat([text, final]) : text;
  },
};

import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { Uint8ArrayList } from 'uint8arraylist';
import { noiseCrypto } from '../../p2p/noise-crypto.ts';

// The library takes lists of its own uint8arraylist version; ours has the same surface.
type Bytes = Parameters<typeof defaultCrypto.chaCha20Poly1305Encrypt>[0];
const list = (...parts: Uint8Array[]): Bytes => new Uint8ArrayList(...parts) as unknown as Bytes;
const bytes = (b: Bytes): Uint8Array => (b instanceof Uint8Array ? b : b.subarray());

describe("the node's Noise ciphers", () => {
  const k = randomBytes(32);
  const nonce = randomBytes(12);
  const ad = randomBytes(32);

  it('encrypt and decrypt exactly as the library does, whole or in parts, small and large', () => {
    for (const size of [0, 100, 1199, 1200, 4096, 65519]) {
      const pt = randomBytes(size);
      const split = list(pt.subarray(0, size >> 1), pt.subarray(size >> 1));
      const want = bytes(defaultCrypto.chaCha20Poly1305Encrypt(pt, nonce, ad, k));
      for (const input of [pt, split] as Bytes[]) {
        // The same key array twice: the second use takes the prepared key.
        for (let i = 0; i < 2; i++) {
          const got = bytes(noiseCrypto.chaCha20Poly1305Encrypt(input, nonce, ad, k));
          expect(Buffer.compare(got, want)).toBe(0);
          expect(Buffer.compare(bytes(noiseCrypto.chaCha20Poly1305Decrypt(got, nonce, ad, k)), pt)).toBe(0);
          const halves = list(got.subarray(0, 7), got.subarray(7));
          expect(Buffer.compare(bytes(noiseCrypto.chaCha20Poly1305Decrypt(halves, nonce, ad, k)), pt)).toBe(0);
        }
      }
    }
  });

  it('refuses a tampered message, and a key changed in place is not mistaken for the old one', () => {
    const pt = randomBytes(5000);
    const key = Uint8Array.from(k);
    const ct = bytes(noiseCrypto.chaCha20Poly1305Encrypt(pt, nonce, ad, key));
    const bad = Uint8Array.from(ct);
    bad[10]! ^= 1;
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(bad, nonce, ad, key)).toThrow();
    key[0]! ^= 1;
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(ct, nonce, ad, key)).toThrow();
    key[0]! ^= 1;
    expect(Buffer.compare(bytes(noiseCrypto.chaCha20Poly1305Decrypt(ct, nonce, ad, key)), pt)).toBe(0);
  });
});

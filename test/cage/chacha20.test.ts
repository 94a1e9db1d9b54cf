import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChaCha20Stream, CHUNK_BYTES } from '../../host-functions/random/chacha20.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const seq = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);

function take(s: ChaCha20Stream, n: number): Uint8Array {
  const out = new Uint8Array(n);
  s.fill(out);
  return out;
}

/** Independent implementation: OpenSSL's chacha20 via node:crypto (IV = LE counter ‖ nonce). */
function opensslKeystream(key: Uint8Array, nonce: Uint8Array, n: number): Uint8Array {
  const iv = Buffer.concat([Buffer.alloc(4), Buffer.from(nonce)]);
  const c = createCipheriv('chacha20', key, iv);
  return new Uint8Array(Buffer.concat([c.update(Buffer.alloc(n)), c.final()]));
}

describe('ChaCha20Stream', () => {
  it('matches RFC 8439 A.1 test vectors #1 and #2 (zero key, zero nonce, counters 0 and 1)', () => {
    const s = new ChaCha20Stream(new Uint8Array(32));
    expect(toHex(take(s, 64))).toBe(
      '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586',
    );
    expect(toHex(take(s, 64))).toBe(
      '9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f',
    );
    expect(s.position).toBe(128n);
  });

  it('matches RFC 8439 §2.3.2 block function test vector (block 1)', () => {
    const s = new ChaCha20Stream(seq(32), hex('000000090000004a00000000'));
    take(s, 64);
    expect(toHex(take(s, 64))).toBe(
      '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4ed2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e',
    );
  });

  it('matches RFC 8439 §2.4.2 encryption test vector (counter 1)', () => {
    const plaintext = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const s = new ChaCha20Stream(seq(32), hex('000000000000004a00000000'));
    take(s, 64);
    const ks = take(s, plaintext.length);
    const ct = plaintext.map((b, i) => b ^ ks[i]);
    expect(toHex(ct)).toBe(
      '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d',
    );
  });

  it('agrees with OpenSSL chacha20 across chunk boundaries', () => {
    const key = seq(32).map((b) => b * 7 + 3);
    const nonce = hex('0102030405060708090a0b0c');
    const n = CHUNK_BYTES * 3 + 77;
    expect(toHex(take(new ChaCha20Stream(key, nonce), n))).toBe(toHex(opensslKeystream(key, nonce, n)));
  });

  it('fill(3) + fill(61) equals fill(64)', () => {
    const key = seq(32);
    const a = new ChaCha20Stream(key);
    const b = new ChaCha20Stream(key);
    expect([...take(a, 3), ...take(a, 61)]).toEqual([...take(b, 64)]);
  });

  it('any split of fills equals one fill (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(fc.integer({ min: 0, max: 3 * CHUNK_BYTES }), { maxLength: 12 }),
        (key, sizes) => {
          const total = sizes.reduce((a, b) => a + b, 0);
          const whole = take(new ChaCha20Stream(key), total);
          const s = new ChaCha20Stream(key);
          const parts = new Uint8Array(total);
          let off = 0;
          for (const n of sizes) {
            parts.set(take(s, n), off);
            off += n;
          }
          expect(s.position).toBe(BigInt(total));
          expect(toHex(parts)).toBe(toHex(whole));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('copies the seed, so later mutation of the caller buffer does not change the stream', () => {
    const key = seq(32);
    const a = new ChaCha20Stream(key);
    key.fill(0);
    expect(toHex(take(a, 32))).toBe(toHex(take(new ChaCha20Stream(seq(32)), 32)));
  });

  it('rejects wrong key and nonce sizes with TypeError', () => {
    expect(() => new ChaCha20Stream(new Uint8Array(31))).toThrow(TypeError);
    expect(() => new ChaCha20Stream(new Uint8Array(32), new Uint8Array(8))).toThrow(/12 bytes, got 8 bytes/);
  });
});

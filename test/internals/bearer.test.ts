import { describe, expect, it } from 'vitest';
import { bearerToken, hashToken, matchToken } from '../../auth/bearer.ts';

describe('bearer tokens (broker, escrow and node APIs)', () => {
  const entries = [
    { sha256: hashToken('alpha'), who: 'a' },
    { sha256: hashToken('beta'), who: 'b' },
  ];

  it('finds the entry whose hash a presented token has, and no other', () => {
    expect(matchToken('beta', entries)?.who).toBe('b');
    expect(matchToken('alpha', entries)?.who).toBe('a');
    expect(matchToken('gamma', entries)).toBeUndefined();
    expect(matchToken('alpha', [])).toBeUndefined();
  });

  it('takes only "Bearer <1-512 visible ASCII characters>"', () => {
    expect(bearerToken('Bearer s3cret')).toBe('s3cret');
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('bearer s3cret')).toBeUndefined();
    expect(bearerToken('Bearer ')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(`Bearer ${'x'.repeat(513)}`)).toBeUndefined();
    expect(bearerToken(`Bearer ${'x'.repeat(512)}`)).toHaveLength(512);
  });

  it('stores SHA-256 in lowercase hex', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

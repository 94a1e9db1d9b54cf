/**
 * Bearer tokens, as the broker's, the escrow's and the node's HTTP APIs take them: configs keep
 * only a token's SHA-256, a presented token is hashed and compared with every configured hash in
 * constant time, and the loop never exits early, so timing reveals neither which entry matched
 * nor how much of a hash did. Each API maps "no token" and "unknown token" to its own coded error.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** A configured token: its SHA-256 (lowercase hex), and whatever the API attaches to it. */
export interface HashedToken {
  sha256: string;
}

/**
 * Hashes a token the way configs store it.
 * @param token - the secret bearer token
 * @returns lowercase hex SHA-256
 * @example hashToken('s3cret') // '…64 hex…'
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The token in an `Authorization` header value.
 * @param header - the raw header, expected `Bearer <token>` (1–512 visible ASCII characters)
 * @returns the token, or undefined when the header is missing or malformed
 * @example bearerToken('Bearer s3cret') // 's3cret'
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer ([\x21-\x7e]{1,512})$/.exec(header)?.[1];
}

/**
 * The configured entry a presented token matches, comparing against every entry.
 * @param token - the presented token
 * @param entries - configured entries (`sha256` of 64 hex digits each)
 * @returns the first matching entry, or undefined
 * @example matchToken('s3cret', [{ sha256: hashToken('s3cret'), role: 'admin' }]) // that entry
 */
export function matchToken<T extends HashedToken>(token: string, entries: readonly T[]): T | undefined {
  const presented = createHash('sha256').update(token, 'utf8').digest();
  let found: T | undefined;
  for (const t of entries) {
    // Configs admit only 64 hex digits, so both sides are 32 bytes.
    const equal = timingSafeEqual(presented, Buffer.from(t.sha256, 'hex'));
    if (equal && found === undefined) found = t;
  }
  return found;
}

/**
 * Bearer-token authentication. The config stores only SHA-256 hashes of tokens; a presented token
 * is hashed and compared with every configured hash in constant time, and the loop never exits
 * early, so timing reveals neither which entry matched nor how much of a hash did.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role, TokenEntry } from './config.ts';
import { Errors } from './errors.ts';

/** An authenticated caller. */
export interface Principal {
  name: string;
  role: Role;
}

/**
 * Hashes a token the way the config stores it.
 * @param token - the secret bearer token
 * @returns lowercase hex SHA-256
 * @example hashToken('s3cret') // '…64 hex…'
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Authenticates an `Authorization` header value.
 * @param header - the raw header, expected `Bearer <token>`
 * @param tokens - configured token hashes
 * @returns the principal
 * @throws {BrokerError} `DL_ERR_AUTH_UNAUTHENTICATED` when missing, malformed or unknown
 */
export function authenticate(header: string | undefined, tokens: readonly TokenEntry[]): Principal {
  if (header === undefined) throw Errors.unauthenticated('missing "Authorization: Bearer <token>" header');
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
  if (m === null) throw Errors.unauthenticated('expected "Authorization: Bearer <token>"');
  const presented = createHash('sha256').update(m[1]!, 'utf8').digest();
  let found: TokenEntry | undefined;
  for (const t of tokens) {
    const equal = timingSafeEqual(presented, Buffer.from(t.sha256, 'hex'));
    if (equal && found === undefined) found = t;
  }
  if (found === undefined) throw Errors.unauthenticated('unknown token');
  return { name: found.principal, role: found.role };
}

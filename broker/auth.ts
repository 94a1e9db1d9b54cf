/**
 * Bearer-token authentication of broker API callers (auth/bearer.ts compares in constant time).
 */
import { bearerToken, matchToken } from '../auth/bearer.ts';
import type { Role, TokenEntry } from './config.ts';
import { Errors } from './errors.ts';

export { hashToken } from '../auth/bearer.ts';

/** An authenticated caller. */
export interface Principal {
  name: string;
  role: Role;
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
  const token = bearerToken(header);
  if (token === undefined) throw Errors.unauthenticated('expected "Authorization: Bearer <token>"');
  const found = matchToken(token, tokens);
  if (found === undefined) throw Errors.unauthenticated('unknown token');
  return { name: found.principal, role: found.role };
}

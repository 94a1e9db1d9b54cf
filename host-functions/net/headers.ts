/**
 * HTTP header blocks of the recorded network (spec: spec/network.md#R2, #R4): the encoding a guest
 * builds and reads, and the request-header policy. One encoding both ways, so a C guest needs no
 * parser beyond splitting lines: zero or more `name ":" OWS value OWS CRLF` lines, in order, no
 * terminating empty line. The host writes response blocks as `name ": " value CRLF`.
 *
 * Everything here is a pure function of its arguments: a refusal depends on the guest's bytes only,
 * so a replay refuses exactly what the recording refused.
 */

/** At most this many request headers (fixed, not a manifest limit: see spec/network.md#R2). */
export const MAX_REQUEST_HEADERS = 64;
/** At most this many bytes in a request's header block. */
export const MAX_REQUEST_HEADER_BYTES = 8192;
/**
 * The transport's bound on a response's header section (status line included), passed to Node
 * explicitly so `--max-http-header-size` on the recording machine changes nothing.
 */
export const MAX_RESPONSE_HEADER_BYTES = 16384;

/** A field name is an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Names the transport writes or that steer the connection: a guest may not set them. `host` and
 * `content-length` pass when they say exactly what the transport sends anyway.
 */
const TRANSPORT_NAMES = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
]);

export type Header = [name: string, value: Uint8Array];

export type HeaderRefusal = { code: 'invalid' | 'limit'; message: string };

const latin1 = new TextDecoder('latin1');
const utf8 = new TextEncoder();

const isOws = (b: number): boolean => b === 0x20 || b === 0x09;

/**
 * Splits a header block into its lines. `strictValue` also refuses bytes a request value may not
 * carry (see {@link requestHeaders}); any block refuses NUL, a lone CR or LF, a missing final CRLF
 * and a name that is not a token.
 */
export function parseHeaderBlock(block: Uint8Array, strictValue: boolean): Header[] | HeaderRefusal {
  const out: Header[] = [];
  let at = 0;
  while (at < block.length) {
    let colon = at;
    while (colon < block.length && block[colon] !== 0x3a && block[colon] !== 0x0d && block[colon] !== 0x0a) colon++;
    const name = latin1.decode(block.subarray(at, colon));
    if (colon >= block.length || block[colon] !== 0x3a || !TOKEN.test(name))
      return { code: 'invalid', message: `header line ${out.length + 1}: the name is not an RFC 9110 token` };
    let end = colon + 1;
    while (end < block.length && block[end] !== 0x0d && block[end] !== 0x0a) end++;
    if (block[end] !== 0x0d || block[end + 1] !== 0x0a)
      return { code: 'invalid', message: `header "${name}": the line does not end with CRLF` };
    let v0 = colon + 1;
    let v1 = end;
    while (v0 < v1 && isOws(block[v0]!)) v0++;
    while (v1 > v0 && isOws(block[v1 - 1]!)) v1--;
    const value = block.slice(v0, v1);
    for (const b of value) {
      if (b === 0) return { code: 'invalid', message: `header "${name}": the value contains NUL` };
      // HTAB, SP and visible ASCII: Node would send bytes >= 0x80 re-encoded as UTF-8, not as given.
      if (strictValue && b !== 0x09 && (b < 0x20 || b > 0x7e))
        return { code: 'invalid', message: `header "${name}": the value has a byte outside HTAB, SP and VCHAR` };
    }
    out.push([name, value]);
    at = end + 2;
  }
  return out;
}

/** Whether `name` is an RFC 9110 token (a field name). */
export function isToken(name: string): boolean {
  return TOKEN.test(name);
}

/** The block of `headers`: `name ": " value CRLF` each (a name that is not a token would not parse back). */
export function encodeHeaderBlock(headers: readonly Header[]): Uint8Array {
  const names = headers.map(([n]) => utf8.encode(`${n}: `));
  let size = 0;
  for (const [i, [, v]] of headers.entries()) size += names[i]!.length + v.length + 2;
  const out = new Uint8Array(size);
  let at = 0;
  for (const [i, [, v]] of headers.entries()) {
    out.set(names[i]!, at);
    at += names[i]!.length;
    out.set(v, at);
    at += v.length;
    out[at++] = 0x0d;
    out[at++] = 0x0a;
  }
  return out;
}

/** A request's headers as the transport sends them, after the policy. */
export interface RequestHeaders {
  /** The guest's headers to send, in its order, without `host` and `content-length`. */
  send: [string, string][];
  /** Whether the guest set `user-agent` (else the transport sends `docklock`). */
  userAgent: boolean;
}

/**
 * Applies the request-header policy (spec/network.md#R2) to a guest's block.
 * @param host what the transport sends as `host` (the URL's `host`)
 * @param bodyLength what it sends as `content-length`
 */
export function requestHeaders(block: Uint8Array, host: string, bodyLength: number): RequestHeaders | HeaderRefusal {
  if (block.length > MAX_REQUEST_HEADER_BYTES)
    return { code: 'limit', message: `the header block is over ${MAX_REQUEST_HEADER_BYTES} bytes` };
  const parsed = parseHeaderBlock(block, true);
  if (!Array.isArray(parsed)) return parsed;
  const send: [string, string][] = [];
  let userAgent = false;
  for (const [name, bytes] of parsed) {
    const n = name.toLowerCase();
    const value = latin1.decode(bytes);
    if (n === 'host' && value.toLowerCase() === host.toLowerCase()) continue;
    if (n === 'content-length' && value === String(bodyLength)) continue;
    if (TRANSPORT_NAMES.has(n) || n.startsWith('proxy-'))
      return {
        code: 'invalid',
        message: `header "${name}" is the transport's to send${n === 'host' || n === 'content-length' ? ` (it sends ${n === 'host' ? host : bodyLength})` : ''}`,
      };
    if (n === 'user-agent') userAgent = true;
    send.push([name, value]);
  }
  if (parsed.length > MAX_REQUEST_HEADERS)
    return { code: 'limit', message: `more than ${MAX_REQUEST_HEADERS} request headers` };
  return { send, userAgent };
}

/** Whether a value is a refusal rather than a result. */
export function isRefusal<T>(r: T | HeaderRefusal): r is HeaderRefusal {
  return typeof r === 'object' && r !== null && 'code' in r && 'message' in r && !Array.isArray(r);
}

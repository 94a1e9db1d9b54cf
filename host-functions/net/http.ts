/**
 * Recorded network, import module `docklock` (spec: spec/network.md). The ABI is a contract:
 *
 *   http_request(method_ptr, method_len, url_ptr, url_len, body_ptr, body_len) -> i32
 *       a handle ≥ 0, or a negative error (see NET_ERR)
 *   http_status(handle) -> i32          HTTP status, or a negative error
 *   http_body_len(handle) -> i32        response body length, or a negative error
 *   http_body_read(handle, buf_ptr, buf_cap) -> i32
 *       bytes copied, continuing where the previous read stopped (0 at the end), or a negative error
 *   http_request_h(method_ptr, method_len, url_ptr, url_len, headers_ptr, headers_len, body_ptr, body_len) -> i32
 *       as http_request, with request headers as a block of `name: value\r\n` lines (net/headers.ts)
 *   http_headers_len(handle) -> i32     length of the response's header block, or a negative error
 *   http_headers_read(handle, buf_ptr, buf_cap) -> i32
 *       as http_body_read, over the response's header block (`name: value\r\n` lines, the
 *       server's order); a handle from http_request has an empty block
 *
 * Record mode performs the request once through a `NetTransport` and records the request and the
 * response in the witness entry's `data`. Replay mode answers from the recorded entry and never
 * touches the network; a request that differs from the recorded one diverges (its `data` differs).
 * Reads only copy: no side effect ever repeats.
 */
import { canonicalPackr } from '../../runtime/store.ts';
import type { HostValue, Store } from '../../runtime/store.ts';
import { isRefusal, MAX_REQUEST_HEADER_BYTES, parseHeaderBlock, requestHeaders } from './headers.ts';
import type { RequestHeaders } from './headers.ts';

/** Negative results of the `docklock.http_*` functions. Stable: SDKs hard-code them. */
export const NET_ERR = {
  /** Network not granted, mode `deny`, or host:port not in the allow list. */
  DENIED: -1,
  /** Over a limit: request count, request body size, request headers (count or bytes) or response size. */
  LIMIT: -2,
  /** Connection, DNS, TLS or timeout failure. */
  TRANSPORT: -3,
  /** Malformed method, URL (not http/https, invalid UTF-8) or request header, or a header the transport sends. */
  INVALID: -4,
  /** A pointer outside guest memory. */
  FAULT: -5,
  /** Unknown handle. */
  BAD_HANDLE: -6,
} as const;

export const NET_IMPORTS = [
  'http_request',
  'http_status',
  'http_body_len',
  'http_body_read',
  'http_request_h',
  'http_headers_len',
  'http_headers_read',
] as const;

/** A request after policy checks, as the transport performs it. */
export interface NetRequest {
  method: string;
  url: string;
  body: Uint8Array;
  /** host:port from the allow list this request matched. */
  target: string;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Private and loopback addresses are reachable only when the allow entry names the address itself. */
  allowPrivate: boolean;
  /**
   * `http_request_h` only: the guest's headers after the policy, and whether one is `user-agent`.
   * Absent, the transport sends what `http_request` always sent and returns no headers.
   */
  headers?: RequestHeaders;
}

export type NetResponse =
  | { status: number; body: Uint8Array; headers?: Uint8Array }
  | { error: 'transport' | 'limit' | 'denied'; message: string };

/** Performs a request synchronously from the guest's point of view (see net/bridge.ts). */
export type NetTransport = (req: NetRequest) => NetResponse;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
const packr = canonicalPackr;
const unpackr = canonicalPackr;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);

/** The witness payload of one `http_request` (spec/network.md#R3): what was asked and what came back. */
type Exchange = [method: string, url: string, body: Uint8Array, status: number, response: Uint8Array, error: number];
/** The witness payload of one `http_request_h` (spec/network.md#R4): as {@link Exchange}, with both header blocks. */
type ExchangeH = [
  method: string,
  url: string,
  requestHeaders: Uint8Array,
  body: Uint8Array,
  status: number,
  responseHeaders: Uint8Array,
  response: Uint8Array,
  error: number,
];

/** What came back for one request: from the transport, the recording, or the policy. */
interface Answer {
  status: number;
  headers: Uint8Array;
  body: Uint8Array;
  error: number;
}

/** A request as the guest asked it, and the checked request when the policy let it go out. */
interface Decided {
  req?: NetRequest;
  code?: number;
  method: string;
  url: string;
  body: Uint8Array;
  /** The guest's header block as given (`http_request_h`; empty when over the limit). */
  headers: Uint8Array;
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[');
}

/** Normalises a URL's authority to the allow-list form `host:port`. */
export function targetOf(url: URL): string {
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return `${url.hostname.toLowerCase()}:${port}`;
}

/** A recorded entry's `data` as an array of `length` items, or undefined if it is not one. */
function recordedArray(data: Uint8Array | undefined, length: number): unknown[] | undefined {
  if (data === undefined) return undefined;
  let r: unknown;
  try {
    r = unpackr.unpack(data);
  } catch {
    return undefined;
  }
  return Array.isArray(r) && r.length === length ? r : undefined;
}

/** The recorded answer of an `http_request` entry, if its `data` has the R3 shape. */
function recordedAnswer(data: Uint8Array | undefined): Answer | undefined {
  const r = recordedArray(data, 6) as Exchange | undefined;
  if (r === undefined) return undefined;
  const [, , , status, body, error] = r;
  if (typeof status !== 'number' || !(body instanceof Uint8Array) || typeof error !== 'number') return undefined;
  return { status, headers: EMPTY, body, error };
}

/** The recorded answer of an `http_request_h` entry, if its `data` has the R4 shape. */
function recordedAnswerH(data: Uint8Array | undefined): Answer | undefined {
  const r = recordedArray(data, 8) as ExchangeH | undefined;
  if (r === undefined) return undefined;
  const [, , , , status, headers, body, error] = r;
  if (
    typeof status !== 'number' ||
    !(headers instanceof Uint8Array) ||
    !(body instanceof Uint8Array) ||
    typeof error !== 'number' ||
    // A block the transport could not have written is not handed to the guest.
    isRefusal(parseHeaderBlock(headers, false))
  )
    return undefined;
  return { status, headers, body, error };
}

export function createNet(
  store: Store,
  transport: NetTransport | undefined,
): Record<string, (...a: HostValue[]) => HostValue | undefined> {
  const calls = store.calls;
  const m = store.manifest;
  const mem = calls.mem;
  const limits = m.network.limits;
  const allow = new Set(m.network.allow);
  const handles: { status: number; body: Uint8Array; pos: number; headers: Uint8Array; headersPos: number }[] = [];
  let requests = 0;

  const decide = (
    methodPtr: number,
    methodLen: number,
    urlPtr: number,
    urlLen: number,
    bodyPtr: number,
    bodyLen: number,
    hdr: { ptr: number; len: number } | undefined,
  ): Decided => {
    mem.check(methodPtr, methodLen);
    mem.check(urlPtr, urlLen);
    if (hdr !== undefined) mem.check(hdr.ptr, hdr.len);
    mem.check(bodyPtr, bodyLen);
    const headers =
      hdr !== undefined && hdr.len <= MAX_REQUEST_HEADER_BYTES ? mem.copy(hdr.ptr, hdr.len) : new Uint8Array(0);
    let method = '';
    let urlText = '';
    try {
      method = utf8.decode(mem.bytes(methodPtr, Math.min(methodLen, 16)));
      urlText = utf8.decode(mem.bytes(urlPtr, Math.min(urlLen, 8192)));
    } catch {
      return { code: NET_ERR.INVALID, method, url: urlText, body: new Uint8Array(0), headers };
    }
    const body = bodyLen <= limits.maxRequestBytes ? mem.copy(bodyPtr, bodyLen) : new Uint8Array(0);
    const fail = (code: number): Decided => ({ code, method, url: urlText, body, headers });
    if (methodLen > 16 || urlLen > 8192 || !METHODS.has(method)) return fail(NET_ERR.INVALID);
    let url: URL;
    try {
      url = new URL(urlText);
    } catch {
      return fail(NET_ERR.INVALID);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '')
      return fail(NET_ERR.INVALID);
    // Malformed or forbidden headers are invalid like a malformed URL; too many or too large are
    // over a limit like a large body, checked after the allow list as that is.
    const policy =
      hdr === undefined
        ? undefined
        : hdr.len > MAX_REQUEST_HEADER_BYTES
          ? ({ code: 'limit', message: '' } as const)
          : requestHeaders(headers, url.host, bodyLen);
    if (policy !== undefined && isRefusal(policy) && policy.code === 'invalid') return fail(NET_ERR.INVALID);
    const target = targetOf(url);
    if (m.network.mode !== 'record' || !allow.has(target)) return fail(NET_ERR.DENIED);
    if (requests >= limits.maxRequests || bodyLen > limits.maxRequestBytes) return fail(NET_ERR.LIMIT);
    if (policy !== undefined && isRefusal(policy)) return fail(NET_ERR.LIMIT);
    const allowPrivate = isIpLiteral(url.hostname) || url.hostname === 'localhost';
    const req: NetRequest = {
      method,
      url: url.href,
      body,
      target,
      timeoutMs: limits.timeoutMs,
      maxResponseBytes: limits.maxResponseBytes,
      allowPrivate,
    };
    if (policy !== undefined) req.headers = policy;
    return { req, method, url: url.href, body, headers };
  };

  /** The answer to a decided request: the policy's refusal, the recording's, or the transport's. */
  const answer = (d: Decided, recorded: (data: Uint8Array | undefined) => Answer | undefined): Answer => {
    const refused = (error: number): Answer => ({ status: 0, headers: EMPTY, body: EMPTY, error });
    if (d.req === undefined) return refused(d.code!);
    requests++;
    // The answer comes from the recording; our own request fields go into the entry, so a guest
    // that asks something else diverges right here.
    if (calls.mode === 'replay') return recorded(calls.expectedNext()?.data) ?? refused(NET_ERR.TRANSPORT);
    const res: NetResponse = transport
      ? transport(d.req)
      : { error: 'transport', message: 'no network transport in this context' };
    if ('error' in res)
      return refused(
        res.error === 'limit' ? NET_ERR.LIMIT : res.error === 'denied' ? NET_ERR.DENIED : NET_ERR.TRANSPORT,
      );
    return { status: res.status, headers: res.headers ?? EMPTY, body: res.body, error: 0 };
  };

  const open = (a: Answer): number => {
    if (a.error !== 0) return a.error;
    handles.push({ status: a.status, body: a.body, pos: 0, headers: a.headers, headersPos: 0 });
    return handles.length - 1;
  };

  const request = (
    methodPtr: number,
    methodLen: number,
    urlPtr: number,
    urlLen: number,
    bodyPtr: number,
    bodyLen: number,
  ): number => {
    const d = decide(methodPtr, methodLen, urlPtr, urlLen, bodyPtr, bodyLen, undefined);
    const a = answer(d, recordedAnswer);
    const exchange: Exchange = [d.method, d.url, d.body, a.status, a.body, a.error];
    calls.pendingData = packr.pack(exchange);
    return open(a);
  };

  const requestH = (
    methodPtr: number,
    methodLen: number,
    urlPtr: number,
    urlLen: number,
    headersPtr: number,
    headersLen: number,
    bodyPtr: number,
    bodyLen: number,
  ): number => {
    const d = decide(methodPtr, methodLen, urlPtr, urlLen, bodyPtr, bodyLen, { ptr: headersPtr, len: headersLen });
    const a = answer(d, recordedAnswerH);
    const exchange: ExchangeH = [d.method, d.url, d.headers, d.body, a.status, a.headers, a.body, a.error];
    calls.pendingData = packr.pack(exchange);
    return open(a);
  };

  const handle = (h: number) => (h >= 0 && h < handles.length ? handles[h] : undefined);
  /**
   * `http_body_read` / `http_headers_read`: copies the next bytes of a response's body or header
   * block, continuing where the previous read stopped (0 at the end).
   */
  const reader =
    (bytes: 'body' | 'headers', at: 'pos' | 'headersPos') =>
    (h: number, ptr: number, cap: number): number => {
      const r = handle(h);
      if (r === undefined) return NET_ERR.BAD_HANDLE;
      mem.check(ptr, cap);
      const from = r[bytes];
      const n = Math.min(cap, from.length - r[at]);
      if (n > 0) mem.write(ptr, from.subarray(r[at], r[at] + n));
      r[at] += n;
      return n;
    };
  return {
    http_request: calls.wrap('docklock.http_request', request, NET_ERR.FAULT),
    http_status: calls.wrap(
      'docklock.http_status',
      (h: number) => handle(h)?.status ?? NET_ERR.BAD_HANDLE,
      NET_ERR.FAULT,
    ),
    http_body_len: calls.wrap(
      'docklock.http_body_len',
      (h: number) => handle(h)?.body.length ?? NET_ERR.BAD_HANDLE,
      NET_ERR.FAULT,
    ),
    http_body_read: calls.wrap('docklock.http_body_read', reader('body', 'pos'), NET_ERR.FAULT),
    http_request_h: calls.wrap('docklock.http_request_h', requestH, NET_ERR.FAULT),
    http_headers_len: calls.wrap(
      'docklock.http_headers_len',
      (h: number) => handle(h)?.headers.length ?? NET_ERR.BAD_HANDLE,
      NET_ERR.FAULT,
    ),
    http_headers_read: calls.wrap('docklock.http_headers_read', reader('headers', 'headersPos'), NET_ERR.FAULT),
  };
}

/**
 * Recorded network, import module `docklock` (spec: spec/network.md). The ABI is a contract:
 *
 *   http_request(method_ptr, method_len, url_ptr, url_len, body_ptr, body_len) -> i32
 *       a handle ≥ 0, or a negative error (see NET_ERR)
 *   http_status(handle) -> i32          HTTP status, or a negative error
 *   http_body_len(handle) -> i32        response body length, or a negative error
 *   http_body_read(handle, buf_ptr, buf_cap) -> i32
 *       bytes copied, continuing where the previous read stopped (0 at the end), or a negative error
 *
 * Record mode performs the request once through a `NetTransport` and records the request and the
 * response in the witness entry's `data`. Replay mode answers from the recorded entry and never
 * touches the network; a request that differs from the recorded one diverges (its `data` differs).
 * Reads only copy: no side effect ever repeats.
 */
import { canonicalPackr } from '../../runtime/store.ts';
import type { HostValue, Store } from '../../runtime/store.ts';

/** Negative results of the `docklock.http_*` functions. Stable: SDKs hard-code them. */
export const NET_ERR = {
  /** Network not granted, mode `deny`, or host:port not in the allow list. */
  DENIED: -1,
  /** Over a manifest limit: request count, request body size or response size. */
  LIMIT: -2,
  /** Connection, DNS, TLS or timeout failure. */
  TRANSPORT: -3,
  /** Malformed method or URL (not http/https, invalid UTF-8). */
  INVALID: -4,
  /** A pointer outside guest memory. */
  FAULT: -5,
  /** Unknown handle. */
  BAD_HANDLE: -6,
} as const;

export const NET_IMPORTS = ['http_request', 'http_status', 'http_body_len', 'http_body_read'] as const;

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
}

export type NetResponse =
  | { status: number; body: Uint8Array }
  | { error: 'transport' | 'limit' | 'denied'; message: string };

/** Performs a request synchronously from the guest's point of view (see net/bridge.ts). */
export type NetTransport = (req: NetRequest) => NetResponse;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
const packr = canonicalPackr;
const unpackr = canonicalPackr;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The witness payload of one request: what was asked and what came back. */
type Exchange = [method: string, url: string, body: Uint8Array, status: number, response: Uint8Array, error: number];

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[');
}

/** Normalises a URL's authority to the allow-list form `host:port`. */
export function targetOf(url: URL): string {
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return `${url.hostname.toLowerCase()}:${port}`;
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
  const handles: { status: number; body: Uint8Array; pos: number }[] = [];
  let requests = 0;

  const decide = (
    methodPtr: number,
    methodLen: number,
    urlPtr: number,
    urlLen: number,
    bodyPtr: number,
    bodyLen: number,
  ): { req?: NetRequest; code?: number; method: string; url: string; body: Uint8Array } => {
    mem.check(methodPtr, methodLen);
    mem.check(urlPtr, urlLen);
    mem.check(bodyPtr, bodyLen);
    let method = '';
    let urlText = '';
    try {
      method = utf8.decode(mem.bytes(methodPtr, Math.min(methodLen, 16)));
      urlText = utf8.decode(mem.bytes(urlPtr, Math.min(urlLen, 8192)));
    } catch {
      return { code: NET_ERR.INVALID, method, url: urlText, body: new Uint8Array(0) };
    }
    const body = bodyLen <= limits.maxRequestBytes ? mem.copy(bodyPtr, bodyLen) : new Uint8Array(0);
    const fail = (code: number) => ({ code, method, url: urlText, body });
    if (methodLen > 16 || urlLen > 8192 || !METHODS.has(method)) return fail(NET_ERR.INVALID);
    let url: URL;
    try {
      url = new URL(urlText);
    } catch {
      return fail(NET_ERR.INVALID);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '')
      return fail(NET_ERR.INVALID);
    const target = targetOf(url);
    if (m.network.mode !== 'record' || !allow.has(target)) return fail(NET_ERR.DENIED);
    if (requests >= limits.maxRequests || bodyLen > limits.maxRequestBytes) return fail(NET_ERR.LIMIT);
    const allowPrivate = isIpLiteral(url.hostname) || url.hostname === 'localhost';
    return {
      req: {
        method,
        url: url.href,
        body,
        target,
        timeoutMs: limits.timeoutMs,
        maxResponseBytes: limits.maxResponseBytes,
        allowPrivate,
      },
      method,
      url: url.href,
      body,
    };
  };

  const request = (
    methodPtr: number,
    methodLen: number,
    urlPtr: number,
    urlLen: number,
    bodyPtr: number,
    bodyLen: number,
  ): number => {
    const d = decide(methodPtr, methodLen, urlPtr, urlLen, bodyPtr, bodyLen);
    let exchange: Exchange;
    if (d.req === undefined) {
      exchange = [d.method, d.url, d.body, 0, new Uint8Array(0), d.code!];
    } else if (calls.mode === 'replay') {
      // The answer comes from the recording; our own request fields go into the entry, so a
      // guest that asks something else diverges right here.
      const rec = calls.expectedNext();
      let recorded: Exchange | undefined;
      try {
        recorded = rec?.data !== undefined ? (unpackr.unpack(rec.data) as Exchange) : undefined;
      } catch {
        recorded = undefined;
      }
      const ok =
        Array.isArray(recorded) &&
        recorded.length === 6 &&
        typeof recorded[3] === 'number' &&
        recorded[4] instanceof Uint8Array &&
        typeof recorded[5] === 'number';
      exchange = ok
        ? [d.method, d.url, d.body, recorded![3], recorded![4], recorded![5]]
        : [d.method, d.url, d.body, 0, new Uint8Array(0), NET_ERR.TRANSPORT];
    } else {
      requests++;
      const res: NetResponse = transport
        ? transport(d.req)
        : { error: 'transport', message: 'no network transport in this context' };
      if ('error' in res)
        exchange = [
          d.method,
          d.url,
          d.body,
          0,
          new Uint8Array(0),
          res.error === 'limit' ? NET_ERR.LIMIT : res.error === 'denied' ? NET_ERR.DENIED : NET_ERR.TRANSPORT,
        ];
      else exchange = [d.method, d.url, d.body, res.status, res.body, 0];
    }
    if (calls.mode === 'replay' && d.req !== undefined) requests++;
    calls.pendingData = packr.pack(exchange);
    if (exchange[5] !== 0) return exchange[5];
    handles.push({ status: exchange[3], body: exchange[4], pos: 0 });
    return handles.length - 1;
  };

  const handle = (h: number) => (h >= 0 && h < handles.length ? handles[h] : undefined);
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
    http_body_read: calls.wrap(
      'docklock.http_body_read',
      (h: number, ptr: number, cap: number) => {
        const r = handle(h);
        if (r === undefined) return NET_ERR.BAD_HANDLE;
        mem.check(ptr, cap);
        const n = Math.min(cap, r.body.length - r.pos);
        if (n > 0) mem.write(ptr, r.body.subarray(r.pos, r.pos + n));
        r.pos += n;
        return n;
      },
      NET_ERR.FAULT,
    ),
  };
}

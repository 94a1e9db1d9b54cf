/**
 * `wasi:http/types` and `wasi:http/outgoing-handler` (the client side) over the cage's recorded
 * network, `docklock.http_*` (spec/network.md). A request is sent once its body is finished, as
 * one `docklock.http_request_h` call; its status, body length, headers and every body read are
 * `docklock.http_status`, `http_body_len`, `http_headers_len` with `http_headers_read`, and
 * `http_body_read` calls. Those are the witness entries
 * a core module's requests make, so the policy, limits, recording and offline replay are the same
 * code, and every value a response hands the component comes out of a recorded call.
 *
 * The request's headers go out as `http_request_h`'s header block, under the cage's header policy
 * (spec/network.md#R2): a header it refuses fails the request with `internal-error` naming it,
 * never dropped in silence (one dropped could change what the server answers). A response's
 * headers are the recorded block, read with `http_headers_len` and `http_headers_read`.
 */
import { NET_ERR } from '../net/http.ts';
import { encodeHeaderBlock, isRefusal, parseHeaderBlock, requestHeaders } from '../net/headers.ts';
import { P1 } from './p1.ts';
import { InputStream } from './io.ts';
import {
  Fields,
  HeldBytes,
  FutureIncomingResponse,
  FutureTrailers,
  IncomingBody,
  IncomingRequest,
  IncomingResponse,
  OutgoingBody,
  OutgoingRequest,
  OutgoingResponse,
  RequestOptions,
  ResponseOutparam,
} from './http-types.ts';
import type { FutureValue, HttpErrorCode, HttpHost } from './http-types.ts';

/** A request's headers as the block `docklock.http_request_h` takes (host-functions/net/headers.ts). */
function headerBlock(headers: Fields): Uint8Array {
  return encodeHeaderBlock(headers.entries());
}

/** Why the header policy refuses a request's header block, if it does. */
function headerRefusal(block: Uint8Array, url: string, bodyLength: number): string | undefined {
  let host: string;
  try {
    host = new URL(url).host;
  } catch {
    return undefined;
  }
  const r = requestHeaders(block, host, bodyLength);
  return isRefusal(r) ? r.message : undefined;
}

/**
 * The host's `wasi:http/types` and `wasi:http/outgoing-handler`.
 * @param p1 the preview1 bridge, whose functions include `docklock.http_*` when `net` is granted
 * @param maxRequestBytes the manifest's `network.limits.maxRequestBytes`
 * @param memoryLimit the manifest's `limits.memory`: what header fields and request bodies held
 *   for the guest may add up to (http-types.ts `HeldBytes`)
 */
export function wasiHttp(
  p1: P1,
  maxRequestBytes: number,
  memoryLimit: number,
): Record<string, Record<string, unknown>> {
  const held = new HeldBytes(memoryLimit);
  const host: HttpHost = { p1, maxRequestBytes, held };
  const RunFields = class extends Fields {
    constructor() {
      super(held);
    }
  };
  // The guest constructs these with its arguments only; the run's host comes in here. jco checks
  // resources with instanceof against these very classes.
  const RunOutgoingRequest = class extends OutgoingRequest {
    constructor(headers: Fields) {
      super(headers, host);
    }
  };
  const RunOutgoingResponse = class extends OutgoingResponse {
    constructor(headers: Fields) {
      super(headers, host);
    }
  };

  const responseStream = (handle: number, length: number): InputStream => {
    let left = length;
    const read = (len: bigint): Uint8Array => {
      if (left === 0) throw { tag: 'closed' };
      const n = Math.min(Number(len > 65536n ? 65536n : len), left);
      if (n === 0) return new Uint8Array(0);
      const p = p1.begin();
      const buf = p.alloc(n);
      const got = p.call('http_body_read', handle, buf, n);
      if (got < 0 || (got === 0 && n > 0)) throw { tag: 'closed' };
      left -= got;
      return p.u8s(buf, got);
    };
    return new ResponseBodyStream(p1, read);
  };

  const send = (req: OutgoingRequest): FutureValue => {
    const err = (tag: string, val?: string): FutureValue => ({ tag: 'err', val: { tag, val } });
    const scheme = req.scheme();
    const authority = req.authority();
    if (authority === undefined) return err('HTTP-request-URI-invalid');
    const proto = scheme === undefined || scheme.tag === 'HTTP' ? 'http' : scheme.tag === 'HTTPS' ? 'https' : '';
    if (proto === '') return err('HTTP-protocol-error');
    if (req.sink.size > maxRequestBytes) return err('HTTP-request-body-size');
    const body = req.sink.bytes();
    const url = `${proto}://${authority}${req.pathWithQuery() ?? '/'}`;
    const block = headerBlock(req.headers());
    const p = p1.begin();
    const [mPtr, mLen] = p.str(req.methodName);
    const [uPtr, uLen] = p.str(url);
    const hPtr = p.put(block);
    const bPtr = p.put(body);
    const h = p.call('http_request_h', mPtr, mLen, uPtr, uLen, hPtr, block.length, bPtr, body.length);
    if (h < 0) {
      if (h === NET_ERR.DENIED) return err('HTTP-request-denied');
      if (h === NET_ERR.INVALID || h === NET_ERR.LIMIT) {
        // The policy is a pure function of the request: asking it again names what it refused.
        const refusal = headerRefusal(block, url, body.length);
        if (refusal !== undefined) return err('internal-error', `request headers refused: ${refusal}`);
      }
      if (h === NET_ERR.INVALID) return err('HTTP-request-URI-invalid');
      if (h === NET_ERR.LIMIT)
        return err(
          'internal-error',
          'over a manifest network limit (maxRequests, maxRequestBytes or maxResponseBytes)',
        );
      return err('internal-error', 'transport error: DNS, connect, TLS or timeout');
    }
    const status = p1.begin().call('http_status', h);
    const length = p1.begin().call('http_body_len', h);
    const headers = status < 0 || length < 0 ? undefined : responseHeaders(h);
    if (headers === undefined) return err('internal-error', 'the recorded response is unreadable');
    return { tag: 'ok', val: new IncomingResponse(status, headers, new IncomingBody(responseStream(h, length))) };
  };

  /** The response's headers, from `http_headers_len` and one `http_headers_read`. */
  const responseHeaders = (handle: number): Fields | undefined => {
    const len = p1.begin().call('http_headers_len', handle);
    if (len < 0) return undefined;
    const p = p1.begin();
    const buf = p.alloc(len);
    const got = p.call('http_headers_read', handle, buf, len);
    if (got !== len) return undefined;
    const list = parseHeaderBlock(p.u8s(buf, len), false);
    return isRefusal(list) ? undefined : RunFields.fromList(list);
  };

  return {
    'wasi:http/types': {
      Fields: RunFields,
      OutgoingRequest: RunOutgoingRequest,
      RequestOptions,
      OutgoingBody,
      IncomingBody,
      IncomingResponse,
      FutureIncomingResponse,
      FutureTrailers,
      IncomingRequest,
      OutgoingResponse: RunOutgoingResponse,
      ResponseOutparam,
      httpErrorCode: (): undefined => undefined,
    },
    'wasi:http/outgoing-handler': {
      handle: (req: OutgoingRequest, _options: RequestOptions | undefined): FutureIncomingResponse => {
        if (!p1.has('http_request_h'))
          throw {
            tag: 'HTTP-request-denied',
          } satisfies HttpErrorCode;
        return new FutureIncomingResponse(req, () => send(req));
      },
    },
  };
}

/** A response body as an {@link InputStream} (jco checks the class). */
class ResponseBodyStream extends InputStream {
  readonly #read: (len: bigint) => Uint8Array;
  constructor(p1: P1, read: (len: bigint) => Uint8Array) {
    super(p1, -1);
    this.#read = read;
  }
  override read(len: bigint): Uint8Array {
    return this.#read(len);
  }
  override [Symbol.dispose](): void {}
}

// Recorded HTTP, docklock.http_* (grant `net`; spec/network.md). Record mode performs allow-listed
// requests once; replay answers from the witness.

@external("docklock", "http_request")
declare function http_request(method: usize, method_len: i32, url: usize, url_len: i32, body: usize, body_len: i32): i32;
@external("docklock", "http_status")
declare function http_status(handle: i32): i32;
@external("docklock", "http_body_len")
declare function http_body_len(handle: i32): i32;
@external("docklock", "http_body_read")
declare function http_body_read(handle: i32, buf: usize, cap: i32): i32;
@external("docklock", "http_request_h")
declare function http_request_h(method: usize, method_len: i32, url: usize, url_len: i32, headers: usize, headers_len: i32, body: usize, body_len: i32): i32;
@external("docklock", "http_headers_len")
declare function http_headers_len(handle: i32): i32;
@external("docklock", "http_headers_read")
declare function http_headers_read(handle: i32, buf: usize, cap: i32): i32;

/** Negative results (spec/network.md#R3). */
export const HTTP_DENIED: i32 = -1;
export const HTTP_LIMIT: i32 = -2;
export const HTTP_TRANSPORT: i32 = -3;
export const HTTP_INVALID: i32 = -4;
export const HTTP_FAULT: i32 = -5;
export const HTTP_BAD_HANDLE: i32 = -6;

export class HttpResponse {
  /** HTTP status (≥ 100), or a negative HTTP_* error; `body` is empty then. */
  status: i32 = 0;
  body: Uint8Array = new Uint8Array(0);
  /**
   * The response's headers (spec/network.md#R4): one `name: value\r\n` line per header, in the
   * server's order and case; empty from `httpRequest`, which does not ask for them.
   */
  headers: string = "";

  get ok(): bool {
    return this.status >= 200 && this.status < 300;
  }

  text(): string {
    return String.UTF8.decode(this.body.buffer.slice(this.body.byteOffset, this.body.byteOffset + this.body.length));
  }

  /** The value of the first header named `name` (ASCII case-insensitive), or null. */
  header(name: string): string | null {
    const want = name.toLowerCase();
    const lines = this.headers.split("\r\n");
    for (let i = 0; i < lines.length; i++) {
      const colon = lines[i].indexOf(":");
      if (colon < 0) continue;
      if (lines[i].substring(0, colon).toLowerCase() == want) return lines[i].substring(colon + 1).trim();
    }
    return null;
  }
}

/** Reads a handle's bytes through `read`. */
function readAll(h: i32, len: i32, read: (h: i32, buf: usize, cap: i32) => i32): Uint8Array {
  const out = new Uint8Array(len > 0 ? len : 0);
  let off = 0;
  while (off < len) {
    const n = read(h, out.dataStart + off, len - off);
    if (n <= 0) break;
    off += n;
  }
  return off == out.length ? out : out.subarray(0, off);
}

function response(h: i32, withHeaders: bool): HttpResponse {
  const res = new HttpResponse();
  if (h < 0) {
    res.status = h;
    return res;
  }
  res.status = http_status(h);
  res.body = readAll(h, http_body_len(h), (h: i32, buf: usize, cap: i32): i32 => http_body_read(h, buf, cap));
  if (withHeaders) {
    const block = readAll(h, http_headers_len(h), (h: i32, buf: usize, cap: i32): i32 => http_headers_read(h, buf, cap));
    res.headers = String.UTF8.decode(block.buffer.slice(block.byteOffset, block.byteOffset + block.length));
  }
  return res;
}

/** Performs a request; failures are a negative `status`, never a trap. */
export function httpRequest(method: string, url: string, body: Uint8Array = new Uint8Array(0)): HttpResponse {
  const m = String.UTF8.encode(method);
  const u = String.UTF8.encode(url);
  return response(http_request(changetype<usize>(m), m.byteLength, changetype<usize>(u), u.byteLength, body.dataStart, body.length), false);
}

/**
 * A request with headers, given as [name, value] pairs, and the response's headers read too
 * (`HttpResponse.header`). A name that is not a token, or a value with a control byte, is
 * HTTP_INVALID; too many or too long, HTTP_LIMIT (spec/network.md#R2).
 */
export function httpRequestWithHeaders(method: string, url: string, headers: string[][], body: Uint8Array = new Uint8Array(0)): HttpResponse {
  let block = "";
  for (let i = 0; i < headers.length; i++) block += headers[i][0] + ": " + (headers[i].length > 1 ? headers[i][1] : "") + "\r\n";
  const m = String.UTF8.encode(method);
  const u = String.UTF8.encode(url);
  const hs = String.UTF8.encode(block);
  return response(
    http_request_h(changetype<usize>(m), m.byteLength, changetype<usize>(u), u.byteLength, changetype<usize>(hs), hs.byteLength, body.dataStart, body.length),
    true,
  );
}

/** GET `url`. */
export function httpGet(url: string): HttpResponse {
  return httpRequest("GET", url);
}

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

  get ok(): bool {
    return this.status >= 200 && this.status < 300;
  }

  text(): string {
    return String.UTF8.decode(this.body.buffer.slice(this.body.byteOffset, this.body.byteOffset + this.body.length));
  }
}

/** Performs a request; failures are a negative `status`, never a trap. */
export function httpRequest(method: string, url: string, body: Uint8Array = new Uint8Array(0)): HttpResponse {
  const m = String.UTF8.encode(method);
  const u = String.UTF8.encode(url);
  const res = new HttpResponse();
  const h = http_request(changetype<usize>(m), m.byteLength, changetype<usize>(u), u.byteLength, body.dataStart, body.length);
  if (h < 0) {
    res.status = h;
    return res;
  }
  res.status = http_status(h);
  const len = http_body_len(h);
  const out = new Uint8Array(len > 0 ? len : 0);
  let off = 0;
  while (off < len) {
    const n = http_body_read(h, out.dataStart + off, len - off);
    if (n <= 0) break;
    off += n;
  }
  res.body = out;
  return res;
}

/** GET `url`. */
export function httpGet(url: string): HttpResponse {
  return httpRequest("GET", url);
}

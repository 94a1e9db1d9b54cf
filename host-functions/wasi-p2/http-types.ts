/**
 * The resources of `wasi:http/types` a client uses (fields, requests, bodies, responses, futures),
 * as jco's glue takes them: classes whose instances are the resources. They hold data only; the
 * request goes out through ./http.ts when its future is first asked for the response.
 */
import { Errno, P1 } from './p1.ts';
import { WitnessLimit } from '../../runtime/store.ts';
import { InputStream, OutputStream, Pollable } from './io.ts';
import type { VirtualDeadline } from './io.ts';

/** `wasi:http/types.error-code`, as jco passes variants. */
export type HttpErrorCode = { tag: string; val?: string | bigint | number | undefined };

/** `wasi:http/types.header-error`. */
type HeaderError = { tag: 'invalid-syntax' | 'forbidden' | 'immutable' };

/** A field name is an RFC 9110 token. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** jco's `err` case of a `result<_, _>` whose error carries nothing. */
export function unitErr(): never {
  // jco lowers whatever is thrown as the (empty) error payload.
  throw undefined;
}

/**
 * What the wasi:http host keeps for the guest: header fields and request bodies, which live outside
 * guest memory for as long as the guest holds their handles, and which a guest could otherwise make
 * without bound (a handle leaked per loop). They count against the run's memory limit, as the
 * witness does (spec/wasi.md#W9): past it the run ends with `memory_limit`. Charged when kept,
 * never refunded, so the count is a function of the guest's calls alone.
 */
export class HeldBytes {
  #n = 0;
  readonly cap: number;
  constructor(cap: number) {
    this.cap = cap;
  }
  charge(n: number): void {
    this.#n += n;
    if (this.#n > this.cap) throw new WitnessLimit(this.cap);
  }
}

/** `wasi:http/types.fields`: headers or trailers, in the order they were given. */
export class Fields {
  #entries: [string, Uint8Array][] = [];
  #immutable = false;
  readonly #held: HeldBytes | undefined;

  /** `held`: the run's account (the class the guest sees passes it; see ./http.ts). */
  constructor(held?: HeldBytes) {
    this.#held = held;
  }

  /** A new instance of the class it is called on (the guest's, carrying the run's account). */
  static fromList<T extends Fields>(this: new () => T, entries: [string, Uint8Array][]): T {
    const f = new this();
    for (const [name, value] of entries) f.append(name, value);
    return f;
  }

  /** A read-only view (the headers of a request or a response). */
  static frozen(f: Fields): Fields {
    f.#immutable = true;
    return f;
  }

  #check(name: string, values: readonly Uint8Array[] = []): void {
    if (this.#immutable) throw { tag: 'immutable' } satisfies HeaderError;
    if (!TOKEN.test(name)) throw { tag: 'invalid-syntax' } satisfies HeaderError;
    // A field value may not end the header line or the header section (RFC 9110, 5.5).
    if (values.some((v) => v.some((b) => b === 0 || b === 10 || b === 13)))
      throw { tag: 'invalid-syntax' } satisfies HeaderError;
  }

  get(name: string): Uint8Array[] {
    const n = name.toLowerCase();
    return this.#entries.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v.slice());
  }
  has(name: string): boolean {
    const n = name.toLowerCase();
    return this.#entries.some(([k]) => k.toLowerCase() === n);
  }
  set(name: string, values: Uint8Array[]): void {
    this.#check(name, values);
    this.#held?.charge(values.reduce((n, v) => n + name.length + v.length, 0));
    this.#remove(name);
    for (const v of values) this.#entries.push([name, v.slice()]);
  }
  delete(name: string): void {
    this.#check(name);
    this.#remove(name);
  }
  append(name: string, value: Uint8Array): void {
    this.#check(name, [value]);
    this.#held?.charge(name.length + value.length);
    this.#entries.push([name, value.slice()]);
  }
  entries(): [string, Uint8Array][] {
    return this.#entries.map(([k, v]) => [k, v.slice()]);
  }
  clone(): Fields {
    // Of the guest's class (jco checks it), charged to the same account.
    const f = new (this.constructor as new () => Fields)();
    for (const [name, value] of this.#entries) f.append(name, value);
    return f;
  }
  get size(): number {
    return this.#entries.length;
  }
  #remove(name: string): void {
    const n = name.toLowerCase();
    this.#entries = this.#entries.filter(([k]) => k.toLowerCase() !== n);
  }
}

type Method = { tag: string; val?: string };

/** What a run's request objects need from the host (the guest's constructor calls pass only headers). */
export interface HttpHost {
  p1: P1;
  maxRequestBytes: number;
  /** The run's account of what this host keeps for the guest. */
  held: HeldBytes;
}
type Scheme = { tag: string; val?: string };

const METHOD_NAMES: Record<string, string> = {
  get: 'GET',
  head: 'HEAD',
  post: 'POST',
  put: 'PUT',
  delete: 'DELETE',
  connect: 'CONNECT',
  options: 'OPTIONS',
  trace: 'TRACE',
  patch: 'PATCH',
};

/** `wasi:http/types.request-options`: kept, not used; the manifest's `network.limits.timeoutMs` applies. */
export class RequestOptions {
  #connect: bigint | undefined;
  #firstByte: bigint | undefined;
  #betweenBytes: bigint | undefined;
  connectTimeout(): bigint | undefined {
    return this.#connect;
  }
  setConnectTimeout(d: bigint | undefined): void {
    this.#connect = d;
  }
  firstByteTimeout(): bigint | undefined {
    return this.#firstByte;
  }
  setFirstByteTimeout(d: bigint | undefined): void {
    this.#firstByte = d;
  }
  betweenBytesTimeout(): bigint | undefined {
    return this.#betweenBytes;
  }
  setBetweenBytesTimeout(d: bigint | undefined): void {
    this.#betweenBytes = d;
  }
}

/** Where an outgoing body's bytes go: memory, up to one byte past the manifest's request limit. */
export class BodySink {
  readonly chunks: Uint8Array[] = [];
  size = 0;
  state: 'open' | 'finished' | 'dropped' = 'open';
  readonly #cap: number;
  readonly #held: HeldBytes | undefined;
  constructor(cap: number, held?: HeldBytes) {
    this.#cap = cap;
    this.#held = held;
  }
  push(b: Uint8Array): void {
    if (this.state !== 'open') throw new Errno(29);
    const room = this.#cap + 1 - this.size;
    if (room > 0) {
      const kept = b.slice(0, room);
      this.#held?.charge(kept.length);
      this.chunks.push(kept);
    }
    this.size += b.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(Math.min(this.size, this.#cap + 1));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** The output stream of an outgoing body: an {@link OutputStream} (jco checks the class) into memory. */
class BodyOutputStream extends OutputStream {
  readonly #sink: BodySink;
  constructor(p1: P1, sink: BodySink) {
    super(p1, -1);
    this.#sink = sink;
  }
  override write(contents: Uint8Array): void {
    try {
      this.#sink.push(contents);
    } catch (e) {
      if (e instanceof Errno) throw { tag: 'closed' };
      throw e;
    }
  }
  override [Symbol.dispose](): void {}
}

/** `wasi:http/types.outgoing-body`. */
export class OutgoingBody {
  readonly #sink: BodySink;
  readonly #p1: P1;
  #stream: BodyOutputStream | undefined;
  constructor(p1: P1, sink: BodySink) {
    this.#p1 = p1;
    this.#sink = sink;
  }
  write(): OutputStream {
    if (this.#stream !== undefined) unitErr();
    this.#stream = new BodyOutputStream(this.#p1, this.#sink);
    return this.#stream;
  }
  static finish(body: OutgoingBody, trailers: Fields | undefined): void {
    if (body.#sink.state !== 'open') throw { tag: 'internal-error', val: 'the body was finished already' };
    if (trailers !== undefined && trailers.size > 0) {
      body.#sink.state = 'dropped';
      throw { tag: 'internal-error', val: "docklock's recorded network sends no trailers" } satisfies HttpErrorCode;
    }
    body.#sink.state = 'finished';
  }
  [Symbol.dispose](): void {
    // Dropped without `finish`: the request is abandoned (wasi:http says so).
    if (this.#sink.state === 'open') this.#sink.state = 'dropped';
  }
}

/** `wasi:http/types.outgoing-request`. */
export class OutgoingRequest {
  #method: Method = { tag: 'get' };
  #scheme: Scheme | undefined;
  #authority: string | undefined;
  #path: string | undefined;
  readonly #headers: Fields;
  #body: OutgoingBody | undefined;
  readonly #host: HttpHost;
  readonly sink: BodySink;

  constructor(headers: Fields, host: HttpHost) {
    this.#headers = Fields.frozen(headers);
    this.#host = host;
    this.sink = new BodySink(host.maxRequestBytes, host.held);
  }
  body(): OutgoingBody {
    if (this.#body !== undefined) unitErr();
    this.#body = new OutgoingBody(this.#host.p1, this.sink);
    return this.#body;
  }
  /** Whether `body()` was called: without it the request has an empty body. */
  get bodyTaken(): boolean {
    return this.#body !== undefined;
  }
  method(): Method {
    return this.#method;
  }
  setMethod(m: Method): void {
    if (m.tag === 'other' && !TOKEN.test(m.val ?? '')) unitErr();
    this.#method = m;
  }
  pathWithQuery(): string | undefined {
    return this.#path;
  }
  setPathWithQuery(p: string | undefined): void {
    if (p !== undefined && (!p.startsWith('/') || /[\s#]/.test(p))) unitErr();
    this.#path = p;
  }
  scheme(): Scheme | undefined {
    return this.#scheme;
  }
  setScheme(s: Scheme | undefined): void {
    this.#scheme = s;
  }
  authority(): string | undefined {
    return this.#authority;
  }
  setAuthority(a: string | undefined): void {
    if (a !== undefined && /[\s/?#@]/.test(a)) unitErr();
    this.#authority = a;
  }
  headers(): Fields {
    return this.#headers;
  }
  get methodName(): string {
    return this.#method.tag === 'other' ? this.#method.val! : METHOD_NAMES[this.#method.tag]!;
  }
}

/** `wasi:http/types.incoming-body`: the response body, read through `docklock.http_body_read`. */
export class IncomingBody {
  readonly #stream: InputStream;
  #taken = false;
  constructor(stream: InputStream) {
    this.#stream = stream;
  }
  stream(): InputStream {
    if (this.#taken) unitErr();
    this.#taken = true;
    return this.#stream;
  }
  static finish(_body: IncomingBody): FutureTrailers {
    return new FutureTrailers();
  }
}

/** `wasi:http/types.future-trailers`: a response has no trailers in the cage. */
export class FutureTrailers {
  #taken = false;
  subscribe(): Pollable {
    return new Pollable();
  }
  get(): { tag: 'ok' | 'err'; val?: { tag: 'ok'; val: undefined } } {
    if (this.#taken) return { tag: 'err' };
    this.#taken = true;
    return { tag: 'ok', val: { tag: 'ok', val: undefined } };
  }
}

/** `wasi:http/types.incoming-response`. */
export class IncomingResponse {
  readonly #status: number;
  readonly #body: IncomingBody;
  #consumed = false;
  readonly #headers: Fields;
  /** `headers`: the recorded response headers, frozen here. */
  constructor(status: number, headers: Fields, body: IncomingBody) {
    this.#status = status;
    this.#headers = Fields.frozen(headers);
    this.#body = body;
  }
  status(): number {
    return this.#status;
  }
  headers(): Fields {
    return this.#headers;
  }
  consume(): IncomingBody {
    if (this.#consumed) unitErr();
    this.#consumed = true;
    return this.#body;
  }
}

/** The server-side resources: the cage never calls a component's incoming handler. */
export class IncomingRequest {}
export class ResponseOutparam {}
export class OutgoingResponse {
  #status = 200;
  readonly #headers: Fields;
  #body: OutgoingBody | undefined;
  readonly #host: HttpHost;
  constructor(headers: Fields, host: HttpHost) {
    this.#headers = Fields.frozen(headers);
    this.#host = host;
  }
  statusCode(): number {
    return this.#status;
  }
  setStatusCode(s: number): void {
    if (s < 100 || s > 999) unitErr();
    this.#status = s;
  }
  headers(): Fields {
    return this.#headers;
  }
  body(): OutgoingBody {
    if (this.#body !== undefined) unitErr();
    this.#body = new OutgoingBody(this.#host.p1, new BodySink(0));
    return this.#body;
  }
}

/** Longer than any virtual-clock wait. */
const NEVER = 2n ** 64n;

export type FutureValue = { tag: 'ok'; val: IncomingResponse } | { tag: 'err'; val: HttpErrorCode };

/**
 * `wasi:http/types.future-incoming-response`. The request goes out when the component first asks
 * for the response (or polls for it) and its body is finished; until then the future is not ready.
 */
export class FutureIncomingResponse {
  readonly #send: () => FutureValue;
  readonly #request: OutgoingRequest;
  #value: FutureValue | undefined;
  #taken = false;
  constructor(request: OutgoingRequest, send: () => FutureValue) {
    this.#request = request;
    this.#send = send;
  }
  /** Sends the request if it can go; whether the answer is here. */
  #settle(force: boolean): boolean {
    if (this.#value !== undefined) return true;
    const state = this.#request.bodyTaken ? this.#request.sink.state : 'finished';
    if (state === 'open' && !force) return false;
    this.#value =
      state === 'finished'
        ? this.#send()
        : {
            tag: 'err',
            val: {
              tag: 'internal-error',
              val:
                state === 'open'
                  ? 'the component waited for the response before finishing the request body'
                  : 'the request body was dropped without outgoing-body.finish',
            },
          };
    return true;
  }
  subscribe(): Pollable {
    // Until its body is finished the request waits on the component, not on time: `poll` lets
    // any clock in the same list fire first (the component may finish the body on that timer),
    // and only a future waited for alone, body still open, resolves to an error.
    const deadline: VirtualDeadline = {
      reached: () => this.#settle(false),
      remaining: () => (this.#settle(false) ? 0n : NEVER),
      wait: () => void this.#settle(true),
    };
    return new Pollable(deadline);
  }
  get(): { tag: 'ok' | 'err'; val?: FutureValue } | undefined {
    if (this.#taken) return { tag: 'err' };
    if (!this.#settle(false)) return undefined;
    this.#taken = true;
    return { tag: 'ok', val: this.#value! };
  }
}

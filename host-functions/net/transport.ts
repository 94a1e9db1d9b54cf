/**
 * The live side of the recorded network (record mode only), run on the main thread: one DNS
 * resolution, a connection to exactly that address, no redirects followed, a size cap on the
 * response and a timeout (spec: spec/network.md#R2). Private and loopback addresses are refused
 * unless the allow-list entry names the address itself (an IP literal or `localhost`), so a public
 * name that resolves to 127.0.0.1 cannot reach the host's own services.
 */
import { isIP } from 'node:net';
import type { NetRequest, NetResponse } from './http.ts';
import { encodeHeaderBlock, isRefusal, isToken, MAX_RESPONSE_HEADER_BYTES, parseHeaderBlock } from './headers.ts';
import type { Header } from './headers.ts';

/** Whether an address is loopback, private, link-local, CGNAT or unspecified. */
export function isPrivateAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  const lower = address.toLowerCase();
  return (
    lower === '::1' || lower === '::' || lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80')
  );
}

/** What `http_request` sends (Node adds `host`): unchanged, so its recordings mean what they meant. */
const LEGACY_HEADERS = (req: NetRequest): Record<string, string> => ({
  'content-length': String(req.body.length),
  'user-agent': 'docklock',
});

/**
 * The header list `http_request_h` sends, in this order: `host`, the guest's headers as it gave
 * them, `user-agent: docklock` unless it gave one, `content-length`. A list, not an object: Node
 * then sends exactly these, duplicates and case as given, and adds no `host` of its own.
 */
function wireHeaders(url: URL, req: NetRequest): string[] {
  const h = req.headers!;
  const out = ['host', url.host];
  for (const [n, v] of h.send) out.push(n, v);
  if (!h.userAgent) out.push('user-agent', 'docklock');
  out.push('content-length', String(req.body.length));
  return out;
}

/**
 * A response's headers as a block (net/headers.ts), in the server's order, values as the bytes it
 * sent (Node decodes header bytes as latin1). Undefined if one could not be written as a line.
 */
function responseHeaderBlock(raw: readonly string[]): Uint8Array | undefined {
  const list: Header[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!isToken(raw[i]!)) return undefined;
    list.push([raw[i]!, new Uint8Array(Buffer.from(raw[i + 1]!, 'latin1'))]);
  }
  const block = encodeHeaderBlock(list);
  const back = parseHeaderBlock(block, false);
  return isRefusal(back) || back.length !== list.length ? undefined : block;
}

/** Performs one request under the cage's rules. Never throws: failures are `{ error }`. */
export async function performRequest(req: NetRequest): Promise<NetResponse> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return { error: 'denied', message: 'malformed URL' };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let address: string;
  let family: number;
  const literal = isIP(host);
  if (literal !== 0) {
    // An address needs no resolution (and a thread-pool round trip per request).
    address = host;
    family = literal;
  } else {
    try {
      const { lookup } = await import('node:dns/promises');
      const r = await lookup(host, { verbatim: true });
      address = r.address;
      family = r.family;
    } catch (e) {
      return { error: 'transport', message: `DNS lookup failed: ${(e as Error).message}` };
    }
  }
  if (isPrivateAddress(address) && !req.allowPrivate) {
    return {
      error: 'denied',
      message: `${host} resolves to a private address ${address}; list the address itself to allow it`,
    };
  }
  // Loaded on the first request: every run opens a bridge, few use the network, and node:http
  // with node:https (TLS) costs a command's start-up tens of milliseconds (bench:cli).
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return await new Promise<NetResponse>((resolve) => {
    let settled = false;
    const done = (r: NetResponse): void => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const request = mod.request(
      url,
      {
        method: req.method,
        // Connect to the address resolved above, never to a second resolution of the name.
        lookup: ((
          _h: string,
          opts: { all?: boolean },
          cb: (err: Error | null, a: string | { address: string; family: number }[], f?: number) => void,
        ) => {
          if (opts?.all) cb(null, [{ address, family }]);
          else cb(null, address, family);
        }) as unknown as typeof import('node:dns').lookup,
        headers: req.headers === undefined ? LEGACY_HEADERS(req) : wireHeaders(url, req),
        timeout: req.timeoutMs,
        agent: false,
        // Explicit, so `--max-http-header-size` on the recording machine changes nothing.
        ...(req.headers === undefined ? {} : { maxHeaderSize: MAX_RESPONSE_HEADER_BYTES }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let headers: Uint8Array | undefined;
        if (req.headers !== undefined) {
          headers = responseHeaderBlock(res.rawHeaders);
          if (headers === undefined) {
            request.destroy();
            done({ error: 'transport', message: 'a response header is not a token name with a value' });
            return;
          }
          // The header block is part of the response the guest gets: it counts toward the limit.
          size = headers.length;
          if (size > req.maxResponseBytes) {
            request.destroy();
            done({ error: 'limit', message: `response larger than ${req.maxResponseBytes} bytes` });
            return;
          }
        }
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > req.maxResponseBytes) {
            request.destroy();
            done({ error: 'limit', message: `response larger than ${req.maxResponseBytes} bytes` });
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const body = new Uint8Array(Buffer.concat(chunks));
          done(
            headers === undefined
              ? { status: res.statusCode ?? 0, body }
              : { status: res.statusCode ?? 0, body, headers },
          );
        });
        res.on('error', (e) => done({ error: 'transport', message: e.message }));
      },
    );
    // Node drops response headers past 2000 in silence; maxHeaderSize bounds them instead.
    if (req.headers !== undefined) request.maxHeadersCount = 0;
    const timer = setTimeout(() => {
      request.destroy();
      done({ error: 'transport', message: `timed out after ${req.timeoutMs} ms` });
    }, req.timeoutMs);
    timer.unref();
    request.on('timeout', () => {
      request.destroy();
      done({ error: 'transport', message: `timed out after ${req.timeoutMs} ms` });
    });
    request.on('error', (e) =>
      // A header section over maxHeaderSize is a response over a limit, not a broken connection.
      done(
        req.headers !== undefined && (e as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW'
          ? { error: 'limit', message: `response headers larger than ${MAX_RESPONSE_HEADER_BYTES} bytes` }
          : { error: 'transport', message: e.message },
      ),
    );
    request.on('close', () => clearTimeout(timer));
    request.end(Buffer.from(req.body));
  });
}

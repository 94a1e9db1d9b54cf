/**
 * The live side of the recorded network (record mode only), run on the main thread: one DNS
 * resolution, a connection to exactly that address, no redirects followed, a size cap on the
 * response and a timeout (spec: spec/network.md#R2). Private and loopback addresses are refused
 * unless the allow-list entry names the address itself (an IP literal or `localhost`), so a public
 * name that resolves to 127.0.0.1 cannot reach the host's own services.
 */
import { isIP } from 'node:net';
import type { NetRequest, NetResponse } from './http.ts';

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
        headers: { 'content-length': String(req.body.length), 'user-agent': 'docklock' },
        timeout: req.timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > req.maxResponseBytes) {
            request.destroy();
            done({ error: 'limit', message: `response larger than ${req.maxResponseBytes} bytes` });
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) }));
        res.on('error', (e) => done({ error: 'transport', message: e.message }));
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      done({ error: 'transport', message: `timed out after ${req.timeoutMs} ms` });
    }, req.timeoutMs);
    timer.unref();
    request.on('timeout', () => {
      request.destroy();
      done({ error: 'transport', message: `timed out after ${req.timeoutMs} ms` });
    });
    request.on('error', (e) => done({ error: 'transport', message: e.message }));
    request.on('close', () => clearTimeout(timer));
    request.end(Buffer.from(req.body));
  });
}

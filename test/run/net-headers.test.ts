/**
 * Request and response headers of the recorded network (docklock.http_request_h,
 * http_headers_len, http_headers_read; spec/network.md#R2, #R4), through the CLI in fresh
 * processes: the C fixture http_headers sends the headers given as arguments and prints the
 * response's, against a server this test runs on 127.0.0.1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBundle, encodeBundle } from '../../runtime/bundle.ts';
import { cli, cliJson, cliJsonAsync, fixturePath, tempDir } from './helpers.ts';

interface RunJson {
  status: string;
  exitCode: number | null;
  stdout: string;
  resultHash: string;
}

interface ReplayJson {
  match: boolean;
  resultHash: string;
  divergence: { index: number; import: string; field: string } | null;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' });

/** What the server received, by path: `name: value` per header, in the order sent. */
const received = new Map<string, string[]>();
let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const raw = req.rawHeaders;
    received.set(
      req.url!,
      raw.flatMap((v, i) => (i % 2 === 0 ? [`${v}: ${raw[i + 1]}`] : [])),
    );
    req.resume();
    req.on('end', () => {
      // No date header, so the answer is the same in every run.
      res.sendDate = false;
      if (req.url === '/huge-headers') res.setHeader('X-Pad', 'p'.repeat(20_000));
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      // Sent as UTF-8 bytes; the guest gets those bytes as the server sent them.
      res.setHeader('X-Name', 'café');
      res.end(JSON.stringify({ path: req.url }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  if (server.listening) await new Promise<void>((r) => server.close(() => r()));
});

/** Runs http_headers in record mode against the test's server. */
function run(path: string, method: string, body: string, headers: string[], more: string[] = []) {
  return cliJsonAsync<RunJson>([
    'run',
    fixturePath('http_headers'),
    '--net',
    'record',
    '--allow-host',
    `127.0.0.1:${port}`,
    '--arg',
    `http://127.0.0.1:${port}${path}`,
    '--arg',
    method,
    '--arg',
    body,
    ...headers.flatMap((h) => ['--arg', h]),
    ...more,
  ]);
}

describe('recorded HTTP headers', () => {
  const dir = tempDir('docklock-net-headers-');
  const bundle = join(dir, 'headers.dlb');

  it('counts the response headers toward maxResponseBytes and bounds their section', async () => {
    const first = await run('/limit', 'GET', '', []);
    const lines = first.json.stdout.split('\n');
    const headerBytes = lines
      .filter((l) => l.startsWith('header '))
      .reduce((n, l) => n + Buffer.byteLength(l.slice('header '.length)) + 2, 0);
    const total = headerBytes + Buffer.byteLength('{"path":"/limit"}');
    const withLimit = (bytes: number): string[] => {
      const manifest = join(dir, `limit-${bytes}.json`);
      writeFileSync(
        manifest,
        JSON.stringify({
          apiVersion: 'docklock/v1',
          kind: 'Cage',
          module: 'http.wasm',
          network: { limits: { maxResponseBytes: bytes } },
        }),
      );
      return ['--manifest', manifest];
    };
    expect((await run('/limit', 'GET', '', [], withLimit(total))).json.stdout).toBe(first.json.stdout);
    expect((await run('/limit', 'GET', '', [], withLimit(total - 1))).json.stdout).toBe('error -2\n');
    // http_request returns no headers, so they do not count for it: its meaning is unchanged.
    const old = await cliJsonAsync<RunJson>([
      'run',
      fixturePath('http_get'),
      '--net',
      'record',
      '--allow-host',
      `127.0.0.1:${port}`,
      '--arg',
      `http://127.0.0.1:${port}/limit`,
      ...withLimit(total - 1),
    ]);
    expect(old.json.stdout).toContain('status 200');
    // A header section over 16384 bytes is over a limit too, whatever maxResponseBytes says.
    expect((await run('/huge-headers', 'GET', '', [])).json.stdout).toBe('error -2\n');
  });

  it('sends the guest headers, hands back the response headers, and refuses what the policy forbids', async () => {
    const r = await run(
      '/json',
      'POST',
      '{"n":1}',
      [
        'Content-Type: application/json',
        'Authorization: Bearer t0ken',
        'X-Trace:   spaced value  ',
        'Accept: text/plain',
        'accept: application/json',
        `Host: 127.0.0.1:${port}`,
        'Content-Length: 7',
      ],
      ['--bundle', bundle],
    );
    expect(r.json.status).toBe('exited');
    // The guest's headers in its order (OWS around a value trimmed; host and content-length equal
    // to the transport's, so sent once, by the transport), then user-agent and content-length.
    expect(received.get('/json')).toEqual([
      `host: 127.0.0.1:${port}`,
      'Content-Type: application/json',
      'Authorization: Bearer t0ken',
      'X-Trace: spaced value',
      'Accept: text/plain',
      'accept: application/json',
      'user-agent: docklock',
      'content-length: 7',
      'Connection: close',
    ]);
    expect(r.json.stdout.split('\n')).toEqual([
      'status 200',
      'header Content-Type: application/json',
      'header Set-Cookie: a=1',
      'header Set-Cookie: b=2',
      'header X-Name: café',
      'header Connection: close',
      'header Content-Length: 16',
      'body {"path":"/json"}',
      '',
    ]);

    // A guest's user-agent replaces the default.
    const ua = await run('/ua', 'GET', '', ['User-Agent: probe/1']);
    expect(ua.json.stdout).toContain('status 200');
    expect(received.get('/ua')).toEqual([
      `host: 127.0.0.1:${port}`,
      'User-Agent: probe/1',
      'content-length: 0',
      'Connection: close',
    ]);

    // Refused before anything is sent: -4 invalid (malformed or the transport's own header),
    // -2 over the fixed limits (64 headers, 8192 bytes of block).
    const refusals: [string, string[], number][] = [
      ['bad name', ['Bad Name: x'], -4],
      ['no colon', ['X-Token'], -4],
      ['CR in value', ['X-A: a\\rb'], -4],
      ['LF in value', ['X-A: a\\nX-B: b'], -4],
      ['non-ASCII value', ['X-A: café'], -4],
      ['connection', ['Connection: keep-alive'], -4],
      ['transfer-encoding', ['Transfer-Encoding: chunked'], -4],
      ['proxy-*', ['Proxy-Authorization: Basic eA=='], -4],
      ['te', ['TE: trailers'], -4],
      ['another host', ['Host: example.com'], -4],
      ['another content-length', ['Content-Length: 99'], -4],
      ['65 headers', Array.from({ length: 65 }, (_, i) => `X-H${i}: ${i}`), -2],
      ['8 KiB value', [`X-Big: ${'v'.repeat(8192)}`], -2],
    ];
    for (const [i, [name, h, code]] of refusals.entries()) {
      const out = await run(`/refused/${i}`, 'GET', '', h);
      expect({ name, stdout: out.json.stdout, exit: out.json.exitCode }).toEqual({
        name,
        stdout: `error ${code}\n`,
        exit: 1,
      });
    }
    expect([...received.keys()].some((p) => p.startsWith('/refused'))).toBe(false);

    // A refusal is recorded too, and replays offline like any answer.
    const refusedBundle = join(dir, 'refused.dlb');
    const refused = await run('/refused/again', 'GET', '', ['Connection: close'], ['--bundle', refusedBundle]);
    expect(refused.json.stdout).toBe('error -4\n');
    await new Promise<void>((r) => server.close(() => r()));
    expect(cliJson<ReplayJson>(['replay', refusedBundle]).json.match).toBe(true);

    // The server is gone: the replay answers from the witness.
    const replay = cliJson<ReplayJson>(['replay', bundle]);
    expect(replay.json).toMatchObject({ match: true, resultHash: r.json.resultHash, divergence: null });
  });

  it('a recorded response header or request header that differs diverges', () => {
    const b = decodeBundle(readFileSync(bundle));
    const idx = b.witness.findIndex((e) => e.name === 'docklock.http_request_h');
    expect(idx).toBeGreaterThanOrEqual(0);
    // [method, url, request headers, request body, status, response headers, response body, error]
    const ex = packr.unpack(b.witness[idx]!.data!) as unknown[];
    expect(ex).toHaveLength(8);
    expect(new TextDecoder().decode(ex[2] as Uint8Array)).toContain('Authorization: Bearer t0ken\r\n');
    expect(new TextDecoder().decode(ex[5] as Uint8Array)).toContain('Set-Cookie: b=2\r\n');
    // printf may make WASI calls between the guest's network calls: find them by name.
    const after = (name: string) => b.witness.findIndex((e, i) => i > idx && e.name === name);
    const replayEdited = (name: string, edit: (ex: unknown[]) => void) => {
      const copy = decodeBundle(readFileSync(bundle));
      const e = packr.unpack(copy.witness[idx]!.data!) as unknown[];
      edit(e);
      copy.witness[idx] = { ...copy.witness[idx]!, data: packr.pack(e) };
      const path = join(dir, name);
      writeFileSync(path, encodeBundle(copy));
      return cliJson<ReplayJson>(['replay', path]);
    };
    const swap = (at: number, from: string, to: string) => (e: unknown[]) => {
      const text = new TextDecoder().decode(e[at] as Uint8Array);
      expect(text).toContain(from);
      e[at] = new TextEncoder().encode(text.replace(from, to));
    };

    // Same length: the guest reads other bytes.
    const sameLength = replayEdited('cookie.dlb', swap(5, 'b=2', 'b=3'));
    expect(sameLength.code).toBe(1);
    expect(sameLength.json.divergence).toMatchObject({
      index: after('docklock.http_headers_read'),
      import: 'docklock.http_headers_read',
      field: 'writes',
    });
    const longer = replayEdited('longer.dlb', swap(5, 'b=2', 'b=2; Secure'));
    expect(longer.json.divergence).toMatchObject({
      index: after('docklock.http_headers_len'),
      import: 'docklock.http_headers_len',
      field: 'result',
    });
    // A block the transport could never have written is not handed over: the replay answers a
    // transport error where the recording had a handle.
    const broken = replayEdited('broken.dlb', swap(5, 'Set-Cookie: b=2\r\n', 'Set-Cookie b=2\r\n'));
    expect(broken.json.divergence).toMatchObject({ index: idx, import: 'docklock.http_request_h', field: 'result' });
    // The recording asked with another header than the guest does.
    const request = replayEdited('request.dlb', swap(2, 'Bearer t0ken', 'Bearer t1ken'));
    expect(request.json.match).toBe(false);
    expect(request.json.divergence).toMatchObject({ index: idx, import: 'docklock.http_request_h', field: 'data' });
    expect(cli(['verify', join(dir, 'request.dlb')]).code).toBe(1);
  });
});

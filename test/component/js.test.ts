/**
 * Issue 16's component from another toolchain that ships in npm: JavaScript programs made
 * components by ComponentizeJS (test/fixtures/js, built by scripts/build-fixtures.ts), run through
 * the CLI in fresh processes. `js_hello` reads arguments, clock and randomness and waits on a
 * timer; `js_fetch` calls fetch(), which reaches wasi:http's client side and through it the
 * recorded network (docklock.http_*), against a server this test runs on 127.0.0.1.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBundle, encodeBundle } from '../../runtime/bundle.ts';
import { COMPONENT_DIR } from '../../scripts/build-fixtures.ts';
import { cliJson, cliJsonAsync, tempDir } from '../run/helpers.ts';

interface RunJson {
  status: string;
  exitCode: number | null;
  stdout: string;
  resultHash: string;
  witnessRoot: string;
  error?: { code: string; message: string };
}

interface ReplayJson {
  match: boolean;
  resultHash: string;
  divergence: { index: number; import: string; field: string } | null;
}

const comp = (name: string): string => join(COMPONENT_DIR, `${name}.wasm`);

beforeAll(() => {
  process.env.DOCKLOCK_COMPONENT_CACHE = mkdtempSync(join(tmpdir(), 'docklock-component-cache-'));
});

describe('a ComponentizeJS component', () => {
  it('is deterministic across processes; another seed changes its randomness; its bundle replays and an edit diverges', () => {
    const dir = tempDir('docklock-js-');
    const bundle = join(dir, 'run.dlb');
    const args = (seed: string, ...more: string[]): string[] => [
      'run',
      comp('js_hello'),
      '--arg',
      'x',
      '--seed',
      seed,
      ...more,
    ];
    const a1 = cliJson<RunJson>(args('cd'.repeat(32), '--bundle', bundle));
    const a2 = cliJson<RunJson>(args('cd'.repeat(32)));
    const b = cliJson<RunJson>(args('ef'.repeat(32)));
    expect(a1.json.status).toBe('exited');
    expect(a1.json.exitCode).toBe(0);
    const lines = a1.json.stdout.split('\n');
    expect(lines[0]).toBe('args ["main","x"]');
    // setTimeout waits on a monotonic-clock pollable: virtual time jumps by the delay.
    expect(Number(/waited (\d+)/.exec(lines[2]!)![1])).toBeGreaterThanOrEqual(1500);
    expect(a2.json).toMatchObject({
      stdout: a1.json.stdout,
      witnessRoot: a1.json.witnessRoot,
      resultHash: a1.json.resultHash,
    });
    expect(b.json.stdout.split('\n')[1]).not.toBe(lines[1]);
    expect(b.json.resultHash).not.toBe(a1.json.resultHash);

    const replay = cliJson<ReplayJson>(['replay', bundle]);
    expect(replay.json).toMatchObject({ match: true, resultHash: a1.json.resultHash, divergence: null });

    // Change the bytes of the first recorded randomness: the replay computes the real ones.
    const rec = decodeBundle(readFileSync(bundle));
    const idx = rec.witness.findIndex((e) => e.name.endsWith('random_get') && e.writes.length > 0);
    expect(idx).toBeGreaterThanOrEqual(0);
    const e = rec.witness[idx]!;
    const forged = e.writes[0]!.bytes.slice();
    forged[0] = forged[0]! ^ 0xff;
    rec.witness[idx] = { ...e, writes: [{ ptr: e.writes[0]!.ptr, bytes: forged }, ...e.writes.slice(1)] };
    const edited = join(dir, 'edited.dlb');
    writeFileSync(edited, encodeBundle(rec));
    const r = cliJson<ReplayJson>(['replay', edited]);
    expect(r.code).toBe(1);
    expect(r.json.match).toBe(false);
    expect(r.json.divergence).toMatchObject({ index: idx, field: 'writes' });
  });

  it('fetch() is recorded with its headers, replays with the server gone, and an edited response diverges', async () => {
    const seen: string[] = [];
    const received = new Map<string, string[]>();
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${body}`);
        received.set(req.url!, req.rawHeaders);
        // No date header: the second run must get the same answer as the first.
        res.sendDate = false;
        if (req.url === '/json') {
          res.writeHead(201, { 'content-type': 'application/json; charset=utf-8', 'x-reply': 'r1' });
          res.end(JSON.stringify({ got: JSON.parse(body) as unknown, auth: req.headers.authorization }));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(req.url === '/big' ? `${'x'.repeat(200_000)}END` : `truth for ${req.method} ${req.url} ${body}`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}`;
    const dir = tempDir('docklock-js-fetch-');
    const bundle = join(dir, 'net.dlb');
    const run = (allow: number, ...more: string[]) =>
      cliJsonAsync<RunJson>([
        'run',
        comp('js_fetch'),
        '--net',
        'record',
        '--allow-host',
        `127.0.0.1:${allow}`,
        '--arg',
        base,
        ...more,
      ]);
    let first: { code: number; json: RunJson };
    let second: { code: number; json: RunJson };
    let denied: { code: number; json: RunJson };
    try {
      first = await run(port, '--bundle', bundle);
      second = await run(port);
      denied = await run(port + 1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect(first.json.status).toBe('exited');
    const out = first.json.stdout.split('\n');
    // content-type, connection, content-length: the server's headers, in its order.
    expect(out[0]).toBe(`get 200 "truth for GET /answer?q=1 " headers 3`);
    expect(out[1]).toMatch(/^post 200 "truth for POST \/echo ping 0\.\d+"$/);
    expect(out[2]).toBe('put 200 "truth for PUT /stream part1 part2"');
    expect(out[3]).toBe('big 200003 xEND');
    expect(out[4]).toBe('json 201 application/json; charset=utf-8 r1 {"got":{"n":1},"auth":"Bearer t0ken"}');
    expect(out[5]).toBe('text 200 "truth for POST /text plain"');
    // A byte outside visible ASCII in a value, and 65 headers: the cage's header policy refuses both.
    expect(out.slice(6)).toEqual(['refused: TypeError', 'refused: TypeError', '']);
    // What the server got: the program's headers as it gave them, then the transport's.
    const pairs = (raw: string[]): string[] => raw.flatMap((v, i) => (i % 2 === 0 ? [`${v}: ${raw[i + 1]}`] : []));
    expect(pairs(received.get('/json')!)).toEqual([
      `host: 127.0.0.1:${port}`,
      'content-type: application/json',
      'authorization: Bearer t0ken',
      'x-trace: a b',
      'user-agent: docklock',
      'content-length: 7',
      'Connection: close',
    ]);
    // fetch's own content-type for a string body goes out too.
    expect(pairs(received.get('/text')!)).toContain('Content-Type: text/plain;charset=UTF-8');
    expect(seen.filter((s) => s.startsWith('GET /answer?q=1'))).toHaveLength(2);
    expect(seen.some((s) => s.includes('/refused'))).toBe(false);
    // Same server answers, same seed: the same run in another process.
    expect(second.json).toMatchObject({ stdout: first.json.stdout, witnessRoot: first.json.witnessRoot });
    // A host:port outside network.allow: refused by the cage's policy, fetch rejects.
    expect(denied.json.stdout).toBe('get failed: TypeError\n');

    // The server is gone: the replay answers from the witness.
    const replay = cliJson<ReplayJson>(['replay', bundle]);
    expect(replay.json).toMatchObject({ match: true, resultHash: first.json.resultHash, divergence: null });

    // Edit a recorded response: replay feeds it to the component, whose next call differs. The
    // entry's data is [method, url, request headers, body, status, response headers, body, error].
    const b = decodeBundle(readFileSync(bundle));
    const idx = b.witness.findIndex((e) => e.name === 'docklock.http_request_h');
    expect(idx).toBeGreaterThanOrEqual(0);
    const packr = new Packr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' });
    const replayEdited = (name: string, edit: (ex: unknown[]) => void): ReplayJson & { code: number } => {
      const copy = decodeBundle(readFileSync(bundle));
      const ex = packr.unpack(copy.witness[idx]!.data!) as unknown[];
      edit(ex);
      copy.witness[idx] = { ...copy.witness[idx]!, data: packr.pack(ex) };
      const edited = join(dir, name);
      writeFileSync(edited, encodeBundle(copy));
      const r = cliJson<ReplayJson>(['replay', edited]);
      return { ...r.json, code: r.code };
    };
    const body = replayEdited('body.dlb', (ex) => {
      ex[6] = new TextEncoder().encode('forged truth, longer than the real one');
    });
    expect(body).toMatchObject({ code: 1, match: false });
    expect(body.divergence).toMatchObject({ index: idx + 2, import: 'docklock.http_body_len', field: 'result' });
    // Same length, another content-type: the bytes the headers read hands over differ.
    const header = replayEdited('header.dlb', (ex) => {
      const text = new TextDecoder().decode(ex[5] as Uint8Array);
      expect(text).toContain('content-type: text/plain\r\n');
      ex[5] = new TextEncoder().encode(text.replace('text/plain', 'text/plane'));
    });
    expect(header).toMatchObject({ code: 1, match: false });
    expect(header.divergence).toMatchObject({ index: idx + 4, import: 'docklock.http_headers_read', field: 'writes' });
    // The component asks with another header: its request diverges at its own entry.
    const request = replayEdited('request.dlb', (ex) => {
      ex[2] = new TextEncoder().encode('x-other: 1\r\n');
    });
    expect(request.divergence).toMatchObject({ index: idx, import: 'docklock.http_request_h', field: 'data' });
  });

  it('without recorded networking, a component that can fetch is refused before it runs', () => {
    const r = cliJson<RunJson>(['run', comp('js_fetch'), '--arg', 'http://127.0.0.1:9']);
    expect(r.json.status).toBe('rejected');
    expect(r.json.error?.code).toBe('DL_ERR_COMPONENT_IMPORT_DENIED');
    expect(r.json.error?.message).toContain('wasi:http/outgoing-handler');
  });
});

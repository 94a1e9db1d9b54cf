import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cli, cliJson, cliJsonAsync, fixturePath, tempDir } from './helpers.ts';
import { decodeBundle, encodeBundle } from '../../runtime/bundle.ts';
import { Packr } from 'msgpackr';

const SEED_A = 'a'.repeat(64);
const SEED_B = 'b'.repeat(64);

interface RunJson {
  status: string;
  exitCode: number | null;
  trap: string | null;
  fuelUsed: string;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  witnessEntries: number;
  resultHash: string;
  error?: { code: string; message: string };
}

describe('docklock run / replay / verify through the CLI', () => {
  it('the same module and seed give the same result hash in two processes; another seed changes it', () => {
    const a1 = cliJson<RunJson>(['run', fixturePath('rand_clock'), '--seed', SEED_A]);
    const a2 = cliJson<RunJson>(['run', fixturePath('rand_clock'), '--seed', SEED_A]);
    const b = cliJson<RunJson>(['run', fixturePath('rand_clock'), '--seed', SEED_B]);
    expect(a1.code).toBe(0);
    expect(a1.json.status).toBe('exited');
    expect(a1.json.resultHash).toBe(a2.json.resultHash);
    expect(a1.json.stdout).toBe(a2.json.stdout);
    expect(b.json.resultHash).not.toBe(a1.json.resultHash);
    expect(b.json.stdout.split('\n')[0]).not.toBe(a1.json.stdout.split('\n')[0]);
    // The virtual clock starts at the manifest's instant (default 1.7e18 ns), not the wall clock.
    expect(a1.json.stdout.split('\n')[1]).toBe('1700000000.000000000');
  });

  it("passes the guest's output and exit code through without --json, and 125 for a trap", () => {
    const ok = cli(['run', fixturePath('hello'), '--arg', 'x']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('arg[1]=x');
    expect(ok.stderr).toContain('hello from stderr');
    expect(cli(['run', fixturePath('hello'), '--arg', 'fail']).code).toBe(3);
    const starved = cli(['run', fixturePath('hello'), '--fuel', '50']);
    expect(starved.code).toBe(125);
    // The status names the trap already: said once.
    expect(starved.stderr).toMatch(/^docklock: out_of_fuel; fuel used 50 of 50; result [0-9a-f]{64}\n$/m);
  });

  it('rejects a bad module or bad usage with exit 2 and a coded error', () => {
    const dir = tempDir();
    const junk = join(dir, 'junk.wasm');
    writeFileSync(junk, 'not wasm at all');
    const r = cli(['run', junk]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DL_ERR_MODULE_MALFORMED');
    const j = cliJson<RunJson>(['run', junk]);
    expect(j.code).toBe(0);
    expect(j.json.status).toBe('rejected');
    expect(j.json.error?.code).toBe('DL_ERR_MODULE_MALFORMED');
    expect(cli(['run', fixturePath('hello'), '--memory', '12 parsecs']).stderr).toContain('DL_ERR_MANIFEST');
    expect(cli(['run', fixturePath('hello'), '--seed', 'abc']).code).toBe(2);
    expect(cli(['run', join(dir, 'missing.wasm')]).stderr).toContain('DL_ERR_CLI_READ');
    expect(cli(['run']).code).toBe(2);
  });

  it('writes a bundle that replays, verifies, proves entries, and fails verify after any flipped byte', () => {
    const dir = tempDir();
    const input = join(dir, 'data.txt');
    writeFileSync(input, 'hello input\n');
    const bundle = join(dir, 'suite.dlb');
    const run = cliJson<RunJson>([
      'run',
      fixturePath('wasi_suite'),
      '--input',
      input,
      '--arg',
      'exit7',
      '--env',
      'GREETING=hi',
      '--bundle',
      bundle,
    ]);
    expect(run.json.status).toBe('exited');
    expect(run.json.exitCode).toBe(7);
    expect(Object.keys(run.json.outputs)).toEqual(['/output/result.txt']);
    const replay = cliJson<{ match: boolean; resultHash: string; divergence: unknown }>(['replay', bundle]);
    expect(replay).toEqual({
      code: 0,
      json: { match: true, resultHash: run.json.resultHash, expectedResultHash: run.json.resultHash, divergence: null },
    });
    expect(cliJson<{ ok: boolean }>(['verify', bundle, '--expected-hash', run.json.resultHash]).json.ok).toBe(true);
    expect(cli(['verify', bundle, '--expected-hash', '00'.repeat(32)]).code).toBe(1);

    const proof = cli(['proof', bundle, '--entry', '5', '--json']);
    expect(proof.code).toBe(0);
    const proofFile = join(dir, 'proof.json');
    writeFileSync(proofFile, proof.stdout);
    expect(cli(['verify-proof', proofFile]).code).toBe(0);
    const p = JSON.parse(proof.stdout) as { leafHash: string };
    writeFileSync(
      proofFile,
      proof.stdout.replace(
        p.leafHash,
        p.leafHash.replace(/^./, (c) => (c === '0' ? '1' : '0')),
      ),
    );
    expect(cli(['verify-proof', proofFile]).code).toBe(1);
    expect(cli(['inspect', bundle]).stdout).toContain('wasi_snapshot_preview1.path_open');

    const bytes = readFileSync(bundle);
    const tampered = join(dir, 'tampered.dlb');
    for (const pos of [0, 9, 30, 51, 60, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const copy = Buffer.from(bytes);
      copy[pos] = copy[pos]! ^ 0x01;
      writeFileSync(tampered, copy);
      const v = cli(['verify', tampered]);
      expect(v.code, `flip at ${pos}`).not.toBe(0);
    }

    // A witness that does not decode (here: entry 0 claims an unknown version) is an unusable
    // bundle for replay too, though replay leaves the decoding to its worker.
    const b = decodeBundle(bytes);
    const broken = join(dir, 'broken-witness.dlb');
    writeFileSync(broken, encodeBundle({ ...b, witness: Uint8Array.of(0x91, 0x02) }));
    const r = cliJson<{ error: { code: string } }>(['replay', broken]);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('DL_ERR_WITNESS_VERSION');
  });

  it('records HTTP against a local server and replays it after the server is gone; an edited response diverges', async () => {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`ground truth for ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const dir = tempDir();
    const bundle = join(dir, 'net.dlb');
    const url = `http://127.0.0.1:${port}/answer`;
    const run = await cliJsonAsync<RunJson>([
      'run',
      fixturePath('http_get'),
      '--net',
      'record',
      '--allow-host',
      `127.0.0.1:${port}`,
      '--arg',
      url,
      '--bundle',
      bundle,
    ]);
    const denied = await cliJsonAsync<RunJson>([
      'run',
      fixturePath('http_get'),
      '--net',
      'record',
      '--allow-host',
      `127.0.0.1:${port + 1}`,
      '--arg',
      url,
    ]);
    expect(denied.json.stdout).toContain('error -1');
    await new Promise<void>((r) => server.close(() => r()));
    expect(run.json.status).toBe('exited');
    expect(run.json.stdout).toContain('status 200');
    expect(run.json.stdout).toContain('ground truth for /answer');
    expect(run.json.outputs['/output/body.txt']).toBeDefined();

    // The server is gone: replay answers from the witness.
    expect(cliJson<{ match: boolean }>(['replay', bundle]).json.match).toBe(true);

    const noNet = cliJson<RunJson>(['run', fixturePath('http_get'), '--arg', url]);
    expect(noNet.json.status).toBe('rejected');
    expect(noNet.json.error?.code).toBe('DL_ERR_IMPORT_NOT_GRANTED');

    // Edit the recorded response body: replay feeds it to the guest, whose next call differs.
    const b = decodeBundle(readFileSync(bundle));
    const idx = b.witness.findIndex((e) => e.name === 'docklock.http_request');
    const packr = new Packr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' });
    const ex = packr.unpack(b.witness[idx]!.data!) as unknown[];
    ex[4] = new TextEncoder().encode('forged truth, longer than the real one');
    b.witness[idx] = { ...b.witness[idx]!, data: packr.pack(ex) };
    const edited = join(dir, 'edited.dlb');
    writeFileSync(edited, encodeBundle(b));
    const r = cliJson<{ match: boolean; divergence: { index: number; import: string; field: string } }>([
      'replay',
      edited,
    ]);
    expect(r.code).toBe(1);
    expect(r.json.match).toBe(false);
    expect(r.json.divergence).toMatchObject({ index: idx + 1, import: 'docklock.http_body_len', field: 'result' });
    expect(cli(['verify', edited]).code).toBe(1);
  });
});

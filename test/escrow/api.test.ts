/**
 * The escrow HTTP API on a real socket (127.0.0.1): token roles, a client opening an escrow from a
 * recorded run's bundle, an operator's verdicts deciding it, the state and the metrics reading the
 * outcome, and coded errors for hostile requests. `docklock escrow serve` is started as a process.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Escrow, buildEscrowApp } from '../../escrow/index.ts';
import { encodeBundle, parseManifest, resultHash, runCage, toHex } from '../../index.ts';
import { CLI, fixturePath } from '../run/helpers.ts';

const enc = new TextEncoder();
const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
const TOKENS = [
  { name: 'validator', sha256: sha('client-secret'), role: 'client' as const },
  { name: 'ops', sha256: sha('operator-secret'), role: 'operator' as const },
];

async function recordRun(db: string): Promise<{ bundle: Uint8Array; hash: string }> {
  const module = new Uint8Array(readFileSync(fixturePath('state_counter')));
  const manifest = parseManifest({
    apiVersion: 'docklock/v1',
    kind: 'Cage',
    module: './s.wasm',
    grants: ['wasi', 'state'],
  });
  const inputs = new Map<string, Uint8Array>();
  const stdin = new Uint8Array(0);
  const out = await runCage({ manifest, module, stdin, inputs, mode: 'record', state: { db, name: 'board' } });
  return {
    bundle: encodeBundle({ manifest, module, stdin, inputs, witness: out.witnessBytes, result: out.result }),
    hash: toHex(resultHash(out.result)),
  };
}

describe('the escrow HTTP API', () => {
  let dir: string;
  let escrow: Escrow;
  let app: FastifyInstance;
  let base: string;
  const call = async (
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
    type = 'application/json',
  ): Promise<{ status: number; json: Record<string, unknown> & { error?: { code: string; message: string } } }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': type }),
      },
      ...(body === undefined ? {} : { body: body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'docklock-escrow-api-'));
    escrow = await Escrow.open(dir);
    app = buildEscrowApp(escrow, { tokens: TOKENS });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const a = app.server.address() as { port: number };
    base = `http://127.0.0.1:${a.port}`;
  });

  afterAll(async () => {
    await app.close();
    await escrow.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a missing or unknown token, and a client asking for an operator action', async () => {
    expect((await call('GET', '/v1/escrows', undefined)).json.error?.code).toBe('DL_ERR_ESCROW_API_AUTH');
    const wrong = await call('GET', '/v1/escrows', 'guess');
    expect(wrong.status).toBe(401);
    const forbidden = await call('POST', '/v1/escrows/esc_x/commit', 'client-secret', { reason: 'x' });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error?.code).toBe('DL_ERR_ESCROW_API_FORBIDDEN');
  });

  it('a client opens an escrow from a bundle; operator verdicts commit it; state and metrics show it', async () => {
    const run = await recordRun(join(dir, 'escrow.db'));
    const opened = await call(
      'POST',
      '/v1/escrows?miner=alice',
      'client-secret',
      run.bundle,
      'application/octet-stream',
    );
    expect(opened.status).toBe(201);
    const id = (opened.json.escrow as { id: string }).id;
    expect(opened.json.revertToken).toEqual(expect.any(String));
    let last: Record<string, unknown> = {};
    for (const juror of ['n1', 'n2', 'n3'])
      last = (await call('POST', `/v1/escrows/${id}/verdicts`, 'operator-secret', { juror, resultHash: run.hash }))
        .json;
    expect(last).toMatchObject({ escrow: { status: 'committed' }, decision: { outcome: 'commit' } });
    const state = await call('GET', '/v1/state/board', 'client-secret');
    expect(state.json).toMatchObject({
      version: 1,
      entries: expect.arrayContaining([{ key: 'runs', value: '1', version: 1 }]),
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/docklock_escrow_gate_decisions_total\{outcome="commit"\} 1/);
    expect(metrics).toMatch(/docklock_escrow_escrows\{status="committed"\} 1/);
    expect(metrics).toMatch(/docklock_escrow_events_total\{action="verdict"\} 3/);
  });

  it('a miner withdraws with its revert token, once; a mismatching verdict reverts', async () => {
    const run = await recordRun(join(dir, 'escrow.db'));
    const a = await call('POST', '/v1/escrows?miner=bob', 'client-secret', run.bundle, 'application/octet-stream');
    const id = (a.json.escrow as { id: string }).id;
    expect((await call('POST', `/v1/escrows/${id}/revert`, 'client-secret', { reason: 'oops' })).status).toBe(403);
    const ok = await call('POST', `/v1/escrows/${id}/revert`, 'client-secret', {
      reason: 'withdrawn',
      token: a.json.revertToken,
    });
    expect(ok.json).toMatchObject({ status: 'reverted' });
    const again = await call('POST', `/v1/escrows/${id}/revert`, 'client-secret', {
      reason: 'x',
      token: a.json.revertToken,
    });
    expect(again.status).toBe(409);
    const b = await call('POST', '/v1/escrows?miner=carol', 'client-secret', run.bundle, 'application/octet-stream');
    const bid = (b.json.escrow as { id: string }).id;
    const d = await call('POST', `/v1/escrows/${bid}/verdicts`, 'operator-secret', {
      juror: 'n1',
      resultHash: '0'.repeat(64),
    });
    expect(d.json).toMatchObject({ escrow: { status: 'reverted' }, decision: { outcome: 'revert' } });
  });

  it('answers hostile requests with coded 4xx errors', async () => {
    const notJson = await fetch(`${base}/v1/escrows/x/commit`, {
      method: 'POST',
      headers: { authorization: 'Bearer operator-secret', 'content-type': 'application/json' },
      body: '{"reason": ',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('DL_ERR_ESCROW_API_REQUEST');
    const garbage = await call(
      'POST',
      '/v1/escrows?miner=m',
      'client-secret',
      enc.encode('not a bundle'),
      'application/octet-stream',
    );
    expect(garbage.status).toBe(422);
    expect(garbage.json.error?.code).toBe('DL_ERR_ESCROW_RUN');
    expect(
      (await call('POST', '/v1/escrows?miner=a%20b', 'client-secret', enc.encode('x'), 'application/octet-stream')).json
        .error?.code,
    ).toBe('DL_ERR_ESCROW_API_REQUEST');
    expect((await call('GET', '/v1/escrows?status=maybe', 'client-secret')).status).toBe(400);
    expect((await call('GET', '/v1/escrows/esc_missing', 'client-secret')).status).toBe(404);
    expect((await call('GET', '/v1/state/board?limit=5000', 'client-secret')).status).toBe(400);
    const badVerdict = await call('POST', '/v1/escrows/esc_x/verdicts', 'operator-secret', {
      juror: 'n',
      resultHash: 'zz',
    });
    expect(badVerdict.json.error).toMatchObject({ code: 'DL_ERR_ESCROW_API_REQUEST', where: { field: 'resultHash' } });
  });

  it('docklock escrow serve listens with the tokens from escrow.yaml and stops on SIGTERM', async () => {
    const d = mkdtempSync(join(tmpdir(), 'docklock-escrow-serve-'));
    writeFileSync(
      join(d, 'escrow.yaml'),
      `dataDir: data\napi:\n  listen: 127.0.0.1:0\n  tokens:\n    - { name: ops, sha256: ${sha('operator-secret')}, role: operator }\n`,
    );
    const child = spawn(process.execPath, [CLI, 'escrow', 'serve', '--config', join(d, 'escrow.yaml'), '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('}')) resolve(out);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    const { listening } = JSON.parse(line) as { listening: string };
    const res = await fetch(`http://${listening}/v1/escrows`, { headers: { authorization: 'Bearer operator-secret' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    rmSync(d, { recursive: true, force: true });
  }, 60_000);
});

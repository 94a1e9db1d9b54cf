/**
 * Both SDKs, every function: the AssemblyScript and C self-tests (challenges/sdk/{assemblyscript,c}/test)
 * run in the cage with a sort submission as the submission and $URL served from 127.0.0.1. Also
 * checks that the SDKs' hard-coded ABI numbers agree with host-functions/nested/abi.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { runCage } from '../../runtime/cage/cage.ts';
import { resultHash } from '../../runtime/result.ts';
import { toHex } from '../../runtime/hash.ts';
import { NESTED_ERR, NESTED_STATUS, NESTED_STATUS_NAMES } from '../../host-functions/nested/abi.ts';
import { NET_ERR } from '../../host-functions/net/http.ts';
import { STATE_ERR } from '../../host-functions/state/abi.ts';
import { close, exampleDir, ROOT, serve } from './helpers.ts';

const SDK = join(ROOT, 'challenges', 'sdk');
const submission = new Uint8Array(readFileSync(join(exampleDir('sort'), 'submissions', 'quicksort.wasm')));
let web: { server: Server; host: string };

beforeAll(async () => {
  // The ground truth, which also answers a request's `x-ask` header with an `x-echo` one.
  web = await serve('hello from the ground truth', (req) => ({ 'x-echo': String(req.headers['x-ask'] ?? '') }));
});
afterAll(async () => {
  await close(web.server);
});

async function selftest(lang: 'assemblyscript' | 'c') {
  const module = new Uint8Array(readFileSync(join(SDK, lang, 'test', 'selftest.wasm')));
  const manifest = parseManifest({
    apiVersion: 'docklock/v1',
    kind: 'Cage',
    module: 'selftest.wasm',
    limits: { fuel: '100000000', memory: '16MiB' },
    env: { URL: `http://${web.host}/truth` },
    files: { inputs: [{ guest: '/input/submission' }] },
    network: { mode: 'record', allow: [web.host] },
    grants: ['wasi', 'random', 'clock', 'log', 'net', 'nested', 'state'],
  });
  const out = await runCage({
    manifest,
    module,
    stdin: submission,
    inputs: new Map([['/input/submission', submission]]),
    mode: 'record',
  });
  const lines = Object.fromEntries(
    new TextDecoder()
      .decode(out.result.stdout)
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    out,
    lines,
    stderr: new TextDecoder().decode(out.result.stderr),
    score: out.result.outputs.get('/output/score.json'),
  };
}

describe.each(['assemblyscript', 'c'] as const)('%s SDK', (lang) => {
  it('reads the submission, randomness, time, env, HTTP, nested calls, logs and writes the score', async () => {
    const { out, lines, stderr, score } = await selftest(lang);
    expect(out.result.status).toBe('exited');
    expect(out.result.exitCode).toBe(0);
    expect(lines.submission_len).toBe(String(submission.length));
    expect(lines.submission_size).toBe(String(submission.length));
    expect(lines.stdin_same).toBe('true');
    expect(lines.random).toMatch(/^[0-9a-f]{16}$/);
    expect(lines.clock_step).toBe('1000000');
    expect(lines.env).toBe(`http://${web.host}/truth`);
    expect(lines.http_status).toBe('200');
    expect(lines.http_body).toBe('hello from the ground truth');
    expect(lines.http_denied).toBe(String(NET_ERR.DENIED));
    // With headers: sent, and the response's read back by name (case-insensitive).
    expect(lines.http_h_status).toBe('200');
    expect(lines.http_h_echo).toBe('echo me');
    expect(lines.http_h_body).toBe('hello from the ground truth');
    expect(lines.http_h_missing).toBe('null');
    expect(lines.http_h_invalid).toBe(String(NET_ERR.INVALID));
    expect(stderr).toContain('[info] selftest log line');
    expect(lines.state_missing).toBe('true');
    expect(lines.state_put).toBe('0');
    expect(lines.state_get).toBe('v1');
    expect(lines.state_scan).toBe('1');
    expect(lines.state_delete).toBe('0');
    expect(lines.state_after_delete).toBe('none');
    expect(lines.load).toBe('0');
    expect(lines.call_status).toBe('ok');
    expect(lines.call_output).toBe('-1,2,3');
    expect(lines.call_fuel_positive).toBe('true');
    expect(lines.call_missing).toBe('bad_abi');
    expect(lines.call_no_fuel).toBe('out_of_fuel');
    if (lang === 'c') expect(lines.call_small_buffer).toBe('output_too_large');
    expect(lines.load_invalid).toBe('invalid_module');
    const json = JSON.parse(new TextDecoder().decode(score)) as { score: number; details: Record<string, unknown> };
    expect(json.score).toBe(0.5);
    expect(json.details.quote).toBe(lang === 'c' ? 'a"b' : 'a"b\\c\n');
  });

  it('is deterministic: the same run twice gives the same result hash', async () => {
    const a = await selftest(lang);
    const b = await selftest(lang);
    expect(toHex(resultHash(a.out.result))).toBe(toHex(resultHash(b.out.result)));
    expect(a.lines.random).toBe(b.lines.random);
  });
});

describe('SDK ABI constants', () => {
  const asNested = readFileSync(join(SDK, 'assemblyscript', 'nested.ts'), 'utf8');
  const cHeader = readFileSync(join(SDK, 'c', 'docklock.h'), 'utf8');
  const names: Record<string, string> = {
    LIMIT: 'LIMIT',
    INVALID: 'INVALID',
    FAULT: 'FAULT',
    BAD_HANDLE: 'BAD_HANDLE',
    FORBIDDEN_IMPORT: 'FORBIDDEN_IMPORT',
  };

  it('agree with host-functions/nested/abi.ts', () => {
    for (const [k, v] of Object.entries(NESTED_ERR)) {
      expect(asNested).toContain(`export const NESTED_${names[k]}: i32 = ${v};`);
      expect(cHeader).toContain(`DL_NESTED_${k} = ${v}`);
    }
    for (const [k, v] of Object.entries(NESTED_STATUS)) {
      expect(asNested).toContain(`export const STATUS_${k}: i32 = ${v};`);
      expect(cHeader).toContain(`DL_STATUS_${k} = ${v}`);
      expect(asNested).toContain(`case ${v}: return "${NESTED_STATUS_NAMES[v]}";`);
      expect(cHeader).toContain(`case ${v}: return "${NESTED_STATUS_NAMES[v]}";`);
    }
    for (const [k, v] of Object.entries(NET_ERR)) {
      expect(asNested.length + cHeader.length).toBeGreaterThan(0);
      expect(readFileSync(join(SDK, 'assemblyscript', 'http.ts'), 'utf8')).toContain(
        `export const HTTP_${k}: i32 = ${v};`,
      );
      expect(cHeader).toContain(`DL_HTTP_${k} = ${v}`);
    }
    const asState = readFileSync(join(SDK, 'assemblyscript', 'state.ts'), 'utf8');
    for (const [k, v] of Object.entries(STATE_ERR)) {
      expect(asState).toContain(`export const STATE_${k}: i32 = ${v};`);
      expect(cHeader).toContain(`DL_STATE_${k} = ${v}`);
    }
  });
});

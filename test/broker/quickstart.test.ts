/**
 * docs/broker.md's quick start, run exactly as written (the block between the `quickstart`
 * markers) by bash, with `docklock` on the PATH as this checkout's command.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerReady, removeOwned } from './helpers.ts';

const ready = dockerReady();
const doc = readFileSync(new URL('../../docs/broker.md', import.meta.url), 'utf8');
const CLI = new URL('../../cli/main.ts', import.meta.url).pathname;

/** The quick start's shell block. */
function quickstart(): string {
  const m = /<!-- quickstart -->\n```sh\n([\s\S]*?)```\n<!-- \/quickstart -->/.exec(doc);
  if (m === null) throw new Error('docs/broker.md has no quick start block');
  return m[1]!;
}

describe.skipIf(!ready)('docs/broker.md quick start', () => {
  const bin = mkdtempSync(join(tmpdir(), 'docklock-quickstart-bin-'));
  afterAll(async () => {
    await removeOwned(['quickstart']);
    rmSync(bin, { recursive: true, force: true });
  });

  it('runs as pasted: deploy, ps, logs, rm, and an audit trail that verifies', async () => {
    // `docklock` as a user has it: this checkout's command, on Node 24.
    writeFileSync(join(bin, 'docklock'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(join(bin, 'docklock'), 0o755);
    // -e: any failing step fails the run, as a user would notice it.
    const child = spawn('bash', ['-e', '-c', quickstart()], {
      env: { PATH: `${bin}:/usr/bin:/bin`, HOME: bin },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    clearTimeout(timer);
    expect(code, `${out}\n${err}`).toBe(0);
    expect(out).toMatch(/"name": "hello"[\s\S]*"state": "running"/);
    expect(out).toMatch(/^[0-9a-f]{12}\s+hello\s+running\s+docklock-test\/busybox:latest/m);
    expect(out).toContain('hello from gVisor\n');
    expect(out).toMatch(/"state": "removed"/);
    expect(out).toMatch(/^ok: \d+ entries, head [0-9a-f]{64}$/m);
    expect(err).not.toMatch(/DL_ERR_/);
  }, 180_000);
});

/**
 * The audit log names clients and what they asked for: a real broker creates it 0600 in a 0700
 * directory, and refuses to start on an existing log that someone else could have rewritten.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../broker/errors.ts';
import { brokerSuite, dockerReady, makeConfig } from './helpers.ts';

const ready = dockerReady();

describe.skipIf(!ready)('audit log permissions', () => {
  const suite = brokerSuite();
  const { p, dir } = suite;

  function configAt(auditPath: string) {
    const config = makeConfig(p, dir);
    config.auditPath = auditPath;
    return config;
  }

  async function refusal(auditPath: string): Promise<BrokerError> {
    const err = await suite.start(configAt(auditPath)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BrokerError);
    return err as BrokerError;
  }

  it('creates the log 0600 in a new 0700 directory', async () => {
    const auditPath = join(dir, 'fresh', 'logs', 'audit.jsonl');
    const broker = await suite.start(configAt(auditPath));
    await suite.stop(broker);
    expect(statSync(auditPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'fresh', 'logs')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'fresh')).mode & 0o777).toBe(0o700);
  });

  it('narrows an existing log of its own that others may read to 0600', async () => {
    const auditPath = join(dir, 'readable.jsonl');
    await suite.stop(await suite.start(configAt(auditPath)));
    chmodSync(auditPath, 0o644);
    await suite.stop(await suite.start(configAt(auditPath)));
    expect(statSync(auditPath).mode & 0o777).toBe(0o600);
  });

  it.each([0o660, 0o602, 0o666])('refuses to start on a log with mode %o (DL_ERR_AUDIT_INSECURE)', async (mode) => {
    const auditPath = join(dir, `writable-${mode.toString(8)}.jsonl`);
    await suite.stop(await suite.start(configAt(auditPath)));
    chmodSync(auditPath, mode);
    const e = await refusal(auditPath);
    expect(e.code).toBe('DL_ERR_AUDIT_INSECURE');
    expect(e.message).toMatch(/writable/);
    expect(e.field).toBe('auditPath');
    // Left as it was: the operator decides.
    expect(statSync(auditPath).mode & 0o777).toBe(mode);
  });

  it.skipIf(process.geteuid?.() !== 0)('refuses to start on a log owned by another user', async () => {
    const auditPath = join(dir, 'foreign.jsonl');
    await suite.stop(await suite.start(configAt(auditPath)));
    chownSync(auditPath, 65534, 65534);
    const e = await refusal(auditPath);
    expect(e.code).toBe('DL_ERR_AUDIT_INSECURE');
    expect(e.message).toMatch(/owned by uid 65534/);
  });

  it('refuses a log in a directory others may write to (without the sticky bit) or own', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect((await refusal(join(open, 'audit.jsonl'))).code).toBe('DL_ERR_AUDIT_INSECURE');
    chmodSync(open, 0o1777);
    await suite.stop(await suite.start(configAt(join(open, 'audit.jsonl'))));
    if (process.geteuid?.() === 0) {
      const foreign = join(dir, 'foreign-dir');
      mkdirSync(foreign, { mode: 0o700 });
      chownSync(foreign, 65534, 65534);
      expect((await refusal(join(foreign, 'audit.jsonl'))).message).toMatch(/owned by uid 65534/);
    }
  });

  it('refuses a symlink or a FIFO at the log path', async () => {
    const target = join(dir, 'elsewhere.jsonl');
    writeFileSync(target, '', { mode: 0o600 });
    const link = join(dir, 'link.jsonl');
    symlinkSync(target, link);
    expect((await refusal(link)).code).toBe('DL_ERR_AUDIT_INSECURE');
    const fifo = join(dir, 'fifo.jsonl');
    execFileSync('mkfifo', [fifo]);
    expect((await refusal(fifo)).code).toBe('DL_ERR_AUDIT_INSECURE');
  });
});

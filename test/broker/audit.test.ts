import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, verifyAuditFile, verifyAuditText } from '../../broker/audit.ts';
import { registerBrokerCommands } from '../../cli/broker/index.ts';
import { cleanupDir, runTag, tempDir } from './helpers.ts';

const dir = tempDir(runTag());

/** What a forger would do: fix up the edited line's own hash. */
function rehash(line: string): string {
  const entry = /^\{"hash":"[0-9a-f]{64}","entry":(.*)\}$/.exec(line)![1]!;
  return `{"hash":"${bytesToHex(blake3(new TextEncoder().encode(entry)))}","entry":${entry}}`;
}
afterAll(() => cleanupDir(dir));

async function writeLog(name: string, n: number): Promise<string> {
  const path = join(dir, name);
  const log = await AuditLog.open(path);
  for (let i = 0; i < n; i++)
    await log.append({
      action: 'service.create',
      principal: 'alice',
      decision: i % 2 ? 'denied' : 'allowed',
      reason: `r${i}`,
      target: `svc-${i}`,
    });
  await log.close();
  return path;
}

async function runCli(args: string[]): Promise<number> {
  const program = new Command('docklock').exitOverride();
  registerBrokerCommands(program);
  const before = process.exitCode;
  process.exitCode = 0;
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await program.parseAsync(['node', 'docklock', ...args]);
    return Number(process.exitCode ?? 0);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = before;
  }
}

describe('hash-chained audit log', () => {
  it('verifies an untouched log and reopens to extend the same chain', async () => {
    const path = await writeLog('ok.jsonl', 5);
    const first = verifyAuditFile(path);
    expect(first).toMatchObject({ ok: true, entries: 5 });
    const log = await AuditLog.open(path);
    expect(log.head).toBe(first.head);
    await log.append({ action: 'broker.stop', principal: null, decision: 'info' });
    await log.close();
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, entries: 6 });
    expect(await runCli(['broker', 'audit', 'verify', path])).toBe(0);
  });

  const tampers: [string, (lines: string[]) => string[], number][] = [
    [
      'an edited field',
      (l) => l.map((x, i) => (i === 2 ? x.replace('"denied"', '"allowed"').replace('"allowed"', '"denied"') : x)),
      3,
    ],
    [
      'an edited entry whose own hash was recomputed (caught by the next line)',
      (l) => l.map((x, i) => (i === 2 ? rehash(x.replace('svc-2', 'svc-X')) : x)),
      4,
    ],
    ['a deleted line', (l) => l.filter((_, i) => i !== 1), 2],
    ['two swapped lines', (l) => [l[0]!, l[2]!, l[1]!, ...l.slice(3)], 2],
    ['a line appended without the chain', (l) => [...l, l[0]!], 6],
  ];
  it.each(tampers)('detects %s', async (label, tamper, line) => {
    const path = await writeLog(`${label.replace(/\W+/g, '-')}.jsonl`, 5);
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    writeFileSync(path, tamper(lines).join('\n') + '\n');
    const r = verifyAuditFile(path);
    expect(r.ok).toBe(false);
    expect(r.line).toBe(line);
    expect(await runCli(['broker', 'audit', 'verify', path])).toBe(1);
    await expect(AuditLog.open(path)).rejects.toMatchObject({ code: 'DL_ERR_AUDIT_CHAIN_BROKEN' });
  });

  it('detects a truncated tail against a recorded head', async () => {
    const path = await writeLog('trunc.jsonl', 4);
    const head = verifyAuditFile(path).head;
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    const truncated = lines.slice(0, 3).join('\n') + '\n';
    expect(verifyAuditText(truncated).ok).toBe(true);
    expect(verifyAuditText(truncated, head)).toMatchObject({ ok: false });
    writeFileSync(path, truncated);
    expect(await runCli(['broker', 'audit', 'verify', path, '--expect-head', head])).toBe(1);
  });

  it('serialises concurrent appends into one unbroken chain', async () => {
    const path = join(dir, 'concurrent.jsonl');
    const log = await AuditLog.open(path);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        log.append({ action: 'x', principal: 'p', decision: 'info', reason: String(i) }),
      ),
    );
    await log.close();
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, entries: 20 });
  });
});

/**
 * kill -9 at arbitrary points while escrows are decided and applied: after every restart each
 * escrow is applied exactly once or not at all, and the audit log still verifies.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditFile } from '../../audit/chain-log.ts';
import { Escrow } from '../../escrow/escrow.ts';

const dir = mkdtempSync(join(tmpdir(), 'dl-escrow-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const dec = new TextDecoder();

async function runAndKill(afterMs: number): Promise<void> {
  const child = fork(new URL('./crash-child.ts', import.meta.url), [dir], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the crash child exited early (${code})`)));
  });
  await new Promise((r) => setTimeout(r, afterMs));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('crash safety', () => {
  it('every escrow is applied exactly once or not at all across kill -9 restarts', async () => {
    let lastCommitted = 0;
    let kills = 0;
    for (const ms of [150, 40, 310, 5, 90, 220, 60, 17]) {
      await runAndKill(ms);
      kills++;
      const escrow = await Escrow.open(dir);
      try {
        const head = escrow.state.head('ctr');
        const all = escrow.book.list({ limit: 100_000 });
        const committed = all.filter((r) => r.status === 'committed');
        // One version per commit, and the counter (read-modify-write) counts every commit once.
        expect(head).toBe(committed.length);
        const count = escrow.state.get('ctr', new TextEncoder().encode('count'), head).entry;
        expect(count === undefined ? 0 : Number(dec.decode(count.value))).toBe(committed.length);
        expect(new Set(committed.map((r) => r.committedVersion)).size).toBe(committed.length);
        // Each escrow's own key exists iff it committed.
        for (const r of all) {
          const own = r.writes.find((w) => dec.decode(w.key).startsWith('e:'))!;
          const seen = escrow.state.get('ctr', own.key, head).entry !== undefined;
          expect({ id: r.id, applied: seen }).toEqual({ id: r.id, applied: r.status === 'committed' });
        }
        // Open escrows are only those in flight at each kill (they wait for their TTL or a jury).
        expect(all.filter((r) => r.status === 'pending').length).toBeLessThanOrEqual(kills);
        expect(committed.length).toBeGreaterThanOrEqual(lastCommitted);
        lastCommitted = committed.length;
      } finally {
        await escrow.close();
      }
      expect(verifyAuditFile(join(dir, 'audit.jsonl')).ok).toBe(true);
    }
    expect(lastCommitted).toBeGreaterThan(0);
  }, 120_000);
});

/**
 * The escrow end to end: real bundles recorded from C fixtures, jurors replaying them in their own
 * processes, the gate's decision carried out on the versioned state, every step in a verifiable
 * audit log.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditFile } from '../../audit/chain-log.ts';
import { ESCROW_DEFAULTS, Escrow, type SpeculativeResult } from '../../escrow/escrow.ts';
import type { JurorVerdict } from '../../escrow/gate.ts';
import { type Juror, type ProcessJuror, localJury, summonJury } from '../../escrow/jury.ts';
import { encodeBundle, parseManifest, resultHash, runCage, toHex } from '../../index.ts';
import { fixturePath } from '../run/helpers.ts';

const enc = new TextEncoder();
const k = (s: string): Uint8Array => enc.encode(s);

async function record(
  name: string,
  seed: string,
): Promise<{ bundle: Uint8Array; resultHash: string; module: Uint8Array }> {
  const module = new Uint8Array(readFileSync(fixturePath(name)));
  const manifest = parseManifest(
    `apiVersion: docklock/v1\nkind: Cage\nmodule: ./${name}.wasm\ndeterminism: { seed: "${seed}" }\n`,
  );
  const inputs = new Map<string, Uint8Array>();
  const stdin = new Uint8Array(0);
  const out = await runCage({ manifest, module, stdin, inputs, mode: 'record' });
  const bundle = encodeBundle({ manifest, module, stdin, inputs, witness: out.witnessBytes, result: out.result });
  return { bundle, resultHash: toHex(resultHash(out.result)), module };
}

/** A juror that answers what it is told: stands for a dishonest or broken remote juror. */
const fixed = (id: string, resultHash: string | null): Juror => ({
  id,
  judge: async (): Promise<JurorVerdict> => ({ juror: id, resultHash }),
  close: async () => {},
});

let dir: string;
let jury: ProcessJuror[];
let rand: Awaited<ReturnType<typeof record>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dl-escrow-e2e-'));
  jury = localJury(3);
  rand = await record('rand_clock', 'a'.repeat(64));
}, 60_000);
afterAll(async () => {
  await Promise.all(jury.map((j) => j.close()));
  rmSync(dir, { recursive: true, force: true });
});

const speculative = (escrow: Escrow, over: Partial<SpeculativeResult> = {}): SpeculativeResult => {
  const base = escrow.state.head('board');
  return {
    state: 'board',
    miner: 'miner-a',
    submission: rand.module,
    resultHash: rand.resultHash,
    bundle: rand.bundle,
    base,
    reads: [{ key: k('alice'), version: escrow.state.get('board', k('alice'), base).version }],
    writes: [{ key: k('alice'), value: k(`score ${base}`) }],
    ...over,
  };
};

describe('the escrow with a local jury', () => {
  it('commits when three juror processes reproduce the result, and the audit log verifies', async () => {
    const escrow = await Escrow.open(join(dir, 'commit'));
    try {
      const { record: r } = await escrow.escrow(speculative(escrow));
      expect(escrow.state.head('board')).toBe(0);
      const d = await summonJury(escrow, r.id, jury);
      expect(d).toMatchObject({ outcome: 'commit', matching: ['local-1', 'local-2', 'local-3'] });
      expect(escrow.book.get(r.id)).toMatchObject({ status: 'committed', committedVersion: 1 });
      expect(escrow.state.get('board', k('alice'), 1).entry?.value).toEqual(k('score 0'));
      expect(escrow.reputations.of('miner-a')).toBeCloseTo(0.55, 6);
    } finally {
      await escrow.close();
    }
    const audit = verifyAuditFile(join(dir, 'commit', 'audit.jsonl'));
    expect(audit).toMatchObject({ ok: true, entries: 6 }); // open, 3 verdicts, decide, commit
  }, 60_000);

  it('reverts a claim its bundle does not reproduce, and the miner needs a larger jury next time', async () => {
    const escrow = await Escrow.open(join(dir, 'false-claim'));
    try {
      const { record: r } = await escrow.escrow(speculative(escrow, { resultHash: 'ee'.repeat(32) }));
      const d = await summonJury(escrow, r.id, jury);
      expect(d.outcome).toBe('revert');
      expect(d.reasons[0]).toMatch(/^juror local-\d replayed result [0-9a-f]{16}…, not the claimed eeeeeeeeeeeeeeee…$/);
      expect(escrow.book.get(r.id).status).toBe('reverted');
      expect(escrow.state.head('board')).toBe(0);
      expect(escrow.gateDecision(escrow.book.get(r.id)).required).toBe(5);
    } finally {
      await escrow.close();
    }
  }, 60_000);

  it('a garbage bundle is a failed replay, so a revert, not a crash', async () => {
    const escrow = await Escrow.open(join(dir, 'garbage'));
    try {
      const { record: r } = await escrow.escrow(speculative(escrow, { bundle: k('not a bundle at all') }));
      const d = await summonJury(escrow, r.id, jury);
      expect(d.outcome).toBe('revert');
      expect(escrow.verdicts(r.id)[0]).toMatchObject({
        resultHash: null,
        detail: expect.stringMatching(/^DL_ERR_BUNDLE_/),
      });
    } finally {
      await escrow.close();
    }
  }, 60_000);

  it('one mismatching juror among honest ones never commits', async () => {
    const escrow = await Escrow.open(join(dir, 'one-liar'));
    try {
      const { record: r } = await escrow.escrow(speculative(escrow));
      const d = await summonJury(escrow, r.id, [...jury, fixed('remote-9', 'cd'.repeat(32))]);
      expect(d.outcome).toBe('revert');
      expect(escrow.state.head('board')).toBe(0);
    } finally {
      await escrow.close();
    }
  }, 60_000);

  it('of two escrows writing the same key one commits; the other is re-evaluated on the new snapshot, then commits', async () => {
    const escrow = await Escrow.open(join(dir, 'conflict'));
    try {
      const a = (await escrow.escrow(speculative(escrow, { miner: 'a' }))).record;
      const b = (await escrow.escrow(speculative(escrow, { miner: 'b' }))).record;
      const honest = ['x', 'y', 'z'].map((id) => fixed(id, rand.resultHash));
      expect((await summonJury(escrow, a.id, honest)).outcome).toBe('commit');
      let reevaluated = 0;
      const d = await summonJury(escrow, b.id, honest, async (_record, base) => {
        reevaluated++;
        return {
          resultHash: rand.resultHash,
          bundle: rand.bundle,
          base,
          reads: [{ key: k('alice'), version: escrow.state.get('board', k('alice'), base).version }],
          writes: [{ key: k('alice'), value: k(`score ${base}`) }],
        };
      });
      expect(d.outcome).toBe('commit');
      expect(reevaluated).toBe(1);
      expect(escrow.book.get(b.id)).toMatchObject({ status: 'pending', attempts: 1, base: 1 });
      expect(escrow.verdicts(b.id)).toEqual([]); // a new result needs a new jury
      expect((await summonJury(escrow, b.id, honest)).outcome).toBe('commit');
      expect(escrow.book.get(b.id)).toMatchObject({ status: 'committed', committedVersion: 2 });
      expect(escrow.state.get('board', k('alice'), 2).entry?.value).toEqual(k('score 1'));
    } finally {
      await escrow.close();
    }
  }, 60_000);

  it('without a way to re-evaluate, a conflicting escrow is held, and the hold survives a restart', async () => {
    const path = join(dir, 'held');
    let escrow = await Escrow.open(path);
    const honest = ['x', 'y', 'z'].map((id) => fixed(id, rand.resultHash));
    const a = (await escrow.escrow(speculative(escrow))).record;
    const b = (await escrow.escrow(speculative(escrow))).record;
    await summonJury(escrow, a.id, honest);
    await summonJury(escrow, b.id, honest);
    expect(escrow.book.get(b.id).status).toBe('held');
    await escrow.close();
    escrow = await Escrow.open(path, ESCROW_DEFAULTS);
    try {
      expect(escrow.book.get(b.id).reason).toMatch(/^a key it read moved from version 0 to 1 .*: review$/);
      await escrow.revert(b.id, { by: 'operator:ops' }, 'stale leaderboard write');
      expect(escrow.book.get(b.id).status).toBe('reverted');
    } finally {
      await escrow.close();
    }
    expect(verifyAuditFile(join(path, 'audit.jsonl')).ok).toBe(true);
  }, 60_000);

  it('one process at a time owns a data directory', async () => {
    const path = join(dir, 'busy');
    const first = await Escrow.open(path);
    await expect(Escrow.open(path)).rejects.toMatchObject({ code: 'DL_ERR_ESCROW_BUSY' });
    await first.close();
    const second = await Escrow.open(path);
    await second.close();
  });
});

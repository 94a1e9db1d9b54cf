import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openEscrowDb } from '../../escrow/db.ts';
import { readEntropy, shannonEntropy } from '../../escrow/entropy.ts';
import { GATE_DEFAULTS, type JurorVerdict, decide, requiredJurors } from '../../escrow/gate.ts';
import { REPUTATION_DEFAULTS, Reputations, decayed, moved } from '../../escrow/reputation.ts';

const CLAIMED = 'ab'.repeat(32);
const match = (juror: string): JurorVerdict => ({ juror, resultHash: CLAIMED });

describe('the gate', () => {
  it('commits only with the required number of distinct matching jurors', () => {
    const base = { resultHash: CLAIMED, reputation: 0.5, entropy: null, rules: GATE_DEFAULTS };
    expect(decide({ ...base, verdicts: [match('a'), match('b')] })).toMatchObject({
      outcome: 'wait',
      reasons: ['2 of 3 required matching replays'],
    });
    // The same juror twice counts once.
    expect(decide({ ...base, verdicts: [match('a'), match('b'), match('b')] }).outcome).toBe('wait');
    expect(decide({ ...base, verdicts: [match('a'), match('b'), match('c')] })).toMatchObject({
      outcome: 'commit',
      matching: ['a', 'b', 'c'],
    });
  });

  it('one mismatching juror means revert, whatever the others say', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.double({ min: 0, max: 1 }),
        (n, at, reputation) => {
          const verdicts = Array.from({ length: n }, (_, i) => match(`j${i}`));
          verdicts.splice(Math.min(at, n), 0, {
            juror: 'liar',
            resultHash: 'cd'.repeat(32),
            detail: 'diverged at entry 7',
          });
          const d = decide({ resultHash: CLAIMED, verdicts, reputation, entropy: null, rules: GATE_DEFAULTS });
          expect(d.outcome).toBe('revert');
          expect(d.reasons[0]).toContain('juror liar replayed result cdcdcdcdcdcdcdcd…');
        },
      ),
    );
    const failed = decide({
      resultHash: CLAIMED,
      verdicts: [match('a'), { juror: 'b', resultHash: null, detail: 'DL_ERR_BUNDLE_TRUNCATED' }],
      reputation: 0.9,
      entropy: null,
      rules: GATE_DEFAULTS,
    });
    expect(failed).toMatchObject({ outcome: 'revert', mismatching: ['b'] });
  });

  it('low reputation raises the quorum and, lower still, holds for review', () => {
    expect(requiredJurors(0.5, GATE_DEFAULTS)).toBe(3);
    expect(requiredJurors(0.3, GATE_DEFAULTS)).toBe(5);
    const five = ['a', 'b', 'c', 'd', 'e'].map(match);
    const base = { resultHash: CLAIMED, entropy: null, rules: GATE_DEFAULTS };
    expect(decide({ ...base, verdicts: five.slice(0, 3), reputation: 0.3 }).outcome).toBe('wait');
    expect(decide({ ...base, verdicts: five, reputation: 0.3 }).outcome).toBe('commit');
    const held = decide({ ...base, verdicts: five, reputation: 0.1 });
    expect(held.outcome).toBe('hold');
    expect(held.reasons[1]).toBe('reputation 0.100 < 0.15: every result goes to review');
  });

  it('an entropy flag holds an untrusted miner and only annotates a trusted one', () => {
    const band = { baseline: 5.5, tolerance: 1 };
    const random = new Uint8Array(65536).map((_, i) => (i * 2654435761) >>> 24);
    const reading = readEntropy(random, band);
    expect(reading.flagged).toBe(true);
    const base = {
      resultHash: CLAIMED,
      verdicts: ['a', 'b', 'c'].map(match),
      entropy: reading,
      rules: { ...GATE_DEFAULTS, entropy: band },
    };
    expect(decide({ ...base, reputation: 0.5 }).outcome).toBe('hold');
    const trusted = decide({ ...base, reputation: 0.9 });
    expect(trusted.outcome).toBe('commit');
    expect(trusted.reasons.at(-1)).toMatch(/^submission entropy [78]\.\d{3} bits\/byte is outside 5\.5 ± 1$/);
  });
});

describe('entropy', () => {
  it('is 0 for one repeated byte, 8 for all bytes equally often, 1 for two', () => {
    expect(shannonEntropy(new Uint8Array(100).fill(7))).toBe(0);
    expect(shannonEntropy(Uint8Array.from({ length: 256 * 4 }, (_, i) => i & 255))).toBeCloseTo(8, 12);
    expect(shannonEntropy(Uint8Array.from({ length: 10 }, (_, i) => i & 1))).toBeCloseTo(1, 12);
    expect(shannonEntropy(new Uint8Array(0))).toBe(0);
  });
});

describe('reputation', () => {
  it('moves with outcomes within its bounds and decays toward the initial score', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 60 }), (outcomes) => {
        let s = REPUTATION_DEFAULTS.initial;
        for (const ok of outcomes) {
          const next = moved(s, ok ? 'committed' : 'reverted', REPUTATION_DEFAULTS);
          expect(next).toBeGreaterThanOrEqual(0);
          expect(next).toBeLessThanOrEqual(1);
          if (ok) expect(next).toBeGreaterThanOrEqual(s);
          else expect(next).toBeLessThanOrEqual(s);
          s = next;
        }
      }),
    );
    const week = REPUTATION_DEFAULTS.halfLifeMs;
    expect(decayed(0.9, 0, week, REPUTATION_DEFAULTS)).toBeCloseTo(0.7, 12);
    expect(decayed(0.1, 0, 2 * week, REPUTATION_DEFAULTS)).toBeCloseTo(0.4, 12);
  });

  it('is persisted, and a revert changes the next quorum', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-rep-'));
    try {
      let now = 0;
      const db = openEscrowDb(dir);
      const reps = new Reputations(db, REPUTATION_DEFAULTS, () => now);
      expect(requiredJurors(reps.of('m'), GATE_DEFAULTS)).toBe(3);
      expect(reps.record('m', 'reverted')).toBeCloseTo(0.25, 12);
      expect(requiredJurors(reps.of('m'), GATE_DEFAULTS)).toBe(5);
      db.close();
      now = 1;
      const again = new Reputations(openEscrowDb(dir), REPUTATION_DEFAULTS, () => now);
      expect(again.of('m')).toBeCloseTo(0.25, 6);
      expect(again.of('someone-new')).toBe(0.5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

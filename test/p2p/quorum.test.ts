import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { claimState, type VerdictFacts } from '../../p2p/quorum.ts';
import { rankReplayers } from '../../p2p/rendezvous.ts';
import { parseNodeConfig } from '../../p2p/config.ts';

const claim = { claimer: 'C', issuedAt: 1000 };
const v = (id: string, replayer: string, outcome: 'match' | 'diverge', issuedAt = 1500): VerdictFacts => ({
  id,
  replayer,
  outcome,
  issuedAt,
});

describe('claim states', () => {
  it('confirms on k distinct matching replayers, never counting the claimer or a late verdict', () => {
    expect(
      claimState(claim, [v('1', 'A', 'match'), v('2', 'A', 'match'), v('3', 'C', 'match')], 2, 10_000, 2000).state,
    ).toBe('pending');
    expect(claimState(claim, [v('1', 'A', 'match'), v('2', 'B', 'match', 99_999)], 2, 10_000, 2000).state).toBe(
      'pending',
    );
    expect(claimState(claim, [v('1', 'A', 'match'), v('2', 'B', 'match')], 2, 10_000, 2000).state).toBe('confirmed');
    expect(claimState(claim, [v('1', 'A', 'match')], 2, 10_000, 11_001).state).toBe('expired');
  });

  it('is disputed by any divergence, named by the earliest, whatever the order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            replayer: fc.constantFrom('A', 'B', 'D', 'E'),
            outcome: fc.constantFrom('match' as const, 'diverge' as const),
            issuedAt: fc.nat({ max: 20_000 }),
          }),
          { maxLength: 8 },
        ),
        fc.nat({ max: 30_000 }),
        (raw, now) => {
          const vs = raw.map((r, i) => ({ ...r, id: `v${i}` }));
          const a = claimState(claim, vs, 2, 10_000, now);
          const b = claimState(claim, [...vs].reverse(), 2, 10_000, now);
          expect(b).toEqual(a);
          expect(a.state === 'disputed').toBe(vs.some((x) => x.outcome === 'diverge'));
        },
      ),
    );
  });
});

describe('rendezvous ranking', () => {
  it('is a deterministic order of the candidates, independent of their listing order', () => {
    const id = new Uint8Array(32).fill(3);
    const peers = ['p1', 'p2', 'p3', 'p4', 'p5'];
    const r = rankReplayers(id, peers);
    expect([...r].sort()).toEqual(peers);
    expect(rankReplayers(id, [...peers].reverse())).toEqual(r);
    expect(rankReplayers(new Uint8Array(32).fill(4), peers)).not.toEqual(r);
  });
});

describe('node.yaml', () => {
  it('fills defaults and resolves paths against the config folder', () => {
    const c = parseNodeConfig({ key: 'k', dataDir: 'd' }, '/base');
    expect(c).toMatchObject({
      key: '/base/k',
      dataDir: '/base/d',
      socket: '/base/d/node.sock',
      quorum: { k: 3, expiryMs: 120_000 },
      listen: ['/ip4/127.0.0.1/tcp/0'],
    });
  });
  it.each([
    [{ key: 'k', dataDir: 'd', extra: 1 }, 'config.extra'],
    [{ key: 'k', dataDir: 'd', quorum: { k: 0 } }, 'quorum.k'],
    [{ key: 'k', dataDir: 'd', bootstrap: ['/ip4/127.0.0.1/tcp/1'] }, 'bootstrap[0]'],
    [{ key: 'k', dataDir: 'd', limits: { bundleBytes: '1MiB' } }, 'limits.bundleBytes'],
    [{ dataDir: 'd' }, 'key'],
  ])('rejects %j naming %s', (raw, field) => {
    expect(() => parseNodeConfig(raw, '/base')).toThrow(
      expect.objectContaining({ code: 'DL_ERR_P2P_CONFIG', where: { field } }),
    );
  });
});

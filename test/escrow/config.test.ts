import { describe, expect, it } from 'vitest';
import { ESCROW_API_DEFAULTS, parseEscrowConfig } from '../../escrow/config.ts';
import { ESCROW_DEFAULTS } from '../../escrow/escrow.ts';

describe('escrow.yaml', () => {
  it('gives the defaults for an empty file and resolves dataDir against the file', () => {
    const c = parseEscrowConfig('', '/etc/docklock');
    expect(c).toEqual({ ...ESCROW_DEFAULTS, dataDir: '/etc/docklock/escrow-data', api: ESCROW_API_DEFAULTS });
  });

  it('reads every field', () => {
    const c = parseEscrowConfig(
      [
        'dataDir: /var/lib/escrow',
        'ttlMs: 60000',
        'maxRebases: 0',
        'durability: process',
        'gate: { jurySize: 5, lowReputationExtra: 1, raiseQuorumBelow: 0.3, reviewBelow: 0.1, trustedAbove: 0.9, entropy: { baseline: 5.5, tolerance: 1.25 } }',
        'reputation: { initial: 0.6, commitGain: 0.2, revertLoss: 0.5, halfLifeHours: 24 }',
      ].join('\n'),
      '/x',
    );
    expect(c).toMatchObject({
      dataDir: '/var/lib/escrow',
      ttlMs: 60000,
      maxRebases: 0,
      durability: 'process',
      gate: { jurySize: 5, entropy: { baseline: 5.5, tolerance: 1.25 } },
      reputation: { initial: 0.6, halfLifeMs: 24 * 3_600_000, min: 0, max: 1 },
    });
  });

  it.each([
    ['gate: { jury: 3 }', 'gate.jury'],
    ['gate: { jurySize: 0 }', 'gate.jurySize'],
    ['gate: { jurySize: 2.5 }', 'gate.jurySize'],
    ['gate: { entropy: { baseline: 9, tolerance: 1 } }', 'gate.entropy.baseline'],
    ['gate: { entropy: { baseline: 5 } }', 'gate.entropy'],
    ['reputation: { initial: "high" }', 'reputation.initial'],
    ['ttlMs: 0', 'ttlMs'],
    ['colour: blue', 'colour'],
    ['ttlMs: 1\nttlMs: 2', '(file)'],
    ['ttlMs: !!js/function "f"', '(file)'],
    ['dataDir: [a]', 'dataDir'],
    ['durability: sometimes', 'durability'],
    ['api: { listen: nowhere }', 'api.listen'],
    ['api: { tokens: [{ name: a, sha256: secret, role: operator }] }', 'api.tokens.0.sha256'],
    ['api: { tokens: [{ name: a, sha256: "' + '0'.repeat(64) + '", role: root }] }', 'api.tokens.0.role'],
  ])('refuses %j, naming %s', (text, field) => {
    expect(() => parseEscrowConfig(text, '/x')).toThrow(
      expect.objectContaining({ code: 'DL_ERR_ESCROW_CONFIG', where: { field } }),
    );
  });
});

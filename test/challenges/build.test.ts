/**
 * The checked-in challenge modules are exactly what `npm run build:challenges` makes from source:
 * a rebuild into a temporary directory is byte-identical (CI runs this through `npm test`).
 */
import { describe, expect, it } from 'vitest';
import { checkChallenges, targets } from '../../scripts/build-challenges.ts';

describe('build:challenges', () => {
  it('covers every example challenge, submission source and SDK self-test', () => {
    const kinds = new Set(targets().map((t) => t.kind));
    expect([...kinds].sort()).toEqual(['as-command', 'as-module', 'c-command', 'c-module', 'wat']);
  });

  it('rebuilds every checked-in .wasm byte-identically', async () => {
    expect(await checkChallenges()).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.ts';

const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
const files = [...readdirSync(join(ROOT, 'p2p')).map((f) => join('p2p', f)), join('cli', 'cmd', 'node.ts')];
const codes = new Set(
  files.flatMap((f) =>
    [...readFileSync(join(ROOT, f), 'utf8').matchAll(/DL_ERR_P2P_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]),
  ),
);

describe('docs/errors.md for the P2P node', () => {
  it('finds the codes', () => expect(codes.size).toBeGreaterThan(20));
  it.each([...codes].sort())('has an anchor for %s', (code) => {
    expect(doc).toContain(`<a id="${code}"></a>`);
  });
});

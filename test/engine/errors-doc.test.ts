import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TRAP_CODES } from '../../runtime/errors.ts';

const root = new URL('../../', import.meta.url).pathname;
const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((n) => {
    const p = join(dir, n);
    return statSync(join(root, p)).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Codes built from a name at run time (runtime/validate.ts limitError, errors.ts DeterministicTrap). */
const DYNAMIC = [
  ...['module size', 'function count', 'type count', 'import count', 'export count', 'global count', 'locals per function', 'function body size', 'table size', 'data size'].map((w) => `DL_ERR_LIMIT_${w.toUpperCase().replace(/[^A-Z]+/g, '_')}`),
  ...TRAP_CODES.map((t) => `DL_ERR_TRAP_${t.toUpperCase()}`),
];

describe('docs/errors.md', () => {
  const literal = new Set<string>();
  for (const file of [...sources('runtime'), ...sources('host-functions'), ...sources('cli/cmd'), 'cli/io.ts']) {
    for (const m of readFileSync(join(root, file), 'utf8').matchAll(/DL_ERR_[A-Z0-9_]*[A-Z0-9]\b/g)) literal.add(m[0]);
  }
  it.each([...literal, ...DYNAMIC].sort())('has an anchor for %s', (code) => {
    expect(doc).toContain(`<a id="${code}"></a>`);
  });
});

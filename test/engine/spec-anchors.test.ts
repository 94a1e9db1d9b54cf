import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((n) => {
    const p = join(dir, n);
    return statSync(join(root, p)).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('spec anchors cited in code', () => {
  it('every `spec: file.md#ID` citation names an existing anchor', () => {
    const cites: string[] = [];
    for (const file of [...sources('runtime'), ...sources('host-functions')]) {
      for (const m of readFileSync(join(root, file), 'utf8').matchAll(/spec: (?:spec\/)?([\w-]+\.md)#(\w+)/g)) {
        const doc = readFileSync(join(root, 'spec', m[1]!), 'utf8');
        expect(doc, `${file} cites ${m[1]}#${m[2]}`).toContain(`<a id="${m[2]}"></a>`);
        cites.push(`${m[1]}#${m[2]}`);
      }
    }
    expect(cites.length).toBeGreaterThan(5);
  });
});

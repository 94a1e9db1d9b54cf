import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliJson, fixturePath, tempDir } from './helpers.ts';

/** verify-proof re-encodes the entry a proof shows, hashes it to the leaf, and says which root it checked. */
describe('verify-proof', () => {
  it('catches an edited entry and names the root it checked against', () => {
    const dir = tempDir();
    const bundle = join(dir, 'hello.dlb');
    const run = cliJson<{ witnessRoot: string; resultHash: string }>(['run', fixturePath('hello'), '--bundle', bundle]);
    const proof = cli(['proof', bundle, '--entry', '1', '--json']);
    expect(proof.code).toBe(0);
    const p = JSON.parse(proof.stdout) as { entryBytes: string; entry: { result: string | null }; root: string };
    expect(p.root).toBe(run.json.witnessRoot);
    const file = join(dir, 'proof.json');
    const write = (o: unknown): void => writeFileSync(file, JSON.stringify(o));

    write(p);
    const self = cli(['verify-proof', file]);
    expect(self.code).toBe(0);
    expect(self.stdout).toContain('self-consistent, root not pinned');
    const byBundle = cliJson<{ valid: boolean; rootSource: string; entryChecked: boolean }>([
      'verify-proof',
      file,
      '--bundle',
      bundle,
    ]);
    expect(byBundle.json).toMatchObject({ valid: true, rootSource: 'bundle', entryChecked: true });
    expect(cli(['verify-proof', file, '--root', run.json.witnessRoot]).stdout).toContain('(--root)');
    expect(cli(['verify-proof', file, '--root', '00'.repeat(32)]).code).toBe(1);
    // A malformed root is a usage error (exit 2), not an invalid proof; so is a malformed --expected-hash.
    for (const bad of ['00', 'zz'.repeat(32), `${run.json.witnessRoot}00`]) {
      const r = cli(['verify-proof', file, '--root', bad]);
      expect([r.code, r.stdout]).toEqual([2, '']);
      expect(r.stderr).toMatch(
        /^docklock: DL_ERR_CLI_USAGE: --root takes a BLAKE3 hash as 64 hex digits, got ".*" \(\d+ characters\)\n$/,
      );
      const v = cli(['verify', bundle, '--expected-hash', bad, '--json']);
      expect(v.code).toBe(2);
      expect(JSON.parse(v.stdout).error).toMatchObject({
        code: 'DL_ERR_CLI_USAGE',
        where: { field: '--expected-hash' },
      });
    }
    expect(cli(['verify', bundle, '--expected-hash', run.json.resultHash.toUpperCase()]).code).toBe(0);

    // The case: the entry's result edited in the JSON.
    write({ ...p, entry: { ...p.entry, result: p.entry.result === '0' ? '1' : '0' } });
    const edited = cli(['verify-proof', file]);
    expect(edited.code).toBe(1);
    expect(edited.stdout).toContain('the entry shown differs');
    // Edited bytes no longer hash to the leaf.
    write({ ...p, entryBytes: p.entryBytes.replace(/.$/, (c) => (c === '0' ? '1' : '0')) });
    expect(cli(['verify-proof', file, '--bundle', bundle]).stdout).toContain('do not hash to leafHash');
  });
});

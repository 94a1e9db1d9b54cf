import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.ts';
import { replayBundle } from '../../runtime/replay.ts';

/**
 * Bundles recorded by the build before the WASI fixes of issue 12 (isatty, directory rights,
 * timestamps, links…): they must still replay, with the result hashes they were recorded with,
 * because a bundle of format version 1 replays under WASI ABI level 0 (spec/wasi.md#W6).
 */
const GOLDEN: Record<string, string> = {
  'hello-v0.dlb': '06e972c24ce1d82621bc0eda7e5932d366f028d06944c9d9db93999b7ea4a92b',
  'wasi_suite-v0.dlb': 'e1a91fcd25e82a70e5d8f2f70ed9e243d8fe8a7acf1f9e80805a08a5d5ea733d',
};

describe('bundles recorded before the WASI fixes', () => {
  for (const [file, hash] of Object.entries(GOLDEN)) {
    it(`${file} replays with its recorded result hash`, async () => {
      const report = await replayBundle(new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', 'bundles', file))));
      expect(report.divergence).toBeNull();
      expect(report.match).toBe(true);
      expect(report.resultHash).toBe(hash);
      expect(report.expectedResultHash).toBe(hash);
    });
  }
});

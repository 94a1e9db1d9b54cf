/**
 * vitest globalSetup: (re)builds the C fixtures (test/fixtures/c → test/fixtures/wasm) when a
 * .wasm is missing or older than its source, so `npm test` on a fresh clone has them (CI runs
 * scripts/setup-toolchain.sh before `npm ci`). Without clang the fixtures cannot be built; the
 * setup then only warns, and the fixture suites fail with a message that names the setup script.
 */
import { buildComponentFixtures, buildFixtures } from '../scripts/build-fixtures.ts';

export default async function setup(): Promise<void> {
  try {
    const r = buildFixtures();
    if (r.built.length > 0) console.log(`[fixtures] built ${r.built.join(', ')}`);
    const c = await buildComponentFixtures();
    if (c.length > 0) console.log(`[fixtures] built components ${c.join(', ')}`);
  } catch (e) {
    console.warn(`[fixtures] not built: ${(e as Error).message}`);
  }
}

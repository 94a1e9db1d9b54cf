/**
 * Semantic preservation on the official WebAssembly core spec test suite (WebAssembly/testsuite,
 * Wasm 2.0 set, as wast2json output in ../shared/corpora/wasm-spec). Every script runs twice side
 * by side, on plain V8 and through docklock (validate → instrument → compile → instantiate), and
 * every assertion that plain V8 passes must pass through docklock too: same results bit for bit
 * (docklock's NaNs are the positive canonical NaN), same traps (docklock's typed `Trap` with a
 * matching code), `assert_exhaustion` as `StackExhausted`, and every invalid or malformed binary
 * rejected with a `ValidationError`, including the ones Wasm 3.0 made valid and V8 now accepts.
 * Skips come only from the checked-in list in spec/skips.ts. One test per script; the summary
 * table is printed once at the end.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { runScript } from './spec/runner.ts';
import { SPEC_DIR, listScripts, loadScript } from './spec/script.ts';
import { EXPECTED_SKIPS } from './spec/skips.ts';
import { Summary, formatFinding } from './spec/summary.ts';

const summary = new Summary();
// A fresh clone without ../shared has no corpus: skip visibly. CI has it, and must run it.
const present = existsSync(SPEC_DIR);
if (!present)
  console.warn(
    `[spec-suite] SKIPPED: the WebAssembly spec corpus is not at ${SPEC_DIR} (../shared/corpora/wasm-spec beside the checkout)`,
  );
const scripts = present ? listScripts() : [];
const started = performance.now();

describe.runIf(present || process.env.CI === 'true')(
  'WebAssembly core spec suite: docklock agrees with plain V8',
  () => {
    afterAll(() => {
      console.log(summary.format((performance.now() - started) / 1000));
    });

    it('finds the corpus', () => {
      expect(scripts.length).toBe(148);
    });

    for (const name of scripts) {
      it(name, async () => {
        const before = summary.failures.length;
        await runScript(loadScript(name), summary);
        summary.scripts++;
        const mine = summary.failures.slice(before);
        expect(
          mine.slice(0, 20).map(formatFinding),
          `${mine.length} assertion(s) that plain V8 passes fail through docklock`,
        ).toEqual([]);
      });
    }

    it('skips only what the checked-in skip list allows', () => {
      expect(Object.fromEntries(summary.skipped)).toEqual(EXPECTED_SKIPS);
    });

    it('passes every assertion plain V8 passes', () => {
      expect(summary.scripts).toBe(scripts.length);
      expect(summary.failures.slice(0, 20).map(formatFinding), `${summary.failures.length} failure(s)`).toEqual([]);
    });
  },
);

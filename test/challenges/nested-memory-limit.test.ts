/**
 * A nested submission that asks for more memory than it may have, sees -1 and then traps: from ABI
 * level 3 its status is MEMORY_LIMIT whatever the size it asked (spec/wasi.md#W5); a level-2
 * bundle, whose rule looked at how full the memory was, keeps TRAPPED and replays as it ran.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import { loadChallenge } from '../../runtime/evaluate/challenge.ts';
import { evaluationInputs } from '../../runtime/evaluate/evaluation.ts';
import { encodeBundle } from '../../runtime/bundle.ts';
import { replayBundle } from '../../runtime/replay.ts';
import { decodeEntries } from '../../runtime/witness/encoding.ts';
import { NESTED_STATUS } from '../../host-functions/nested/abi.ts';
import { wat } from '../engine/wat.ts';
import { exampleDir } from './helpers.ts';

/** The sort ABI; `sort` grows its memory by 1000 pages (refused, far from the limit), then traps. */
const submission = wat(`
  (module
    (memory (export "memory") 1)
    (func (export "alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "sort") (param i32 i32) (result i64)
      (if (i32.ne (memory.grow (i32.const 1000)) (i32.const -1)) (then (return (i64.const 0))))
      unreachable))
`);

async function record(wasiLevel?: number) {
  const ch = await loadChallenge(exampleDir('sort'));
  const req = {
    manifest: ch.manifest,
    module: ch.module,
    stdin: submission,
    inputs: evaluationInputs(ch.inputs, submission),
  };
  const out = await runGuest({ ...req, mode: 'record', wasiLevel });
  const first = decodeEntries(out.witnessBytes).find((e) => e.name === 'docklock.nested_call')!;
  return {
    status: first.result,
    bundle: encodeBundle({ ...req, witness: out.witnessBytes, result: out.result, wasiLevel }),
  };
}

describe('a nested submission that fails after a refused memory.grow', () => {
  it('is MEMORY_LIMIT from level 3, TRAPPED in a level-2 bundle, and both replay', async () => {
    const now = await record();
    expect(now.status).toBe(NESTED_STATUS.MEMORY_LIMIT);
    const old = await record(2);
    expect(old.status).toBe(NESTED_STATUS.TRAPPED);
    for (const b of [now.bundle, old.bundle]) expect((await replayBundle(b)).match).toBe(true);
  }, 120_000);
});

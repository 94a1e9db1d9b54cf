/** Shared helpers of the P2P tests: real bundles of the `guess` example, honest and tampered. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadChallenge } from '../../runtime/evaluate/challenge.ts';
import { evaluateSubmissions } from '../../runtime/evaluate/batch.ts';
import { decodeBundle, encodeBundle } from '../../runtime/bundle.ts';
import { commitEntries } from '../../runtime/witness/log.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const GUESS = join(ROOT, 'challenges', 'examples', 'guess');

/** Evaluates guess submissions (given as bytes) and returns their bundle files' bytes. */
export async function guessBundles(submissions: Uint8Array[]): Promise<Uint8Array[]> {
  const dir = mkdtempSync(join(tmpdir(), 'dl-p2p-bundles-'));
  const ch = await loadChallenge(GUESS);
  const evals = await evaluateSubmissions(
    ch,
    submissions.map((bytes, i) => ({ label: `s${i}`, bytes })),
    { jobs: 1, bundles: dir },
  );
  return evals.map((e) => new Uint8Array(readFileSync(e.bundle!)));
}

export function guessSubmission(name: 'good' | 'mediocre' | 'broken'): Uint8Array {
  return new Uint8Array(readFileSync(join(GUESS, 'submissions', `${name}.txt`)));
}

/** The same run with `/output/score.json` edited after the fact (a consistent, re-hashed bundle). */
export function editOutput(bundle: Uint8Array, score = 1): Uint8Array {
  const b = decodeBundle(bundle);
  const outputs = new Map(b.result.outputs);
  outputs.set('/output/score.json', new TextEncoder().encode(JSON.stringify({ score })));
  return encodeBundle({
    manifest: b.manifest,
    module: b.module,
    stdin: b.stdin,
    inputs: b.inputs,
    witness: b.witness,
    result: { ...b.result, outputs },
  });
}

/** The same run with witness entry `index`'s result changed and the root recomputed. */
export function editWitness(bundle: Uint8Array, index: number): Uint8Array {
  const b = decodeBundle(bundle);
  const witness = b.witness.map((e) => (e.index === index ? { ...e, fuel: e.fuel + 1n } : e));
  const root = commitEntries(witness).root;
  return encodeBundle({
    manifest: b.manifest,
    module: b.module,
    stdin: b.stdin,
    inputs: b.inputs,
    witness,
    result: { ...b.result, witnessRoot: root },
  });
}

/**
 * The `nested` host group through the whole run pipeline: the submission's fuel is billed to the
 * challenge, its budget is capped by the challenge's remaining fuel, its call is a witness entry,
 * and a replay that runs a different submission diverges at that entry.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEntries } from '../../runtime/witness/encoding.ts';
import { runGuest } from '../../runtime/cage/run.ts';
import { loadChallenge } from '../../runtime/evaluate/challenge.ts';
import { evaluateOne, evaluationInputs } from '../../runtime/evaluate/evaluation.ts';
import { grantedImports } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { exampleDir } from './helpers.ts';

const sub = (name: string) => new Uint8Array(readFileSync(join(exampleDir('sort'), 'submissions', name)));

describe('nested host group', () => {
  it('is granted only with "nested"', () => {
    const base = { apiVersion: 'docklock/v1', kind: 'Cage', module: 'm.wasm' };
    expect(grantedImports(parseManifest(base))).not.toContain('docklock.nested_call');
    expect(grantedImports(parseManifest({ ...base, grants: ['wasi', 'nested'] }))).toEqual(
      expect.arrayContaining(['docklock.nested_load', 'docklock.nested_call']),
    );
  });

  it('records each call with its status, output and nested fuel; bills the fuel to the challenge', async () => {
    const ch = await loadChallenge(exampleDir('sort'));
    const rec = await evaluateOne({
      manifest: ch.manifest,
      module: ch.module,
      compiled: ch.compiled,
      inputs: ch.inputs,
      submission: sub('endless-loop.wasm'),
      label: 'loop',
      keep: true,
    });
    const calls = decodeEntries(rec.witness!).filter((e) => e.name === 'docklock.nested_call');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.result).toBe(1); // OUT_OF_FUEL
    const info = calls[0]!.writes.at(-1)!.bytes;
    const nestedFuel = new DataView(info.buffer, info.byteOffset, 16).getBigUint64(0, true);
    expect(nestedFuel).toBe(20_000_000n);
    expect(rec.evaluation.run!.fuelUsed).toBeGreaterThan(nestedFuel);
  });

  it("caps a call's budget at the challenge's remaining fuel", async () => {
    const ch = await loadChallenge(exampleDir('sort'));
    const manifest = { ...ch.manifest, limits: { ...ch.manifest.limits, fuel: 5_000_000n } };
    const rec = await evaluateOne({
      manifest,
      module: ch.module,
      compiled: ch.compiled,
      inputs: ch.inputs,
      submission: sub('endless-loop.wasm'),
      label: 'loop',
      keep: false,
    });
    // The loop gets what the challenge had left, then the challenge itself runs out.
    expect(rec.evaluation.run!.status).toBe('out_of_fuel');
    expect(rec.evaluation.run!.fuelUsed).toBe(5_000_000n);
    expect(rec.evaluation.status).toBe('evaluation_failed');
  });

  it('a replay that runs a different submission diverges at its nested call', async () => {
    const ch = await loadChallenge(exampleDir('sort'));
    const good = sub('quicksort.wasm');
    const rec = await evaluateOne({
      manifest: ch.manifest,
      module: ch.module,
      compiled: ch.compiled,
      inputs: ch.inputs,
      submission: good,
      label: 'q',
      keep: true,
    });
    const same = await runGuest({
      manifest: ch.manifest,
      module: ch.module,
      stdin: good,
      inputs: evaluationInputs(ch.inputs, good),
      mode: 'replay',
      witness: rec.witness,
    });
    expect(same.divergence).toBeNull();
    // Same bytes read from the input, but the submission now behaves differently: swap the module.
    const other = sub('insertion.wasm');
    const diverged = await runGuest({
      manifest: ch.manifest,
      module: ch.module,
      stdin: other,
      inputs: evaluationInputs(ch.inputs, other),
      mode: 'replay',
      witness: rec.witness,
    });
    expect(diverged.divergence).not.toBeNull();
  });
});

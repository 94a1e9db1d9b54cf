import { describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { replayDecoded } from '../../runtime/replay.ts';
import { fixture } from './helpers.ts';

describe('replay across engine versions', () => {
  it('refuses a bundle recorded by another instrumenter or cost table, naming both versions', async () => {
    const manifest = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'hello.wasm' });
    const module = fixture('hello');
    const out = await runGuest({ manifest, module, stdin: new Uint8Array(0), inputs: new Map(), mode: 'record' });
    const bundle = {
      manifest,
      manifestBytes: new Uint8Array(0),
      module,
      stdin: new Uint8Array(0),
      inputs: new Map<string, Uint8Array>(),
      witness: out.witness,
      witnessBytes: out.witnessBytes,
      resultHash: new Uint8Array(32),
      wasiLevel: 1,
    };
    await expect(
      replayDecoded({ ...bundle, result: { ...out.result, instrumenterVersion: 'docklock-instrument/0' } }),
    ).rejects.toMatchObject({
      code: 'DL_ERR_BUNDLE_ENGINE_MISMATCH',
      message: expect.stringContaining('docklock-instrument/0'),
    });
    await expect(
      replayDecoded({ ...bundle, result: { ...out.result, costTableVersion: 'docklock-cost/0' } }),
    ).rejects.toMatchObject({ code: 'DL_ERR_BUNDLE_ENGINE_MISMATCH' });
  });
});

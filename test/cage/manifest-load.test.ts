import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DocklockError } from '../../runtime/errors.ts';
import { MANIFEST_DEFAULTS, parseManifest } from '../../runtime/manifest/parse.ts';
import { manifestHash } from '../../runtime/manifest/canonical.ts';
import { applyManifestOverrides, loadManifest } from '../../runtime/manifest/load.ts';
import { loadChallenge } from '../../runtime/evaluate/challenge.ts';
import { toHex } from '../../runtime/hash.ts';
import { CLI, cliJson, fixturePath, tempDir } from '../run/helpers.ts';

const HEAD = 'apiVersion: docklock/v1\nkind: Cage\nmodule: a.wasm\n';
const FULL = `${HEAD}entry: run
limits: { fuel: 123456789, memory: 64MiB, stack: 40000, stdout: 1KiB, stderr: 2KiB, output: 3KiB, wallClockMs: 5000 }
determinism: { seed: "${'ab'.repeat(32)}", clock: { start: 5, step: 7 } }
files: { inputs: [{ host: x, guest: /in/b }, { guest: /in/a }], output: /out, scratch: /scratch }
env: { B: "2", A: "1" }
args: [x, y]
network: { mode: record, allow: ["Example.com:443", "127.0.0.1:8080"], limits: { maxRequests: 3, maxRequestBytes: 1KiB, maxResponseBytes: 2KiB, timeoutMs: 100 } }
grants: [wasi, net, log]
`;

/** Hostile manifests and the code the library gives each. */
const HOSTILE: [string, string, string][] = [
  ['a YAML tag', `${HEAD}entry: !custom x\n`, 'DL_ERR_MANIFEST_SYNTAX'],
  ['a duplicate key', `${HEAD}entry: a\nentry: b\n`, 'DL_ERR_MANIFEST_SYNTAX'],
  ['an unknown field', `${HEAD}limits: { fuell: 5 }\n`, 'DL_ERR_MANIFEST_UNKNOWN_FIELD'],
];

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof DocklockError) return e.code;
    throw e;
  }
  throw new Error('did not throw');
}

describe('the manifest loader', () => {
  it('keeps the manifest hash bytes of the split module (pinned from the code before the split)', () => {
    expect(toHex(manifestHash(parseManifest(HEAD)))).toBe(
      'afbe6a615a281a91bd60a6508d60abb021cc3c7142c88b422a92adefbe02e9bd',
    );
    expect(toHex(manifestHash(parseManifest(FULL)))).toBe(
      'bf04fb75be689a11b882c4a2e8f1b83c4c4ec8c3c6c3f1c4d808dde6e28ed9ce',
    );
  });

  it.each(HOSTILE)('refuses %s from a file with the same code as parseManifest', (_what, text, expected) => {
    const dir = tempDir();
    const file = join(dir, 'cage.yaml');
    writeFileSync(file, text);
    expect(code(() => parseManifest(text))).toBe(expected);
    expect(code(() => loadManifest(file))).toBe(expected);
  });

  it('applies overrides over the file: scalars replaced, lists appended, env merged, net granted with the default grants', () => {
    const dir = tempDir();
    const file = join(dir, 'cage.yaml');
    writeFileSync(file, `${HEAD}args: [a]\nenv: { X: "1" }\n`);
    const { manifest, baseDir } = loadManifest(file, {
      fuel: '77',
      memory: '1MiB',
      args: ['b'],
      env: { Y: '2' },
      network: 'record',
      allowHosts: ['h:1'],
      inputs: [{ host: 'in.txt', guest: '/input/in.txt' }],
    });
    expect(baseDir).toBe(dir);
    expect(manifest.limits.fuel).toBe(77n);
    expect(manifest.limits.memory).toBe(1 << 20);
    expect(manifest.args).toEqual(['a', 'b']);
    expect(manifest.env).toEqual({ X: '1', Y: '2' });
    expect(manifest.network).toMatchObject({ mode: 'record', allow: ['h:1'] });
    expect(manifest.grants).toEqual([...MANIFEST_DEFAULTS.grants, 'net'].sort());
    expect(manifest.files.inputs).toEqual([{ host: 'in.txt', guest: '/input/in.txt' }]);
    expect(loadManifest(undefined, { module: 'm.wasm', network: 'deny' }).manifest.grants).toEqual(
      [...MANIFEST_DEFAULTS.grants].sort(),
    );
  });

  it('leaves a section of the wrong type for a coded error, never a crash', () => {
    expect(code(() => applyManifestOverrides({ limits: 5 }, { fuel: 1 }))).toBe('DL_ERR_MANIFEST_TYPE');
    expect(
      code(() =>
        parseManifest(
          applyManifestOverrides({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'a', args: 'x' }, { args: ['y'] }),
        ),
      ),
    ).toBe('DL_ERR_MANIFEST_TYPE');
  });

  it.each(HOSTILE)('refuses %s in a challenge folder with the same code', async (_what, text, expected) => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'challenge.yaml'), text);
    await expect(loadChallenge(dir)).rejects.toMatchObject({ code: expected });
  });

  it.each(HOSTILE)('refuses %s in docklock run --manifest with the same code, exit 2', (_what, text, expected) => {
    const dir = tempDir();
    const file = join(dir, 'cage.yaml');
    writeFileSync(file, text);
    const r = cliJson<{ error: { code: string } }>(['run', fixturePath('hello'), '--manifest', file]);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe(expected);
  });
});

describe('a manifest that never ends', () => {
  it.skipIf(!existsSync('/dev/zero'))('is DL_ERR_CLI_TOO_LARGE at 64 MiB, not a process that fills memory', () => {
    let caught: unknown;
    try {
      loadManifest('/dev/zero');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DocklockError);
    expect(caught).toMatchObject({
      code: 'DL_ERR_CLI_TOO_LARGE',
      message: 'manifest "/dev/zero" is larger than 64 MiB, the most docklock reads',
    });
    // A manifest from a pipe (`--manifest <(…)`) is read to its end as before.
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${CLI}" run "${fixturePath('hello')}" --manifest <(printf 'apiVersion: docklock/v1\\nkind: Cage\\nargs: [piped]\\n') < /dev/null`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('arg[1]=piped');
  });
});

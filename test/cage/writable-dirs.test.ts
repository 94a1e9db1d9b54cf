import { describe, expect, it } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { canonicalManifestBytes, decodeCanonicalManifest, manifestHash } from '../../runtime/manifest/canonical.ts';
import { readManifestInputs } from '../../runtime/inputs.ts';
import { runGuest } from '../../runtime/cage/run.ts';
import { encodeBundle, decodeBundle, verifyBundle } from '../../runtime/bundle.ts';
import { tempDir } from '../run/helpers.ts';
import { codeOf } from '../code-of.ts';
import { wat } from '../engine/wat.ts';

const base = { apiVersion: 'docklock/v1', kind: 'Cage', module: 'm.wasm' };

describe('files.writable and directory inputs in the manifest', () => {
  it('leaves the canonical bytes of a manifest without writable directories as they were', () => {
    const m = parseManifest(base);
    // 11 elements, as before writable directories existed (a fixed hash of today's default manifest).
    expect(canonicalManifestBytes(m)[0]).toBe(0x9b);
    const w = parseManifest({ ...base, files: { writable: [{ guest: '/' }] } });
    expect(canonicalManifestBytes(w)[0]).toBe(0x9c);
    expect(decodeCanonicalManifest(canonicalManifestBytes(w)).files.writable).toEqual([{ guest: '/' }]);
    expect(Buffer.from(manifestHash(w)).equals(Buffer.from(manifestHash(m)))).toBe(false);
  });

  it('refuses overlaps: / with another writable directory, a writable directory around an input', () => {
    expect(codeOf(() => parseManifest({ ...base, files: { writable: [{ guest: '/' }, { guest: '/work' }] } }))).toBe(
      'DL_ERR_MANIFEST_PATH_OVERLAP',
    );
    expect(
      codeOf(() =>
        parseManifest({ ...base, files: { writable: [{ guest: '/data' }], inputs: [{ guest: '/data/x' }] } }),
      ),
    ).toBe('DL_ERR_MANIFEST_PATH_OVERLAP');
    expect(codeOf(() => parseManifest({ ...base, files: { inputs: [{ guest: '/' }] } }))).toBe('DL_ERR_MANIFEST_PATH');
    // A writable root holds inputs, /output and scratch.
    expect(
      parseManifest({ ...base, files: { writable: [{ guest: '/' }], inputs: [{ guest: '/input/a' }] } }).files.writable,
    ).toEqual([{ guest: '/' }]);
  });

  it('reads trees with coded errors: a host entry where /output goes, initial content over limits.output', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'output'));
    writeFileSync(join(dir, 'output', 'x'), 'x');
    const clash = parseManifest({ ...base, files: { writable: [{ host: dir, guest: '/' }] } });
    expect(codeOf(() => readManifestInputs(clash, dir))).toBe('DL_ERR_MANIFEST_PATH_OVERLAP');
    const big = tempDir();
    writeFileSync(join(big, 'f'), new Uint8Array(100));
    const over = parseManifest({
      ...base,
      limits: { output: 64 },
      files: { writable: [{ host: big, guest: '/work' }] },
    });
    expect(codeOf(() => readManifestInputs(over, big))).toBe('DL_ERR_MANIFEST_INPUT_LIMIT');
    const loop = tempDir();
    mkdirSync(join(loop, 'a'));
    symlinkSync('..', join(loop, 'a', 'up'));
    expect(
      codeOf(() =>
        readManifestInputs(parseManifest({ ...base, files: { inputs: [{ host: loop, guest: '/data' }] } }), loop),
      ),
    ).toBe('DL_ERR_MANIFEST_INPUT_SYMLINK');
    const file = parseManifest({ ...base, files: { writable: [{ host: join(big, 'f'), guest: '/work' }] } });
    expect(codeOf(() => readManifestInputs(file, big))).toBe('DL_ERR_MANIFEST_INPUT_TYPE');
  });

  it('a guest writing past limits.output in a writable directory ends with output_limit; the bundle verifies', async () => {
    const host = tempDir();
    writeFileSync(join(host, 'seed.txt'), '0123456789');
    // path_open("big", CREAT, rights FD_WRITE) under the writable /work (fd 4), then fd_write 64 bytes.
    const module = wat(`(module
      (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1) (data (i32.const 16) "big")
      (func (export "_start")
        (drop (call $open (i32.const 4) (i32.const 0) (i32.const 16) (i32.const 3) (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 32)))
        (i32.store (i32.const 40) (i32.const 256)) (i32.store (i32.const 44) (i32.const 64))
        (drop (call $write (i32.load (i32.const 32)) (i32.const 40) (i32.const 1) (i32.const 48)))))`);
    const manifest = parseManifest({
      ...base,
      limits: { output: 40 },
      files: { writable: [{ host, guest: '/work' }] },
    });
    const inputs = readManifestInputs(manifest, host);
    expect([...inputs.keys()]).toEqual(['/work/seed.txt']);
    const out = await runGuest({ manifest, module, stdin: new Uint8Array(0), inputs, mode: 'record' });
    expect(out.result.status).toBe('output_limit');
    const b = decodeBundle(
      encodeBundle({
        manifest,
        module,
        stdin: new Uint8Array(0),
        inputs,
        witness: out.witnessBytes,
        result: out.result,
      }),
    );
    expect(verifyBundle(b).problems).toEqual([]);
    // The initial content is an output too, unchanged.
    expect(new TextDecoder().decode(out.result.outputs.get('/work/seed.txt'))).toBe('0123456789');
  });

  it('a crafted bundle cannot put ".." or a file-over-directory into the guest tree', async () => {
    const manifest = parseManifest({ ...base, files: { inputs: [{ guest: '/data' }] } });
    const module = wat('(module (memory (export "memory") 1) (func (export "_start")))');
    const out = await runGuest({ manifest, module, stdin: new Uint8Array(0), inputs: new Map(), mode: 'record' });
    const bundle = (inputs: Map<string, Uint8Array>): Uint8Array =>
      encodeBundle({
        manifest,
        module,
        stdin: new Uint8Array(0),
        inputs,
        witness: out.witnessBytes,
        result: out.result,
      });
    const x = new Uint8Array(1);
    expect(
      codeOf(() =>
        decodeBundle(
          bundle(
            new Map([
              ['/data/', x],
              ['/data/../etc', x],
            ]),
          ),
        ),
      ),
    ).toBe('DL_ERR_BUNDLE_SCHEMA');
    expect(
      codeOf(() =>
        decodeBundle(
          bundle(
            new Map([
              ['/data', x],
              ['/data/b', x],
            ]),
          ),
        ),
      ),
    ).toBe('DL_ERR_BUNDLE_SCHEMA');
    expect(
      codeOf(() =>
        decodeBundle(
          bundle(
            new Map([
              ['/data/', x],
              ['/data/b', x],
            ]),
          ),
        ),
      ),
    ).toBeUndefined();
  });
});

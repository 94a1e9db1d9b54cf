import { describe, expect, it } from 'vitest';
import { blake3, toHex } from '../../runtime/hash.ts';
import {
  canonicalResultBytes,
  compareUtf8,
  inputHash,
  resultHash,
  resultToJson,
  type RunResult,
} from '../../runtime/result.ts';
import { h, sampleResult } from './fixtures.ts';

describe('resultHash', () => {
  const base = toHex(resultHash(sampleResult()));

  it('is BLAKE3 of the canonical bytes and stable across calls', () => {
    expect(toHex(resultHash(sampleResult()))).toBe(base);
    expect(toHex(blake3(canonicalResultBytes(sampleResult())))).toBe(base);
  });

  it('changes with every covered field', () => {
    const changes: Partial<RunResult>[] = [
      { status: 'trapped' },
      { exitCode: 1 },
      { exitCode: null },
      { trap: 'unreachable' },
      { fuelUsed: 123_456_789_013n },
      { stdout: new TextEncoder().encode('hello!\n') },
      { stderr: Uint8Array.of(0) },
      { outputs: new Map([['/output/a.txt', Uint8Array.of(1)]]) },
      {
        outputs: new Map([
          ['/output/a.txt', Uint8Array.of(1)],
          ['/output/b.txt', Uint8Array.of(3)],
        ]),
      },
      {
        outputs: new Map([
          ['/output/a.txt', Uint8Array.of(1)],
          ['/output/c.txt', Uint8Array.of(2)],
        ]),
      },
      { witnessRoot: h('other') },
      { moduleHash: h('other') },
      { manifestHash: h('other') },
      { inputHash: h('other') },
      { instrumenterVersion: 'instrument/2' },
      { costTableVersion: 'cost/2' },
    ];
    for (const c of changes) expect(toHex(resultHash(sampleResult(c))), JSON.stringify(Object.keys(c))).not.toBe(base);
  });

  it('ignores output insertion order and the fields the manifest and root already fix', () => {
    const reordered = new Map([
      ['/output/a.txt', Uint8Array.of(1)],
      ['/output/b.txt', Uint8Array.of(2)],
    ]);
    expect(toHex(resultHash(sampleResult({ outputs: reordered })))).toBe(base);
    expect(toHex(resultHash(sampleResult({ fuelLimit: 1n, witnessEntries: 99 })))).toBe(base);
  });

  it('rejects an unknown format version', () => {
    expect(() => resultHash({ ...sampleResult(), formatVersion: 2 as 1 })).toThrow(TypeError);
  });
});

describe('resultToJson', () => {
  it('produces the CLI shape with decimal strings, text and hex; a stream that is not UTF-8 also comes as base64', () => {
    const r = sampleResult({ stderr: Uint8Array.of(0xff, 0x41) });
    const j = resultToJson(r);
    expect(j).toEqual({
      status: 'exited',
      exitCode: 0,
      trap: null,
      fuelUsed: '123456789012',
      fuelLimit: '10000000000000',
      stdout: 'hello\n',
      stderr: '\ufffdA',
      stderrBase64: Buffer.from([0xff, 0x41]).toString('base64'),
      outputs: { '/output/a.txt': toHex(blake3(Uint8Array.of(1))), '/output/b.txt': toHex(blake3(Uint8Array.of(2))) },
      witnessEntries: 3,
      witnessRoot: toHex(h('root')),
      moduleHash: toHex(h('module')),
      resultHash: toHex(resultHash(r)),
    });
    expect(Object.keys(j.outputs)).toEqual(['/output/a.txt', '/output/b.txt']);
    expect(() => JSON.stringify(j)).not.toThrow();
  });

  it('gives back the exact bytes of a binary stdout, and keeps a leading BOM in the text', () => {
    const bytes = Uint8Array.of(0xef, 0xbb, 0xbf, 0x68, 0x69);
    const text = resultToJson(sampleResult({ stdout: bytes }));
    expect(text.stdout).toBe('\ufeffhi');
    expect(text.stdoutBase64).toBeUndefined();
    const binary = Uint8Array.of(0x00, 0xc3, 0x28, 0xff, 0x0a);
    const j = resultToJson(sampleResult({ stdout: binary }));
    expect(j.stdout).toBe('\u0000\ufffd(\ufffd\n');
    expect(new Uint8Array(Buffer.from(j.stdoutBase64!, 'base64'))).toEqual(binary);
  });
});

describe('inputHash and ordering', () => {
  it('depends on stdin and file contents and paths, not on map order', () => {
    const a = new Map([
      ['/in/x', Uint8Array.of(1)],
      ['/in/y', Uint8Array.of(2)],
    ]);
    const b = new Map([
      ['/in/y', Uint8Array.of(2)],
      ['/in/x', Uint8Array.of(1)],
    ]);
    const base = toHex(inputHash(Uint8Array.of(9), a));
    expect(toHex(inputHash(Uint8Array.of(9), b))).toBe(base);
    expect(toHex(inputHash(Uint8Array.of(8), a))).not.toBe(base);
    expect(
      toHex(
        inputHash(
          Uint8Array.of(9),
          new Map([
            ['/in/x', Uint8Array.of(1)],
            ['/in/z', Uint8Array.of(2)],
          ]),
        ),
      ),
    ).not.toBe(base);
  });

  it('sorts paths by UTF-8 bytes, not UTF-16 units', () => {
    // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (F0 …) by bytes, after it by UTF-16 units.
    expect(['/\u{1F600}', '/\uFF5E'].sort(compareUtf8)).toEqual(['/\uFF5E', '/\u{1F600}']);
  });
});

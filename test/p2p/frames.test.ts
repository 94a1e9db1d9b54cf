/** The stream reader: the same reads whatever way the bytes are cut into chunks and chunk parts. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { frame, StreamReader } from '../../p2p/frames.ts';

/** A stream that yields `bytes` cut at `cuts`, each chunk itself a list of parts cut at `partCuts`. */
async function* chunked(bytes: Uint8Array, cuts: number[], partCuts: number[]): AsyncGenerator<Iterable<Uint8Array>> {
  const at = [...new Set([0, ...cuts.map((c) => c % (bytes.length + 1)), bytes.length])].sort((a, b) => a - b);
  for (let i = 0; i + 1 < at.length; i++) {
    const chunk = bytes.subarray(at[i], at[i + 1]);
    const p = [...new Set([0, ...partCuts.map((c) => c % (chunk.length + 1)), chunk.length])].sort((a, b) => a - b);
    yield p.slice(1).map((end, j) => chunk.subarray(p[j], end));
  }
}

describe('StreamReader', () => {
  it('reads frames, exact pieces and chunks identically across any chunking (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }),
        fc.uint8Array({ minLength: 0, maxLength: 500 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (frames, tail, cuts, partCuts) => {
          const head = frames.map(frame);
          const all = new Uint8Array([...head.flatMap((f) => [...f]), 0xab, 0xcd, ...tail]);
          const r = new StreamReader(chunked(all, cuts, partCuts));
          for (const f of frames) expect(await r.frame(1000, 'f')).toEqual(f);
          expect([...(await r.exact(2, 'marker'))]).toEqual([0xab, 0xcd]);
          const rest: number[] = [];
          for (let c = await r.chunk(7); c !== null; c = await r.chunk(7)) {
            expect(c.length).toBeLessThanOrEqual(7);
            rest.push(...c);
          }
          expect(rest).toEqual([...tail]);
          expect(await r.atEnd()).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('names the piece a short stream ended in', async () => {
    const r = new StreamReader(chunked(new Uint8Array(5), [2], [1]));
    await expect(r.exact(8, 'bundle size')).rejects.toMatchObject({ code: 'DL_ERR_P2P_STREAM' });
  });
});

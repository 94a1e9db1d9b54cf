/**
 * Long-lived replay threads for the node: a {@link CagePool} (the runtime's one worker pool)
 * started on first use and never keeping the process alive while idle. Each thread loads the
 * runtime once and compiles each challenge module once (on the thread, so the node's event loop
 * never waits for a compile). Each job keeps the bundle manifest's wall-clock watchdog; a manifest
 * whose stack budget needs a bigger thread stack runs on a thread of its own (the pool sees to it).
 */
import { CagePool } from '../runtime/api/cage.ts';
import type { CageManifest, RunOutcome } from '../runtime/api/cage.ts';

export interface ReplayInput {
  manifest: CageManifest;
  module: Uint8Array;
  stdin: Uint8Array;
  inputs: ReadonlyMap<string, Uint8Array>;
  witness: Uint8Array;
  wasiLevel?: number;
}

type Parts = Pick<RunOutcome, 'result' | 'witnessBytes' | 'divergence' | 'error'>;

export type Replayer = (input: ReplayInput) => Promise<Parts>;

export class ReplayPool {
  readonly #pool: CagePool;

  constructor(threads: number) {
    this.#pool = new CagePool({ size: threads, lazy: true, unref: true, compileIn: 'worker', youngGenerationMb: 64 });
  }

  /**
   * Replays one bundle's contents. The replayed witness is not sent back: a verdict needs only the
   * divergence and the result.
   */
  replay: Replayer = (input) => this.#pool.replay(compact(input), { witness: false });

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/**
 * The input with each byte array in a buffer of its own size. A decoded bundle's module, stdin,
 * witness and inputs are views into 64 KiB decoding buffers, and postMessage clones a view's whole
 * buffer: a `guess` replay sent ~256 KiB to its thread for ~12 KiB of data, the largest part of the
 * main thread's cost of a replay (bench:p2p profile, "replay thread round trip").
 */
function compact(i: ReplayInput): ReplayInput {
  const own = (b: Uint8Array): Uint8Array =>
    b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
  return {
    ...i,
    module: own(i.module),
    stdin: own(i.stdin),
    witness: own(i.witness),
    inputs: new Map([...i.inputs].map(([k, v]) => [k, own(v)])),
  };
}

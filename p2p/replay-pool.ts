/**
 * Long-lived replay threads for the node. `runCage` starts a fresh thread per run (~0.3 s of CPU to
 * load the runtime), which dominated a replay of a small challenge; these threads load it once and
 * compile each challenge module once. Each job keeps the bundle manifest's wall-clock watchdog: a
 * thread that overruns it is terminated and replaced, and the job fails (an infrastructure error,
 * never a verdict). A manifest whose stack budget needs a bigger thread stack than the pool's goes
 * to `runCage` instead.
 */
import { Worker } from 'node:worker_threads';
import { DEFAULT_STACK_LIMIT, DocklockError, MANIFEST_DEFAULTS, runCage } from '../index.ts';
import type { CageManifest, RunOutcome } from '../index.ts';
import { P2PError } from './errors.ts';

const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './replay-worker.ts' : './replay-worker.js',
  import.meta.url,
);
/** The largest stack budget the pool's threads take: the manifest default (or the engine's, if larger). */
const POOL_STACK_BUDGET = Math.max(MANIFEST_DEFAULTS.stack, DEFAULT_STACK_LIMIT);
/** Thread stack for that budget, as runtime/cage/cage.ts sizes it (≈8 bytes a unit, three times over). */
const STACK_MB = Math.max(4, Math.ceil((POOL_STACK_BUDGET * 8 * 3) / (1024 * 1024)) + 1);

export interface ReplayInput {
  manifest: CageManifest;
  module: Uint8Array;
  stdin: Uint8Array;
  inputs: ReadonlyMap<string, Uint8Array>;
  witness: Uint8Array;
  wasiLevel?: number;
}

export interface ReplayJob extends ReplayInput {
  id: number;
}

type Parts = Pick<RunOutcome, 'result' | 'witnessBytes' | 'divergence' | 'error'>;
export type ReplayReply = { id: number; outcome: Parts } | { id: number; error: { code: string; message: string } };

export type Replayer = (input: ReplayInput) => Promise<Parts>;

interface Slot {
  /** Started on first use: a node that never replays never loads the runtime into a thread. */
  worker: Worker | undefined;
  busy: boolean;
}

export class ReplayPool {
  readonly #slots: Slot[] = [];
  readonly #waiting: { input: ReplayInput; resolve: (p: Parts) => void; reject: (e: Error) => void }[] = [];
  #next = 0;
  #closed = false;

  constructor(threads: number) {
    for (let i = 0; i < threads; i++) this.#slots.push({ worker: undefined, busy: false });
  }

  #spawn(): Worker {
    const worker = new Worker(WORKER_URL, {
      resourceLimits: { stackSizeMb: STACK_MB, maxYoungGenerationSizeMb: 64 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    return worker;
  }

  /** Replays one bundle's contents; see the module header for failures. */
  replay: Replayer = (input) => {
    if (this.#closed) return Promise.reject(new P2PError('DL_ERR_P2P_INTERNAL', 'the replay pool is closed'));
    if (input.manifest.limits.stack > POOL_STACK_BUDGET) return runCage({ ...input, mode: 'replay' });
    return new Promise((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      this.#pump();
    });
  };

  #pump(): void {
    for (const slot of this.#slots) {
      if (slot.busy || this.#waiting.length === 0 || this.#closed) continue;
      const job = this.#waiting.shift()!;
      slot.busy = true;
      const worker = (slot.worker ??= this.#spawn());
      const id = this.#next++;
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        slot.busy = false;
        fn();
        this.#pump();
      };
      const replace = (): void => {
        void worker.terminate();
        slot.worker = undefined;
      };
      const onMessage = (m: ReplayReply): void => {
        if (m.id !== id) return;
        done(() => ('outcome' in m ? job.resolve(m.outcome) : job.reject(DocklockError.fromJSON(m.error))));
      };
      const onError = (e: Error): void => {
        replace();
        done(() => job.reject(new P2PError('DL_ERR_P2P_INTERNAL', `replay thread failed: ${e.message}`)));
      };
      const timer = setTimeout(() => {
        replace();
        done(() =>
          job.reject(
            DocklockError.fromJSON({
              code: 'DL_ERR_CAGE_WATCHDOG',
              message: `the replay exceeded its wall-clock watchdog of ${job.input.manifest.limits.wallClockMs} ms`,
            }),
          ),
        );
      }, job.input.manifest.limits.wallClockMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage({ ...job.input, id } satisfies ReplayJob);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.reject(new P2PError('DL_ERR_P2P_INTERNAL', 'the replay pool closed'));
    await Promise.all(this.#slots.map((s) => s.worker?.terminate()));
  }
}

/**
 * Jurors: whoever replays an escrowed run's bundle and reports the result hash it got. The gate
 * does not care where a verdict comes from; this file gives the local kind — one child process per
 * juror, each replaying with its own V8 — and `summonJury`, which asks every juror and hands the
 * verdicts to the escrow. A P2P node's verdicts enter the same way, through `Escrow.addVerdict`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { Escrow, Reevaluate } from './escrow.ts';
import type { GateDecision, JurorVerdict } from './gate.ts';
import { rerunFromBundle } from './rerun.ts';

export interface Juror {
  readonly id: string;
  /** Replays the bundle; never throws for a bad bundle (the verdict says the replay failed). */
  judge(bundle: Uint8Array): Promise<JurorVerdict>;
  close(): Promise<void>;
}

const JUROR_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './juror-process.ts' : './juror-process.js',
  import.meta.url,
);

interface Answer {
  readonly n: number;
  readonly resultHash: string | null;
  readonly detail?: string;
}

/** A juror in its own process, started on first use and reused for later bundles. */
export class ProcessJuror implements Juror {
  readonly id: string;
  #child: ChildProcess | undefined;
  #next = 0;
  readonly #waiting = new Map<number, (a: Answer) => void>();

  constructor(id: string) {
    this.id = id;
  }

  judge(bundle: Uint8Array): Promise<JurorVerdict> {
    const child = this.#start();
    const n = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(n, (a) =>
        resolve({ juror: this.id, resultHash: a.resultHash, ...(a.detail === undefined ? {} : { detail: a.detail }) }),
      );
      child.send({ n, bundle });
    });
  }

  #start(): ChildProcess {
    if (this.#child !== undefined) return this.#child;
    const child = fork(JUROR_ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('message', (a: Answer) => {
      this.#waiting.get(a.n)?.(a);
      this.#waiting.delete(a.n);
    });
    child.on('exit', (code, signal) => {
      // A juror that dies fails every replay it had: a verdict of "could not replay", never a hang.
      for (const [n, done] of this.#waiting)
        done({
          n,
          resultHash: null,
          detail: `juror process ended (${signal ?? code}) ${stderr.trim().split('\n').at(-1) ?? ''}`.trim(),
        });
      this.#waiting.clear();
      if (this.#child === child) this.#child = undefined;
    });
    this.#child = child;
    return child;
  }

  async close(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill();
    });
  }
}

/** `k` local jurors, `local-1` … `local-k`. */
export function localJury(k: number): ProcessJuror[] {
  return Array.from({ length: k }, (_, i) => new ProcessJuror(`local-${i + 1}`));
}

/**
 * Has every juror replay the escrow's bundle, records all their verdicts, then lets the gate
 * decide once. Jurors run side by side.
 */
export async function summonJury(
  escrow: Escrow,
  id: string,
  jurors: readonly Juror[],
  reevaluate?: Reevaluate,
): Promise<GateDecision> {
  const bundle = escrow.bundleOf(escrow.book.get(id));
  const verdicts = await Promise.all(jurors.map((j) => j.judge(bundle)));
  // Every verdict is in before the gate looks: a mismatch must count even when enough matches
  // arrived first.
  await escrow.addVerdicts(id, verdicts);
  return escrow.decide(id, reevaluate);
}

/**
 * Has `k` local jurors (default: as many as the gate requires of this miner) judge an escrow. A
 * commit that conflicts is re-run from its bundle at the new snapshot and judged again, until the
 * escrow is decided or held (at most `maxRebases` re-runs). The jurors' processes end with it.
 */
export async function judgeLocally(escrow: Escrow, id: string, k?: number): Promise<GateDecision> {
  const jury = localJury(k ?? escrow.gateDecision(escrow.book.get(id)).required);
  try {
    let d = await summonJury(escrow, id, jury, rerunFromBundle(escrow));
    while (escrow.book.get(id).status === 'pending' && d.outcome === 'commit')
      d = await summonJury(escrow, id, jury, rerunFromBundle(escrow));
    return d;
  } finally {
    await Promise.all(jury.map((j) => j.close()));
  }
}

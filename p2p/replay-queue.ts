import { FairQueue } from './fair-queue.ts';

interface Job {
  run: () => Promise<void>;
  weight: number;
}

/**
 * Bounded work queue for replays: at most `concurrency` jobs run at once, holding at most `budget`
 * of weight between them (a job's bundle bytes; one job runs whatever its weight), and at most
 * `capacity` wait; a job past capacity is refused (the caller counts it), never buffered without
 * bound. Jobs start in turns between their keys (the claimer, fair-queue.ts), in order within a
 * key: a peer with many claims waiting delays another's claim by one job per turn, not by all.
 */
export class ReplayQueue {
  readonly #concurrency: number;
  readonly #capacity: number;
  readonly #budget: number;
  readonly #waiting = new FairQueue<Job>();
  #running = 0;
  #weight = 0;
  #idle: (() => void)[] = [];
  constructor(concurrency: number, capacity: number, budget = Number.POSITIVE_INFINITY) {
    this.#concurrency = concurrency;
    this.#capacity = capacity;
    this.#budget = budget;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * @param key - whose job it is (a claim's claimer): keys take turns
   * @returns false when the queue is full and the job was refused.
   */
  push(job: () => Promise<void>, weight = 0, key = ''): boolean {
    if (this.waiting >= this.#capacity) return false;
    this.#waiting.push(key, { run: job, weight });
    this.#pump();
    return true;
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.waiting > 0) {
      const job = this.#waiting.peek()!;
      if (this.#running > 0 && this.#weight + job.weight > this.#budget) return;
      this.#waiting.shift();
      this.#running++;
      this.#weight += job.weight;
      void job
        .run()
        .catch(() => undefined)
        .finally(() => {
          this.#running--;
          this.#weight -= job.weight;
          this.#pump();
          if (this.#running === 0 && this.waiting === 0) for (const r of this.#idle.splice(0)) r();
        });
    }
  }

  /** Resolves when nothing runs or waits. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.waiting === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }
}

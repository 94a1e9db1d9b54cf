/**
 * Bounded work queue for replays: at most `concurrency` jobs run at once and at most `capacity`
 * wait; a job past capacity is refused (the caller counts it), never buffered without bound.
 */
export class ReplayQueue {
  readonly #concurrency: number;
  readonly #capacity: number;
  readonly #waiting: (() => Promise<void>)[] = [];
  #head = 0;
  #running = 0;
  #idle: (() => void)[] = [];
  constructor(concurrency: number, capacity: number) {
    this.#concurrency = concurrency;
    this.#capacity = capacity;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** @returns false when the queue is full and the job was refused. */
  push(job: () => Promise<void>): boolean {
    if (this.waiting >= this.#capacity) return false;
    this.#waiting.push(job);
    this.#pump();
    return true;
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.waiting > 0) {
      const job = this.#waiting[this.#head]!;
      this.#waiting[this.#head++] = undefined as unknown as () => Promise<void>;
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting.splice(0, this.#head);
        this.#head = 0;
      }
      this.#running++;
      void job()
        .catch(() => undefined)
        .finally(() => {
          this.#running--;
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

/** At most `n` tasks at once; the others wait their turn in order. */
export class Slots {
  readonly #n: number;
  #used = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#n = n;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#used >= this.#n) await new Promise<void>((r) => this.#waiting.push(r));
    else this.#used++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next task waiting, if any.
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#used--;
    }
  }
}

/**
 * The waiting jobs of a worker pool: a bounded FIFO. An array with a moving head, compacted now
 * and then: `Array#shift` is O(n), and an evaluation batch queues thousands of jobs at once.
 */
import { InputError } from '../errors.ts';
import { PoolFullError } from '../errors.ts';

export class JobQueue<T> {
  readonly max: number;
  #items: (T | undefined)[] = [];
  #head = 0;

  /**
   * @param max - how many jobs may wait (≥ 1; `Infinity` for none)
   * @throws {InputError} `DL_ERR_CAGE_POOL_SIZE` for a bound below 1
   */
  constructor(max: number) {
    if (!(max >= 1))
      throw new InputError('DL_ERR_CAGE_POOL_SIZE', `a pool's queue bound must be at least 1, got ${max}`, {
        field: 'maxQueue',
      });
    this.max = max;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** @throws {DocklockError} `DL_ERR_CAGE_POOL_FULL` when {@link max} jobs already wait */
  push(item: T): void {
    if (this.length >= this.max) throw new PoolFullError([this.max]);
    this.#items.push(item);
  }

  /** Puts a job back at the head (a job handed to a thread that died before starting it); never refused. */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes and returns every waiting job, oldest first. */
  drain(): T[] {
    const out = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return out;
  }
}

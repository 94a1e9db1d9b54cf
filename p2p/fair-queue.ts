/**
 * A queue that takes turns between keys (a claim's claimer): items of one key leave in the order
 * they came, and the keys with items waiting give one each in rotation; a key new to the queue
 * takes its turn after those already waiting. A peer that publishes many claims therefore delays
 * another peer's claim by one of its own per key ahead, not by all of them, and no key starves:
 * fresh keys (a Sybil's) join the back of the rotation, never its front.
 */
export class FairQueue<T> {
  readonly #byKey = new Map<string, T[]>();
  /** Keys with items waiting, in turn order (the next to give is first). */
  #turns: string[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  /** Adds an item at the back of its key's line. */
  push(key: string, item: T): void {
    this.#length++;
    const line = this.#byKey.get(key);
    if (line !== undefined) {
      line.push(item);
      return;
    }
    this.#byKey.set(key, [item]);
    this.#turns.push(key);
  }

  /** Puts back an item that had its turn (to be sent again): at the front of its line, its key's turn next. */
  unshift(key: string, item: T): void {
    this.#length++;
    const line = this.#byKey.get(key);
    if (line !== undefined) {
      line.unshift(item);
      this.#turns.splice(this.#turns.indexOf(key), 1);
    } else this.#byKey.set(key, [item]);
    this.#turns.unshift(key);
  }

  /** The next item, without taking it. */
  peek(): T | undefined {
    const key = this.#turns[0];
    return key === undefined ? undefined : this.#byKey.get(key)![0];
  }

  /** Takes the next item: the first of the key whose turn it is; that key's next turn comes last. */
  shift(): T | undefined {
    const key = this.#turns.shift();
    if (key === undefined) return undefined;
    const line = this.#byKey.get(key)!;
    const item = line.shift()!;
    if (line.length > 0) this.#turns.push(key);
    else this.#byKey.delete(key);
    this.#length--;
    return item;
  }

  /** Takes every item (turn order no longer matters). */
  drain(): T[] {
    const all = [...this.#byKey.values()].flat();
    this.#byKey.clear();
    this.#turns = [];
    this.#length = 0;
    return all;
  }
}

/**
 * Collects the messages a node has ready into batches (docs/p2p.md, "Batches"), Nagle-style but
 * without a fixed delay: a message goes out on the next turn of the event loop, with whatever else
 * became ready in the same turn, unless the node knows more are on their way (`moreComing`: replays
 * still queued, claims still being stored); then it waits for them, at most `maxDelayMs` after the
 * first waiting message, or until `maxItems` or `maxBytes` are reached. At rest every message goes
 * out at once; under a burst the batches fill.
 *
 * A fixed window was measured first (bench/RESULTS.md, "P2P batches"): at the rates one node sees
 * here (a message every ~50 ms) a 5–20 ms window gathered 1.7 messages a batch and cost latency.
 */
export interface BatcherOptions<R> {
  maxDelayMs: number;
  maxItems: number;
  maxBytes: number;
  /** Whether more messages are known to be coming soon (checked when a message is added). */
  moreComing: () => boolean;
  /** Sends one batch; resolves with one result per item, in order. */
  flush: (items: Uint8Array[]) => Promise<R[]>;
}

interface Waiting<R> {
  item: Uint8Array;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class Batcher<R> {
  readonly #o: BatcherOptions<R>;
  #pending: Waiting<R>[] = [];
  #bytes = 0;
  #firstAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;

  constructor(o: BatcherOptions<R>) {
    this.#o = o;
  }

  /** Queues one item; resolves with its result once its batch is sent. */
  add(item: Uint8Array): Promise<R> {
    if (this.#closed) return Promise.reject(new Error('the batcher is closed'));
    if (this.#pending.length > 0 && this.#bytes + item.length > this.#o.maxBytes) this.#flushNow();
    return new Promise<R>((resolve, reject) => {
      if (this.#pending.length === 0) this.#firstAt = performance.now();
      this.#pending.push({ item, resolve, reject });
      this.#bytes += item.length;
      if (this.#pending.length >= this.#o.maxItems) this.#flushNow();
      else this.nudge();
    });
  }

  /** Re-decides when the waiting batch goes out: call it when `moreComing` may have turned false. */
  nudge(): void {
    if (this.#pending.length === 0 || this.#immediate !== undefined) return;
    if (!this.#o.moreComing()) {
      this.#immediate = setImmediate(() => this.#flushNow());
      return;
    }
    if (this.#timer === undefined) {
      const wait = Math.max(0, this.#firstAt + this.#o.maxDelayMs - performance.now());
      this.#timer = setTimeout(() => this.#flushNow(), wait);
    }
  }

  #flushNow(): void {
    clearTimeout(this.#timer);
    clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    this.#bytes = 0;
    this.#o.flush(batch.map((w) => w.item)).then(
      (results) => batch.forEach((w, i) => w.resolve(results[i]!)),
      (e: unknown) => batch.forEach((w) => w.reject(e)),
    );
  }

  /** Sends what waits and refuses new items. */
  close(): void {
    this.#flushNow();
    this.#closed = true;
  }
}

/**
 * Captured stdout/stderr with a byte cap. Going over the cap ends the run with status
 * `output_limit` (the bytes up to the cap are kept), so a guest printing forever is stopped at the
 * same byte on every node.
 */
import { RunEnd } from '../../runtime/store.ts';

/** The guest went over an output cap (stdout, stderr or the output directory): the run ends. */
export class OutputLimit extends RunEnd {
  constructor(message: string) {
    super(message);
    this.name = 'OutputLimit';
  }
}

export class OutputCapture {
  readonly name: string;
  readonly limit: number;
  #chunks: Uint8Array[] = [];
  length = 0;
  /** Mirror to a host stream as it arrives (CLI without --json). */
  tee: ((chunk: Uint8Array) => void) | undefined;

  constructor(name: string, limit: number) {
    this.name = name;
    this.limit = limit;
  }

  /** Appends; throws `OutputLimit` after keeping what fits. */
  push(data: Uint8Array): void {
    const room = this.limit - this.length;
    const keep = data.length <= room ? data : data.subarray(0, Math.max(0, room));
    if (keep.length > 0) {
      const copy = keep.slice();
      this.#chunks.push(copy);
      this.length += copy.length;
      this.tee?.(copy);
    }
    if (keep.length < data.length) throw new OutputLimit(`${this.name} exceeded its limit of ${this.limit} bytes`);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let pos = 0;
    for (const c of this.#chunks) {
      out.set(c, pos);
      pos += c.length;
    }
    return out;
  }
}

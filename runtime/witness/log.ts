/**
 * The append-only witness of one run. Host functions append in the guest's hot loop, so append
 * only copies what the guest could later overwrite (the written bytes) and defers all encoding and
 * hashing to {@link WitnessLog.finalize}.
 *
 * @module
 */
import { blake3Into, HASH_BYTES } from '../hash.ts';
import type { MemoryWrite, WitnessEntry } from './entry.ts';
import { EntryEncoder } from './encoding.ts';
import { merkleRootOfSlab } from './merkle.ts';

/** Size of one arena for copied write bytes; writes over 1/16 of it get their own copy. */
const ARENA_BYTES = 1 << 16;

/** The committed form of a log: leaf hashes H(0x00 ‖ encodeEntry(e)) and their RFC 9162 root. */
export interface WitnessCommitment {
  /** 32-byte Merkle root; H("") for an empty log. */
  root: Uint8Array;
  /** One 32-byte leaf hash per entry, in order; input to `inclusionProof`. */
  leaves: Uint8Array[];
}

/**
 * Append-only list of host calls.
 *
 * @example
 * ```ts
 * const log = new WitnessLog();
 * log.append({ name: 'wasi_snapshot_preview1.random_get', args: [1024, 8], result: 0,
 *              writes: [{ ptr: 1024, bytes: memory.subarray(1024, 1032) }], fuel: 1234n });
 * const { root } = log.finalize();
 * ```
 */
export class WitnessLog {
  readonly #entries: WitnessEntry[] = [];
  // Written bytes are copied into shared arenas: a `slice()` per write allocates a backing store
  // each, which dominated append cost for the 8-byte writes of a random_get loop.
  #arena = new Uint8Array(ARENA_BYTES);
  #arenaPos = 0;

  /**
   * Records one host call.
   *
   * Write bytes are copied (they usually view guest memory, which the guest keeps changing);
   * `args` and `data` are kept as given, so the caller hands them over and must not mutate them.
   * No validation here: types are checked once, at {@link WitnessLog.finalize}.
   *
   * @param e - the call without its index.
   * @returns the new entry's index.
   */
  append(e: Omit<WitnessEntry, 'index'>): number {
    const index = this.#entries.length;
    const src = e.writes;
    let writes: MemoryWrite[];
    if (src.length === 1) {
      writes = [{ ptr: src[0].ptr, bytes: this.#copy(src[0].bytes) }];
    } else {
      writes = new Array<MemoryWrite>(src.length);
      for (let i = 0; i < src.length; i++) writes[i] = { ptr: src[i].ptr, bytes: this.#copy(src[i].bytes) };
    }
    const entry: WitnessEntry = { index, name: e.name, args: e.args, result: e.result, writes, fuel: e.fuel };
    if (e.data !== undefined) entry.data = e.data;
    this.#entries.push(entry);
    return index;
  }

  #copy(b: Uint8Array): Uint8Array {
    const n = b.length;
    if (n > ARENA_BYTES >>> 4) return b.slice();
    if (this.#arenaPos + n > ARENA_BYTES) {
      this.#arena = new Uint8Array(ARENA_BYTES);
      this.#arenaPos = 0;
    }
    const arena = this.#arena;
    const pos = this.#arenaPos;
    if (n <= 16) for (let i = 0; i < n; i++) arena[pos + i] = b[i];
    else arena.set(b, pos);
    this.#arenaPos = pos + n;
    return arena.subarray(pos, pos + n);
  }

  /** Number of entries. */
  get length(): number {
    return this.#entries.length;
  }

  /**
   * The entry at `i`.
   *
   * @param i - 0 ≤ i < length.
   * @returns the stored entry (do not mutate).
   * @throws {RangeError} if out of range.
   */
  entry(i: number): WitnessEntry {
    const e = this.#entries[i];
    if (e === undefined || !Number.isInteger(i)) throw new RangeError(`witness entry index must be in [0, ${this.#entries.length}), got ${i}`);
    return e;
  }

  /** All entries, in order (a read-only view of the log's own list). */
  entries(): readonly WitnessEntry[] {
    return this.#entries;
  }

  /**
   * Encodes every entry, hashes the leaves and builds the Merkle root. Can be called again after
   * more appends; it always covers the whole log.
   *
   * @returns root and leaf hashes.
   * @throws {TypeError|RangeError} if a host recorded a value of an impossible type (our bug).
   */
  finalize(): WitnessCommitment {
    return commitEntries(this.#entries);
  }
}

/**
 * Leaf hashes and Merkle root of a list of entries, as {@link WitnessLog.finalize} computes them;
 * used to re-check a witness read from a bundle.
 *
 * @param entries - entries in log order; entry `i` must carry `index === i`.
 * @returns root and leaf hashes.
 * @throws {RangeError} if an entry's index is not its position.
 * @example
 * ```ts
 * bytesEqual(commitEntries(bundle.witness).root, storedRoot);
 * ```
 */
export function commitEntries(entries: readonly WitnessEntry[]): WitnessCommitment {
  const n = entries.length;
  const encoder = new EntryEncoder();
  // Leaf hashes live back to back in one slab: a fresh array per digest measured twice as slow
  // with a million live entries on the heap.
  const slab = new Uint8Array(n * HASH_BYTES);
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    if (e.index !== i) throw new RangeError(`witness entry at position ${i} carries index ${e.index}`);
    // The encoder reserves the 0x00 leaf prefix, so this is H(0x00 ‖ encodeEntry(e)) with no copy.
    blake3Into(encoder.encode(e, true), slab, i * HASH_BYTES);
  }
  const leaves = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) leaves[i] = slab.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  return { root: merkleRootOfSlab(slab.slice(), n), leaves };
}

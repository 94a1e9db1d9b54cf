/**
 * One run's view of a named challenge state at snapshot V: what it read (the read set, with the
 * versions and values it saw), what it wrote (the write set: never the store), and the ordered
 * reads of the snapshot it made. The run's own writes shadow the snapshot (read-your-writes).
 *
 * Record mode asks a {@link StateSnapshot} the cage opened; replay answers every snapshot read from
 * the witness (the `data` of the recorded `state_get`/`state_scan` entries) and needs no store.
 * At the end the cage turns {@link StateSession.change} into the run's `docklock.state_change`
 * witness entry, which replay recomputes and compares like any other.
 */
import { compareBytes, hexKey } from './bytes.ts';
import type { StateCaps } from './abi.ts';

/** A key as the snapshot holds it: the commit that last wrote it (0: never), and its value or null. */
export interface SnapshotValue {
  readonly version: number;
  readonly value: Uint8Array | null;
}

export interface SnapshotEntry {
  readonly key: Uint8Array;
  readonly version: number;
  readonly value: Uint8Array;
}

/** The store at version V, read synchronously (the cage opens it read-only in the run's thread). */
export interface StateSnapshot {
  readonly name: string;
  readonly version: number;
  get(key: Uint8Array): SnapshotValue;
  /** Live keys ≥ start in byte order, at most `limit`. */
  scan(start: Uint8Array, limit: number): SnapshotEntry[];
}

export interface SessionRead {
  readonly key: Uint8Array;
  readonly version: number;
  readonly value: Uint8Array | null;
}

export interface SessionScan {
  readonly start: Uint8Array;
  readonly limit: number;
  readonly keys: readonly Uint8Array[];
}

export interface SessionChange {
  readonly reads: readonly SessionRead[];
  readonly writes: readonly { key: Uint8Array; value: Uint8Array | null }[];
  readonly scans: readonly SessionScan[];
}

export class StateSession {
  readonly caps: StateCaps;
  readonly #reads = new Map<string, SessionRead>();
  readonly #writes = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();
  readonly #scans: SessionScan[] = [];
  #writeBytes = 0;

  constructor(caps: StateCaps) {
    this.caps = caps;
  }

  /** The run's own write of `key`, if any (a deletion is `{ value: null }`). */
  ownWrite(key: Uint8Array): { value: Uint8Array | null } | undefined {
    return this.#writes.get(hexKey(key));
  }

  /** A key read before in this run: the same answer again, so a run sees one snapshot. */
  readBefore(key: Uint8Array): SessionRead | undefined {
    return this.#reads.get(hexKey(key));
  }

  noteRead(read: SessionRead): void {
    const k = hexKey(read.key);
    if (!this.#reads.has(k)) this.#reads.set(k, read);
  }

  noteScan(scan: SessionScan): void {
    this.#scans.push(scan);
  }

  /** Stages a put or delete; false when it would take the write set over its caps (nothing staged). */
  write(key: Uint8Array, value: Uint8Array | null): boolean {
    const k = hexKey(key);
    const before = this.#writes.get(k);
    const bytes =
      this.#writeBytes -
      (before === undefined ? 0 : key.length + (before.value?.length ?? 0)) +
      key.length +
      (value?.length ?? 0);
    if (before === undefined && this.#writes.size >= this.caps.maxWriteKeys) return false;
    if (bytes > this.caps.maxWriteBytes) return false;
    this.#writes.set(k, { key, value });
    this.#writeBytes = bytes;
    return true;
  }

  /** Own writes with keys ≥ start, in key order. */
  writesFrom(start: Uint8Array): { key: Uint8Array; value: Uint8Array | null }[] {
    return [...this.#writes.values()]
      .filter((w) => compareBytes(w.key, start) >= 0)
      .sort((a, b) => compareBytes(a.key, b.key));
  }

  /** Reads, writes and scans in the canonical order (keys in byte order; scans as made). */
  change(): SessionChange {
    const byKey = <T extends { key: Uint8Array }>(m: Map<string, T>): T[] =>
      [...m.values()].sort((a, b) => compareBytes(a.key, b.key));
    return { reads: byKey(this.#reads), writes: byKey(this.#writes), scans: [...this.#scans] };
  }
}

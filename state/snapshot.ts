/**
 * A read-only snapshot of one named state, for a run: the store at version V (default its head)
 * opened read-only in the run's own thread, so `state_get` answers synchronously and the run can
 * never write the store. WAL lets it read while the escrow commits; a commit after V is invisible
 * to it (MVCC), so the run sees one consistent snapshot however long it takes.
 */
import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { StateError } from './errors.ts';
import { STATE_LIMITS } from './limits.ts';
import { SqliteStateStore, type StateEntry } from './store.ts';

/** Where a run's state comes from: plain data, so it crosses into the cage's worker. */
export interface StateSource {
  /** The escrow's database file (`<data dir>/escrow.db`); absent: an empty state at version 0. */
  readonly db?: string;
  /** The state's name (a store holds many). */
  readonly name: string;
  /** The snapshot version; default the state's head when the run starts. */
  readonly version?: number;
}

export interface OpenSnapshot {
  readonly name: string;
  readonly version: number;
  get(key: Uint8Array): { version: number; value: Uint8Array | null };
  scan(start: Uint8Array, limit: number): StateEntry[];
  close(): void;
}

export const STATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Refuses a state name that could not be typed on a command line or listed cleanly. */
export function checkStateName(name: string): void {
  if (!STATE_NAME.test(name))
    throw new StateError(
      'DL_ERR_STATE_SOURCE',
      `state name ${JSON.stringify(name)} is not 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or digit`,
      { field: 'state' },
    );
}

/**
 * Opens the snapshot a run reads.
 * @throws {StateError} `DL_ERR_STATE_SOURCE` for a missing database or a bad name,
 *   `DL_ERR_STATE_SNAPSHOT` for a version past the state's head.
 */
export function openSnapshot(source: StateSource): OpenSnapshot {
  checkStateName(source.name);
  if (source.db === undefined) {
    if (source.version !== undefined && source.version !== 0)
      throw new StateError('DL_ERR_STATE_SNAPSHOT', `an empty state has only version 0, not ${source.version}`, {
        field: 'version',
      });
    return { name: source.name, version: 0, get: () => ({ version: 0, value: null }), scan: () => [], close() {} };
  }
  if (!existsSync(source.db))
    throw new StateError('DL_ERR_STATE_SOURCE', `no state database at ${source.db}: pass the escrow's escrow.db`, {
      path: source.db,
    });
  let db: DatabaseSync;
  let store: SqliteStateStore;
  try {
    db = new DatabaseSync(source.db, { readOnly: true });
    store = new SqliteStateStore(db, STATE_LIMITS);
  } catch (err) {
    throw new StateError(
      'DL_ERR_STATE_SOURCE',
      `cannot read the state database ${source.db}: ${(err as Error).message}`,
      {
        path: source.db,
      },
    );
  }
  const head = store.head(source.name);
  const version = source.version ?? head;
  if (!Number.isSafeInteger(version) || version < 0 || version > head) {
    db.close();
    throw new StateError(
      'DL_ERR_STATE_SNAPSHOT',
      `state "${source.name}" has versions 0 to ${head}; version ${version} does not exist yet`,
      { field: 'version' },
    );
  }
  const name = source.name;
  return {
    name,
    version,
    get(key) {
      const { entry, version: v } = store.get(name, key, version);
      return { version: v, value: entry === undefined ? null : entry.value };
    },
    scan: (start, limit) => store.scanAll(name, start, limit, version),
    close: () => db.close(),
  };
}

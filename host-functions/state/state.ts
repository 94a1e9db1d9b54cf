/**
 * The `state` host group, import module `docklock` (ABI: ./abi.ts). A challenge reads a named
 * state at the snapshot its run was given and stages writes; nothing reaches the store during a
 * run. Every answer that came from the snapshot is in the call's witness entry (`data`), so replay
 * answers from the bundle alone, and a replaying guest that asks for another key diverges there.
 *
 *   state_get  data: [key, version, value | nil, own]   own: answered from the run's own write
 *   state_scan data: [start, fetchLimit, [[key, version, value], …]]   the snapshot part only
 */
import { canonicalPackr } from '../../runtime/store.ts';
import type { HostCalls, HostValue, Store } from '../../runtime/store.ts';
import { STATE_ERR } from './abi.ts';
import { compareBytes, hexKey } from './bytes.ts';
import type { SnapshotEntry, SnapshotValue, StateSession, StateSnapshot } from './session.ts';

type GetData = [key: Uint8Array, version: number, value: Uint8Array | null, own: boolean];
type ScanData = [start: Uint8Array, fetchLimit: number, entries: [Uint8Array, number, Uint8Array][]];

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The recorded answer of a `state_get`, or a not-found one that differs from any real recording. */
function recordedGet(calls: HostCalls): SnapshotValue {
  try {
    const d = canonicalPackr.unpack(calls.expectedNext()?.data ?? new Uint8Array(0)) as unknown[];
    if (Array.isArray(d) && d.length === 4 && isVersion(d[1]) && (d[2] === null || isBytes(d[2])))
      return { version: d[1], value: d[2] };
  } catch {}
  return { version: -1, value: null };
}

/** The recorded snapshot entries of a `state_scan`, checked for shape and order; [] when malformed. */
function recordedScan(calls: HostCalls, start: Uint8Array, fetchLimit: number): SnapshotEntry[] {
  try {
    const d = canonicalPackr.unpack(calls.expectedNext()?.data ?? new Uint8Array(0)) as unknown[];
    if (!Array.isArray(d) || d.length !== 3 || !Array.isArray(d[2]) || d[2].length > fetchLimit) return [];
    const out: SnapshotEntry[] = [];
    let prev = start;
    for (const e of d[2] as unknown[]) {
      if (!Array.isArray(e) || e.length !== 3 || !isBytes(e[0]) || !isVersion(e[1]) || !isBytes(e[2])) return [];
      if (compareBytes(e[0], prev) < (out.length === 0 ? 0 : 1)) return [];
      out.push({ key: e[0], version: e[1], value: e[2] });
      prev = e[0];
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * The group's functions for one run. `snapshot` is the store at V in record mode; replay passes
 * undefined and every snapshot answer comes from the recording.
 */
export function createState(
  store: Store,
  session: StateSession,
  snapshot: StateSnapshot | undefined,
): Record<string, (...a: HostValue[]) => HostValue | undefined> {
  const calls = store.calls;
  const mem = calls.mem;
  const caps = session.caps;
  const replay = calls.mode === 'replay';
  const keyAt = (ptr: number, len: number): Uint8Array | undefined => {
    mem.check(ptr, len);
    return len === 0 || len > caps.maxKeyBytes ? undefined : mem.copy(ptr, len);
  };
  const lookup = (key: Uint8Array): { read: SnapshotValue; own: boolean } => {
    const own = session.ownWrite(key);
    if (own !== undefined) return { read: { version: 0, value: own.value }, own: true };
    const before = session.readBefore(key);
    if (before !== undefined) return { read: before, own: false };
    const read = replay ? recordedGet(calls) : snapshot === undefined ? { version: 0, value: null } : snapshot.get(key);
    if (read.version >= 0) session.noteRead({ key, version: read.version, value: read.value });
    return { read, own: false };
  };

  const get = (keyPtr: number, keyLen: number, bufPtr: number, bufCap: number): number => {
    mem.check(bufPtr, bufCap);
    const key = keyAt(keyPtr, keyLen);
    if (key === undefined) return STATE_ERR.LIMIT;
    const { read, own } = lookup(key);
    calls.pendingData = canonicalPackr.pack([key, read.version, read.value, own] satisfies GetData);
    if (read.value === null) return STATE_ERR.NOT_FOUND;
    const n = Math.min(bufCap, read.value.length);
    if (n > 0) mem.write(bufPtr, read.value.subarray(0, n));
    return read.value.length;
  };

  const put = (keyPtr: number, keyLen: number, valPtr: number, valLen: number): number => {
    const key = keyAt(keyPtr, keyLen);
    mem.check(valPtr, valLen);
    if (key === undefined || valLen > caps.maxValueBytes) return STATE_ERR.LIMIT;
    return session.write(key, mem.copy(valPtr, valLen)) ? 0 : STATE_ERR.LIMIT;
  };

  const del = (keyPtr: number, keyLen: number): number => {
    const key = keyAt(keyPtr, keyLen);
    if (key === undefined) return STATE_ERR.LIMIT;
    return session.write(key, null) ? 0 : STATE_ERR.LIMIT;
  };

  const scan = (startPtr: number, startLen: number, limit: number, bufPtr: number, bufCap: number): number => {
    mem.check(startPtr, startLen);
    mem.check(bufPtr, bufCap);
    if (startLen > caps.maxKeyBytes + 1 || limit < 1 || limit > caps.maxScanEntries) return STATE_ERR.LIMIT;
    const start = mem.copy(startPtr, startLen);
    const own = session.writesFrom(start);
    // Enough snapshot keys that the run's own deletions cannot hide all `limit` of them.
    const fetchLimit = limit + own.filter((w) => w.value === null).length;
    const fetched = replay
      ? recordedScan(calls, start, fetchLimit)
      : snapshot === undefined
        ? []
        : snapshot.scan(start, fetchLimit);
    calls.pendingData = canonicalPackr.pack([
      start,
      fetchLimit,
      fetched.map((e) => [e.key, e.version, e.value]),
    ] satisfies ScanData);
    session.noteScan({ start, limit: fetchLimit, keys: fetched.map((e) => e.key) });
    for (const e of fetched) session.noteRead({ key: e.key, version: e.version, value: e.value });
    // A full fetch may stop before keys the run itself put further on: those wait for the next scan.
    const last = fetched.length === fetchLimit ? fetched[fetched.length - 1]?.key : undefined;
    const merged = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();
    for (const e of fetched) merged.set(hexKey(e.key), e);
    for (const w of own) if (last === undefined || compareBytes(w.key, last) <= 0) merged.set(hexKey(w.key), w);
    const visible = [...merged.values()]
      .filter((e): e is { key: Uint8Array; value: Uint8Array } => e.value !== null)
      .sort((a, b) => compareBytes(a.key, b.key))
      .slice(0, limit);
    // The entries that fit, encoded once and written into the guest in one piece.
    let size = 0;
    let count = 0;
    while (count < visible.length) {
      const e = visible[count]!;
      if (size + 8 + e.key.length + e.value.length > bufCap) break;
      size += 8 + e.key.length + e.value.length;
      count++;
    }
    const out = new Uint8Array(size);
    const dv = new DataView(out.buffer);
    let at = 0;
    for (const e of visible.slice(0, count)) {
      dv.setUint32(at, e.key.length, true);
      out.set(e.key, at + 4);
      dv.setUint32(at + 4 + e.key.length, e.value.length, true);
      out.set(e.value, at + 8 + e.key.length);
      at += 8 + e.key.length + e.value.length;
    }
    if (size > 0) mem.write(bufPtr, out);
    return count === 0 && visible.length > 0 ? STATE_ERR.BUFFER : count;
  };

  return {
    state_get: calls.wrap('docklock.state_get', get, STATE_ERR.FAULT),
    state_put: calls.wrap('docklock.state_put', put, STATE_ERR.FAULT),
    state_delete: calls.wrap('docklock.state_delete', del, STATE_ERR.FAULT),
    state_scan: calls.wrap('docklock.state_scan', scan, STATE_ERR.FAULT),
  };
}

/**
 * A run's challenge state, from the cage's side: opens the snapshot (record mode), makes the
 * session the `state` host group works in, and at the end records the run's change as the
 * `docklock.state_change` witness entry: `[state name, snapshot version, change bytes]`
 * (state/change-codec.ts; every read with the version and value hash it saw, the write set, the
 * scans). The result hash covers it through the witness root, and the escrow opens an escrow on it.
 *
 * Replay opens no store: the name and version are inputs the recording carries (like the seed),
 * taken from its last entry; the change itself is recomputed from the replayed calls and compared.
 */
import { canonicalPackr } from '../store.ts';
import type { Divergence, HostCalls } from '../witness/recorder.ts';
import { StateSession } from '../../host-functions/state/session.ts';
import type { StateSnapshot } from '../../host-functions/state/session.ts';
import { encodeChange, valueHash } from '../../state/change-codec.ts';
import { STATE_LIMITS } from '../../state/limits.ts';
import { openSnapshot } from '../../state/snapshot.ts';
import type { StateSource } from '../../state/snapshot.ts';

import { STATE_CHANGE_ENTRY } from '../state-change.ts';

export interface StateRun {
  session: StateSession;
  snapshot: StateSnapshot | undefined;
  /** Records the change entry and closes the snapshot; in replay, a differing change is the divergence. */
  finish(): Divergence | null;
  /** Closes the snapshot without recording (the run diverged before the end). */
  close(): void;
}

/** The name and version a recording's change entry names, or a placeholder that cannot match one. */
function recordedIdentity(calls: HostCalls): [string, number] {
  try {
    const d = canonicalPackr.unpack(calls.expectedNext()?.data ?? new Uint8Array(0)) as unknown[];
    if (Array.isArray(d) && typeof d[0] === 'string' && Number.isSafeInteger(d[1])) return [d[0], d[1] as number];
  } catch {}
  return ['', -1];
}

export function openStateRun(calls: HostCalls, source: StateSource | undefined): StateRun {
  const session = new StateSession(STATE_LIMITS);
  const open = calls.mode === 'record' ? openSnapshot(source ?? { name: 'default' }) : undefined;
  return {
    session,
    snapshot: open,
    finish() {
      const [name, version] = open === undefined ? recordedIdentity(calls) : [open.name, open.version];
      open?.close();
      const c = session.change();
      const bytes = encodeChange({
        reads: c.reads.map((r) => ({
          key: r.key,
          version: r.version,
          valueHash: r.value === null ? null : valueHash(r.value),
        })),
        writes: c.writes,
        scans: c.scans,
      });
      return calls.appendFinal(STATE_CHANGE_ENTRY, canonicalPackr.pack([name, version, bytes]));
    },
    close: () => open?.close(),
  };
}

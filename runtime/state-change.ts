/**
 * Reading a run's state change back out of its witness: the `docklock.state_change` entry the cage
 * records last when `state` is granted (runtime/cage/state-run.ts). The escrow opens an escrow on
 * exactly this, so the change it applies is the one the result hash commits to.
 */
import { decodeChange } from '../state/change-codec.ts';
import type { EncodedChange } from '../state/change-codec.ts';
import { InputError } from './errors.ts';
import { canonicalPackr } from './msgpack.ts';
import type { WitnessEntry } from './witness/entry.ts';

/** The witness entry name of a run's state change. */
export const STATE_CHANGE_ENTRY = 'docklock.state_change';

/** A run's change to one named state, computed at snapshot `version`. */
export interface RunStateChange extends Required<EncodedChange> {
  readonly state: string;
  readonly version: number;
}

/**
 * The state change a run's witness ends with, or null when the run had no `state` grant.
 * @throws {InputError} `DL_ERR_STATE_CHANGE_MALFORMED` when the entry does not decode.
 */
export function stateChangeOf(witness: readonly WitnessEntry[]): RunStateChange | null {
  const last = witness[witness.length - 1];
  if (last === undefined || last.name !== STATE_CHANGE_ENTRY) return null;
  const fail = (why: string): never => {
    throw new InputError('DL_ERR_STATE_CHANGE_MALFORMED', `the run's state change entry ${why}`, {
      entry: last.index,
    });
  };
  let d: unknown;
  try {
    d = canonicalPackr.unpack(last.data ?? new Uint8Array(0));
  } catch {
    fail('is not MessagePack');
  }
  if (!Array.isArray(d) || d.length !== 3) return fail('is not [state, version, change]');
  const [state, version, bytes] = d as unknown[];
  if (typeof state !== 'string' || !Number.isSafeInteger(version) || (version as number) < 0)
    return fail('names no state or version');
  if (!(bytes instanceof Uint8Array)) return fail('holds no change bytes');
  return { state, version: version as number, ...decodeChange(bytes) };
}

/**
 * Re-evaluation after a conflict: the escrow's bundle holds the whole run (module, manifest,
 * stdin, inputs), so the same evaluation can be run again against the state's newer snapshot.
 * The new bundle replaces the old one and the jury starts again (Escrow.decide). A re-run that
 * does not exit 0 fails the re-evaluation, and the escrow is held for review.
 */
import { join } from 'node:path';
import { encodeBundle, runCage } from '../runtime/api/cage.ts';
import { decodeBundle, stateChangeOf, toHex, resultHash } from '../runtime/api/bundle.ts';
import type { EscrowRecord } from './book.ts';
import { EscrowError } from './errors.ts';
import type { Escrow, Reevaluate } from './escrow.ts';

/** A {@link Reevaluate} that re-runs an escrow's bundle at the new snapshot, reading this escrow's store. */
export function rerunFromBundle(escrow: Escrow): Reevaluate {
  return async (record: EscrowRecord, base: number) => {
    const b = decodeBundle(escrow.bundleOf(record));
    const out = await runCage({
      manifest: b.manifest,
      module: b.module,
      stdin: b.stdin,
      inputs: b.inputs,
      mode: 'record',
      state: { db: join(escrow.dataDir, 'escrow.db'), name: record.state, version: base },
    });
    const r = out.result;
    if (r.status !== 'exited' || r.exitCode !== 0)
      throw new EscrowError(
        'DL_ERR_ESCROW_RUN',
        `the re-run at version ${base} ended ${r.status} (exit ${r.exitCode})`,
        {
          field: 'bundle',
        },
      );
    const change = stateChangeOf(out.witness);
    if (change === null || change.state !== record.state || change.version !== base)
      throw new EscrowError(
        'DL_ERR_ESCROW_RUN',
        `the re-run at version ${base} recorded no change to "${record.state}"`,
        {
          field: 'bundle',
        },
      );
    const bundle = encodeBundle({
      manifest: b.manifest,
      module: b.module,
      stdin: b.stdin,
      inputs: b.inputs,
      witness: out.witnessBytes,
      result: r,
    });
    return {
      resultHash: toHex(resultHash(r)),
      bundle,
      base,
      reads: change.reads,
      writes: change.writes,
      scans: change.scans,
    };
  };
}

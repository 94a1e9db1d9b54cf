/** What a replay of a bundle asks of the cage, and a function that runs one (the runtime's `runCage`, or a test's). */
import type { CageManifest, RunOutcome } from '../index.ts';

export interface ReplayInput {
  manifest: CageManifest;
  module: Uint8Array;
  stdin: Uint8Array;
  inputs: ReadonlyMap<string, Uint8Array>;
  witness: Uint8Array;
  wasiLevel?: number;
}

export type Replayer = (input: ReplayInput) => Promise<Pick<RunOutcome, 'result' | 'divergence'>>;

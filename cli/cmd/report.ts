/**
 * `evaluate --report`: the HTML report, with fuel profiles (flame graphs) of the slowest and the
 * failed submissions' bundles written beside them and linked from the page.
 */
import { dirname, relative } from 'node:path';
import type { Evaluation } from '../../runtime/api/evaluate.ts';
import { writeFileAtomic } from '../../runtime/api/cage.ts';
import { profileBundle, renderProfile, renderReport } from '../../runtime/api/profile.ts';
import { readInput } from '../io.ts';

/** Most bundles profiled for one report: each is a replay. */
const MAX_PROFILES = 20;
const SLOWEST = 10;

export async function writeReport(path: string, evals: readonly Evaluation[], names: readonly string[]): Promise<void> {
  const byFuel = evals
    .filter((e) => e.bundle !== undefined && e.run !== null)
    .sort((a, b) => (b.run!.fuelUsed > a.run!.fuelUsed ? 1 : b.run!.fuelUsed < a.run!.fuelUsed ? -1 : 0));
  const wanted = new Set([...byFuel.slice(0, SLOWEST), ...byFuel.filter((e) => e.status !== 'ok')]);
  const profiles = new Map<string, string>();
  for (const e of [...wanted].slice(0, MAX_PROFILES)) {
    const bundle = e.bundle!;
    const out = `${bundle}.svg`;
    try {
      const { profile } = await profileBundle(readInput(bundle, 'bundle'), { name: names[evals.indexOf(e)] });
      writeFileAtomic(out, renderProfile(profile, 'svg'));
      profiles.set(e.submission, relative(dirname(path), out));
    } catch (err) {
      // A bundle that cannot be profiled loses its link, never the report.
      process.stderr.write(`docklock: no profile for ${e.submission}: ${(err as Error).message}\n`);
    }
  }
  writeFileAtomic(path, new TextEncoder().encode(renderReport(evals, { names, profiles })));
}

/**
 * Loads the seccomp profile shipped in broker/seccomp/ once; the broker applies it to every
 * container as a JSON string (`SecurityOpt: seccomp=<json>`).
 *
 * The profile lives at `<package>/broker/seccomp/profile.json` in both layouts: next to this file
 * when the sources run (`broker/seccomp.ts`), and two levels up from the built file in an
 * installed package (`dist/broker/seccomp.js`; package.json `files` ships `broker/seccomp`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Errors } from './errors.ts';

/** Where the profile is, relative to this module: sources first, then the installed layout. */
const CANDIDATES = ['./seccomp/profile.json', '../../broker/seccomp/profile.json'];

let cached: string | undefined;

/**
 * Returns the shipped seccomp profile as compact JSON.
 * @returns the profile JSON text
 * @throws {BrokerError} `DL_ERR_BROKER_SECCOMP_MISSING` when no candidate holds a JSON profile (a packaging bug)
 */
export function seccompProfileJson(): string {
  if (cached !== undefined) return cached;
  const tried: string[] = [];
  for (const rel of CANDIDATES) {
    const url = new URL(rel, import.meta.url);
    tried.push(fileURLToPath(url));
    let text: string;
    try {
      text = readFileSync(url, 'utf8');
    } catch {
      continue;
    }
    try {
      cached = JSON.stringify(JSON.parse(text));
    } catch (cause) {
      throw Errors.seccompMissing(
        `the seccomp profile ${fileURLToPath(url)} is not JSON; reinstall docklock`,
        undefined,
        { cause },
      );
    }
    return cached;
  }
  throw Errors.seccompMissing(`the seccomp profile is missing (looked in ${tried.join(', ')}); reinstall docklock`);
}

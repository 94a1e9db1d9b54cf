/**
 * Loads the seccomp profile shipped in broker/seccomp/ once; the broker applies it to every
 * container as a JSON string (`SecurityOpt: seccomp=<json>`).
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/**
 * Returns the shipped seccomp profile as compact JSON.
 * @returns the profile JSON text
 * @throws {Error} when the profile file is missing or not JSON (a packaging bug)
 */
export function seccompProfileJson(): string {
  cached ??= JSON.stringify(JSON.parse(readFileSync(new URL('./seccomp/profile.json', import.meta.url), 'utf8')));
  return cached;
}

/** Writes a file so that readers see either nothing or the whole of it, never half a bundle. */
import { renameSync, writeFileSync } from 'node:fs';

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

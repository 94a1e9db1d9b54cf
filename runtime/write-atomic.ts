/** Writes a file so that readers see either nothing or the whole of it, never half a bundle. */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { InputError } from './errors.ts';

/**
 * @throws {InputError} `DL_ERR_CLI_OUTPUT_WRITE` when the file cannot be written or renamed into
 *   place (a full disk, a read-only or special file system); the temporary file is removed.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    // Flushed before the rename: after a crash the name holds the whole file or the old one.
    writeFileSync(tmp, bytes, { flush: true });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new InputError(
      'DL_ERR_CLI_OUTPUT_WRITE',
      `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { field: path },
      { cause: e },
    );
  }
}

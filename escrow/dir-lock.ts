/**
 * One process at a time owns an escrow data directory: the audit chain keeps its head in memory,
 * and two writers would fork it. The lock is a file created with O_EXCL holding the owner's pid;
 * a lock whose pid is gone (the owner was killed) is taken over, so kill -9 never wedges a
 * directory.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { EscrowError } from './errors.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the directory's lock; returns the function that releases it. */
export function lockDir(dataDir: string): () => void {
  const path = join(dataDir, 'lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (Number.isSafeInteger(owner) && owner > 0 && alive(owner))
        throw new EscrowError(
          'DL_ERR_ESCROW_BUSY',
          `the escrow in ${dataDir} is open in process ${owner}; stop it or act through it`,
          { field: 'dataDir' },
        );
      rmSync(path, { force: true });
    }
  }
  throw new EscrowError('DL_ERR_ESCROW_BUSY', `cannot take the lock ${path}`, { field: 'dataDir' });
}

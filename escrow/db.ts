/**
 * The escrow's one database: challenge state and escrow records share it so that applying a write
 * set and recording that it was applied are one transaction (exactly once across a crash).
 * node:sqlite in WAL mode; synchronous=FULL by default, so an acknowledged commit survives power
 * loss, or NORMAL (`durability: process`), which survives a killed process only (choice and
 * figures: bench/RESULTS.md, "Escrow").
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { EscrowError } from './errors.ts';

/** Bumped when the tables change; a database of another version is refused rather than misread. */
export const ESCROW_DB_VERSION = '1';

export function openEscrowDb(dataDir: string, durability: 'full' | 'process' = 'full'): DatabaseSync {
  let db: DatabaseSync;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    db = new DatabaseSync(join(dataDir, 'escrow.db'));
    db.exec(
      `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}; PRAGMA busy_timeout = 5000;`,
    );
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  } catch (err) {
    throw new EscrowError(
      'DL_ERR_ESCROW_STORE',
      `cannot open the escrow database in ${dataDir}: ${(err as Error).message}`,
      { field: 'dataDir' },
      { cause: err },
    );
  }
  const row = db.prepare("SELECT value FROM meta WHERE key = 'version'").get() as { value: string } | undefined;
  if (row === undefined) db.prepare("INSERT INTO meta VALUES ('version', ?)").run(ESCROW_DB_VERSION);
  else if (row.value !== ESCROW_DB_VERSION) {
    db.close();
    throw new EscrowError(
      'DL_ERR_ESCROW_STORE',
      `the escrow database in ${dataDir} is version ${row.value}; this docklock reads version ${ESCROW_DB_VERSION}`,
      { field: 'dataDir' },
    );
  }
  return db;
}

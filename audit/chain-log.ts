/**
 * Append-only, hash-chained log (JSONL), shared by the broker's audit trail and the escrow's
 * decisions. Each line is `{"hash":"<hex>","entry":<entry JSON>}` where `hash = BLAKE3(entry bytes)`
 * and the entry carries `seq` and `prev` (the previous line's hash; 64 zeros for the first).
 * Editing any byte of an entry, deleting or reordering lines breaks the chain; `verifyAuditFile`
 * finds the first break. Truncating the tail is only detectable against a head hash recorded
 * elsewhere (`expectHead`). Every append is fsync'd before its promise resolves.
 */
import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The genesis `prev` value. */
export const AUDIT_GENESIS = '0'.repeat(64);

/** A stored entry: the event plus the chain's own fields. */
export type ChainEntry<E extends object> = E & { seq: number; time: string; prev: string };

/** Result of verifying a log file. */
export interface AuditVerifyResult {
  ok: boolean;
  entries: number;
  head: string;
  /** 1-based line of the first problem. */
  line?: number;
  problem?: string;
}

const LINE = /^\{"hash":"([0-9a-f]{64})","entry":(.*)\}$/;
const encoder = new TextEncoder();

function hashEntry(entryJson: string): string {
  return bytesToHex(blake3(encoder.encode(entryJson)));
}

/**
 * Verifies an audit log's text.
 * @param text - the file contents
 * @param expectHead - optional head hash recorded elsewhere, to detect a truncated tail
 * @returns ok, count and head, or the first broken line and why
 */
export function verifyAuditText(text: string, expectHead?: string): AuditVerifyResult {
  let prev = AUDIT_GENESIS;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const [idx, line] of lines.entries()) {
    const fail = (problem: string): AuditVerifyResult => ({
      ok: false,
      entries: idx,
      head: prev,
      line: idx + 1,
      problem,
    });
    const m = LINE.exec(line);
    if (m === null) return fail('not an audit line');
    if (hashEntry(m[2]!) !== m[1]) return fail('hash does not match the entry (edited)');
    let entry: { seq?: unknown; prev?: unknown };
    try {
      entry = JSON.parse(m[2]!) as { seq?: unknown; prev?: unknown };
    } catch {
      return fail('entry is not JSON');
    }
    if (entry.seq !== idx) return fail(`expected seq ${idx}, found ${String(entry.seq)} (deleted or reordered)`);
    if (entry.prev !== prev) return fail('prev does not match the previous line (deleted or reordered)');
    prev = m[1]!;
  }
  if (expectHead !== undefined && expectHead !== prev) {
    return {
      ok: false,
      entries: lines.length,
      head: prev,
      line: lines.length,
      problem: `head ${prev} differs from the expected ${expectHead} (truncated?)`,
    };
  }
  return { ok: true, entries: lines.length, head: prev };
}

/**
 * Verifies an audit log file.
 * @param path - the JSONL file
 * @param expectHead - optional head hash to detect truncation
 * @returns the verification result
 * @example
 * const r = verifyAuditFile('/var/lib/docklock/audit.jsonl'); if (!r.ok) console.error(r.line, r.problem);
 */
export function verifyAuditFile(path: string, expectHead?: string): AuditVerifyResult {
  return verifyAuditText(readFileSync(path, 'utf8'), expectHead);
}

/** How a log reports its two failures, so each program keeps its own error class and status. */
export interface ChainLogErrors {
  chainBroken(message: string): Error;
  write(message: string, cause: unknown): Error;
  /**
   * An existing file that others could have written (group/world-writable, another owner, not a
   * regular file). When given, such a file is refused; without it only the creation modes apply.
   */
  insecure?(message: string): Error;
}

/** The log holds identities and request details: only its owner reads it. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** S_ISVTX: in a sticky directory only a file's owner may delete or rename it. */
const STICKY = 0o1000;

/**
 * An open log of events of type `E`. Appends keep their call order; each is written and fsync'd
 * before its promise resolves.
 */
export class ChainLog<E extends object> {
  #fh: FileHandle;
  readonly #errors: ChainLogErrors;
  #seq: number;
  #prev: string;
  #pending: { event: E; resolve: (e: ChainEntry<E>) => void; reject: (e: unknown) => void }[] = [];
  #flushing: Promise<void> | undefined;
  readonly path: string;

  protected constructor(path: string, fh: FileHandle, seq: number, prev: string, errors: ChainLogErrors) {
    this.#errors = errors;
    this.path = path;
    this.#fh = fh;
    this.#seq = seq;
    this.#prev = prev;
  }

  /**
   * Opens (or creates) a log, verifying the existing chain first: nothing extends a log that has
   * been tampered with.
   * @throws `errors.chainBroken(…)` when the existing file does not verify
   */
  static async openChain<E extends object>(path: string, errors: ChainLogErrors): Promise<ChainLog<E>> {
    const { fh, seq, prev } = await ChainLog.openFile(path, errors);
    return new ChainLog<E>(path, fh, seq, prev, errors);
  }

  /** Verifies an existing file and opens it for appending (for subclasses' own `open`). */
  protected static async openFile(
    path: string,
    errors: ChainLogErrors,
  ): Promise<{ fh: FileHandle; seq: number; prev: string }> {
    mkdirSync(dirname(path), { recursive: true, mode: DIR_MODE });
    if (errors.insecure !== undefined) {
      // Whoever may write the directory may delete or replace the log in it (unless the sticky
      // bit keeps them to their own files), so the directory is held to the file's standard.
      const dir = statSync(dirname(path));
      const uid = process.geteuid?.();
      if ((dir.mode & 0o022) !== 0 && (dir.mode & STICKY) === 0)
        throw errors.insecure(
          `the directory of audit log ${path} is group- or world-writable (mode ${(dir.mode & 0o777).toString(8)}); others could replace the log`,
        );
      if (uid !== undefined && dir.uid !== uid && dir.uid !== 0)
        throw errors.insecure(
          `the directory of audit log ${path} is owned by uid ${dir.uid}, who could replace the log; use a directory of this user or root`,
        );
    }
    // O_NOFOLLOW: a symlink planted at the path would point the log somewhere else. O_NONBLOCK: a
    // FIFO planted there fails the open instead of hanging the start (no effect on a regular file).
    const flags =
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;
    let fh: FileHandle;
    try {
      fh = await open(path, flags, FILE_MODE);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (errors.insecure !== undefined && (code === 'ELOOP' || code === 'ENXIO'))
        throw errors.insecure(`audit log ${path} is a symbolic link or a FIFO, not a regular file`);
      throw err;
    }
    let seq = 0;
    let prev = AUDIT_GENESIS;
    try {
      const st = await fh.stat();
      const uid = process.geteuid?.();
      if (errors.insecure !== undefined) {
        if (!st.isFile()) throw errors.insecure(`audit log ${path} is not a regular file`);
        if (uid !== undefined && st.uid !== uid)
          throw errors.insecure(
            `audit log ${path} is owned by uid ${st.uid}, not by this process (uid ${uid}); another user could have rewritten it`,
          );
        if ((st.mode & 0o022) !== 0)
          throw errors.insecure(
            `audit log ${path} is group- or world-writable (mode ${(st.mode & 0o777).toString(8)}); fix with chmod 600 after checking it`,
          );
      }
      // Ours and not writable by others, but possibly readable (a file from before 0600): narrow it.
      if ((st.mode & 0o077) !== 0 && (uid === undefined || st.uid === uid)) await fh.chmod(FILE_MODE);
      if (st.size > 0) {
        const r = verifyAuditFile(path);
        if (!r.ok) throw errors.chainBroken(`audit log ${path} does not verify at line ${r.line}: ${r.problem}`);
        seq = r.entries;
        prev = r.head;
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    return { fh, seq, prev };
  }

  /** Hash of the last entry. */
  get head(): string {
    return this.#prev;
  }

  /**
   * Appends an event. Appends made while a write is being synced go out together in the next
   * write and share its fsync (group commit): each promise still resolves only once its own entry
   * is on disk, and the chain order is the order of the calls.
   * @returns the stored entry
   * @throws `errors.write(…)` when the write or fsync fails
   */
  append(event: E): Promise<ChainEntry<E>> {
    return new Promise<ChainEntry<E>>((resolve, reject) => {
      this.#pending.push({ event, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      let seq = this.#seq;
      let prev = this.#prev;
      const time = new Date().toISOString();
      const entries: ChainEntry<E>[] = [];
      let text = '';
      for (const { event } of batch) {
        const entry: ChainEntry<E> = { seq, time, prev, ...event };
        const json = JSON.stringify(entry);
        const hash = hashEntry(json);
        text += `{"hash":"${hash}","entry":${json}}\n`;
        entries.push(entry);
        seq++;
        prev = hash;
      }
      try {
        await this.#fh.write(text);
        await this.#fh.sync();
      } catch (cause) {
        const err = this.#errors.write(`cannot append to audit log ${this.path}: ${(cause as Error).message}`, cause);
        for (const p of batch) p.reject(err);
        continue;
      }
      this.#seq = seq;
      this.#prev = prev;
      batch.forEach((p, i) => p.resolve(entries[i]!));
    }
    this.#flushing = undefined;
  }

  /** Reads back every entry. */
  async entries(): Promise<ChainEntry<E>[]> {
    await this.#flushing;
    const text = readFileSync(this.path, 'utf8');
    return text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => (JSON.parse(l) as { entry: ChainEntry<E> }).entry);
  }

  /** Flushes pending appends and closes the file. */
  async close(): Promise<void> {
    await this.#flushing;
    await this.#fh.close();
  }
}

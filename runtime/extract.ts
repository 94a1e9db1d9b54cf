/**
 * Writes a run's outputs (guest path → bytes: `/output` and every writable directory) into a host
 * directory that mirrors the guest tree: `/output/a.txt` becomes `DIR/output/a.txt`. Used by
 * `docklock run --output-dir` and `docklock extract`.
 *
 * Nothing lands outside DIR: every guest path is checked component by component (no `.`, `..`,
 * empty or NUL components), and no directory on the way may be a symbolic link, so a link planted
 * in DIR cannot redirect a write. Existing files are refused unless `force` is set, all of them
 * before anything is written. Each file is written to a temporary name beside it and renamed into
 * place, so a reader never sees half a file.
 */
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from './errors.ts';

export interface ExtractOptions {
  /** Overwrite files that already exist. */
  force?: boolean;
  /** The flag or argument that named DIR, for error messages. */
  field?: string;
}

/** Longest name one directory entry may have on Linux, macOS and Windows file systems (NAME_MAX). */
const NAME_MAX_BYTES = 255;

const utf8 = new TextEncoder();

/** A guest path short enough for a one-line message. */
function shown(guestPath: string): string {
  return JSON.stringify(guestPath.length > 80 ? `${guestPath.slice(0, 60)}…${guestPath.slice(-12)}` : guestPath);
}

function partsOf(guestPath: string, field: string): string[] {
  const parts = guestPath.split('/').slice(1);
  if (!guestPath.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
    throw new InputError(
      'DL_ERR_CLI_OUTPUT_PATH',
      `output ${shown(guestPath)} is not a plain absolute guest path; nothing was written`,
      { field },
    );
  }
  // The guest's own file system allows longer names; the host's refuses them with ENAMETOOLONG,
  // which found mid-way would leave the outputs before it written.
  const long = parts.find((p) => utf8.encode(p).length > NAME_MAX_BYTES);
  if (long !== undefined) {
    throw new InputError(
      'DL_ERR_CLI_OUTPUT_PATH',
      `output ${shown(guestPath)} has a name of ${utf8.encode(long).length} bytes, over the ${NAME_MAX_BYTES} a host file system takes; nothing was written`,
      { field },
    );
  }
  return parts;
}

/**
 * Creates `dir` and its missing parents one by one. Node's `mkdirSync(…, { recursive: true })`
 * retries forever where mkdir answers ENOENT under an existing parent (`/proc/x`): here that is
 * an error like any other.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let at = dir; lstatSync(at, { throwIfNoEntry: false }) === undefined; at = dirname(at)) {
    missing.push(at);
    if (dirname(at) === at) break;
  }
  for (const d of missing.reverse()) mkdirSync(d);
}

/** The kind of whatever is at `path` without following a link, or undefined. */
function kindAt(path: string): 'dir' | 'file' | 'link' | 'other' | undefined {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return undefined;
  return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
}

/**
 * Writes `outputs` under `dir` (created if missing).
 * @returns the host paths written, in guest-path order
 * @throws {InputError} `DL_ERR_CLI_OUTPUT_EXISTS` when a file exists and `force` is not set,
 *   `DL_ERR_CLI_OUTPUT_PATH` when a path would leave `dir` or `dir` cannot be made (nothing
 *   written), `DL_ERR_CLI_OUTPUT_WRITE` when a file fails while being written (the ones before it stay)
 */
export function writeOutputs(
  outputs: ReadonlyMap<string, Uint8Array>,
  dir: string,
  options: ExtractOptions = {},
): string[] {
  const field = options.field ?? 'dir';
  if (dir === '')
    throw new InputError('DL_ERR_CLI_OUTPUT_PATH', 'the directory to write into is an empty path', { field });
  const root = resolve(dir);
  let rootStat;
  try {
    rootStat = statSync(root, { throwIfNoEntry: false });
  } catch (e) {
    throw new InputError(
      'DL_ERR_CLI_OUTPUT_PATH',
      `${root} cannot be written into (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { field },
    );
  }
  if (rootStat !== undefined && !rootStat.isDirectory())
    throw new InputError('DL_ERR_CLI_OUTPUT_PATH', `${root} is not a directory; nothing was written`, { field });
  const plan = [...outputs.keys()].sort().map((g) => ({ guest: g, parts: partsOf(g, field) }));
  // Check everything first: a refused run writes nothing.
  for (const { guest, parts } of plan) {
    let at = root;
    for (let i = 0; i < parts.length; i++) {
      at = join(at, parts[i]!);
      const kind = kindAt(at);
      const last = i === parts.length - 1;
      if (kind === undefined) break;
      if (kind === 'link')
        throw new InputError(
          'DL_ERR_CLI_OUTPUT_PATH',
          `${at} is a symbolic link; ${guest} will not be written through it`,
          { field },
        );
      if (!last && kind !== 'dir')
        throw new InputError('DL_ERR_CLI_OUTPUT_PATH', `${at} is in the way of ${guest} (not a directory)`, { field });
      if (last && kind !== 'file')
        throw new InputError('DL_ERR_CLI_OUTPUT_PATH', `${at} is in the way of ${guest} (not a regular file)`, {
          field,
        });
      if (last && options.force !== true)
        throw new InputError('DL_ERR_CLI_OUTPUT_EXISTS', `${at} already exists; pass --force to overwrite it`, {
          field,
        });
    }
  }
  const written: string[] = [];
  if (plan.length === 0) return written;
  try {
    makeDirs(root);
  } catch (e) {
    throw new InputError(
      'DL_ERR_CLI_OUTPUT_PATH',
      `${root} cannot be created (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); nothing was written`,
      { field },
    );
  }
  let serial = 0;
  for (const { guest, parts } of plan) {
    let at = root;
    try {
      for (const p of parts.slice(0, -1)) {
        at = join(at, p);
        if (kindAt(at) === undefined) mkdirSync(at);
        if (kindAt(at) !== 'dir') throw new Error(`${at} is not a directory`);
      }
      const target = join(at, parts[parts.length - 1]!);
      const tmp = join(at, `.docklock-${process.pid}-${serial++}.tmp`);
      const fd = openSync(tmp, 'wx', 0o644);
      try {
        try {
          const data = outputs.get(guest)!;
          let off = 0;
          while (off < data.length) off += writeSync(fd, data, off, data.length - off);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, target);
      } catch (e) {
        // A full disk fails the write, not only the rename: no half file is left behind.
        rmSync(tmp, { force: true });
        throw e;
      }
      written.push(target);
    } catch (e) {
      // Found only while writing (a full disk, a read-only mount): what was written stays.
      const done =
        written.length === 0 ? 'nothing was written' : `${written.length} of ${plan.length} written before it`;
      throw new InputError(
        'DL_ERR_CLI_OUTPUT_WRITE',
        `cannot write ${shown(guest)} under ${root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; ${done}`,
        { field },
        { cause: e },
      );
    }
  }
  return written;
}

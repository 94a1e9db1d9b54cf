/** Small I/O helpers shared by the CLI commands: reading inputs, printing, coded failures. */
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CommanderError } from 'commander';
import { DocklockError, InputError } from '../errors/index.ts';
import { readBounded } from '../runtime/read-bounded.ts';

/** Exit codes of the cage commands (README, "Exit codes"). */
export const EXIT = { ok: 0, mismatch: 1, usage: 2, trap: 125 } as const;

/**
 * Largest file or stream the CLI reads whole: 1 GiB, what a bundle's payload may hold
 * (DEFAULT_MAX_BUNDLE_BYTES), so nothing larger could be recorded or replayed anyway.
 */
export const MAX_READ_BYTES = 2 ** 30;

/**
 * Reads a file, or stdin for `-`, up to {@link MAX_READ_BYTES}; a missing file is a coded usage
 * error. Streams are read in chunks against the cap, so an endless one (`--stdin /dev/zero`,
 * `yes | docklock run …`) ends in a coded error instead of exhausting memory.
 */
export function readInput(path: string, what: string): Uint8Array {
  return readBounded(path, what, MAX_READ_BYTES, 'the most a bundle can hold');
}

/**
 * The guest's stdin when no `--stdin` is given: our own stdin when it is a pipe from a shell
 * (`cat data | docklock run …`) or a redirected file (`< data`), captured whole into the bundle;
 * empty for a terminal, /dev/null or the socket a parent program's spawn() gives, so a program
 * that starts docklock without closing its stdin never hangs it.
 */
export function defaultStdin(): Uint8Array {
  let st;
  try {
    st = fstatSync(0);
  } catch {
    return new Uint8Array(0);
  }
  return st.isFIFO() || st.isFile() ? readInput('-', 'stdin') : new Uint8Array(0);
}

/**
 * Checks, before any work is done, that a file can be written at `path` (its folder exists and
 * is writable, and `path` is nothing but a regular file if it exists): a run must not end in an
 * error after the guest ran.
 */
export function assertWritableFile(path: string, flag: string): void {
  const full = resolve(path);
  let problem: string | undefined;
  try {
    const st = statSync(full, { throwIfNoEntry: false });
    if (st?.isDirectory()) problem = 'is a directory';
    // The file is written under a temporary name and renamed over the path: over /dev/null or a
    // FIFO that would replace the device or pipe itself with a regular file.
    else if (st !== undefined && !st.isFile())
      problem = 'is not a regular file (a device, pipe or socket would be replaced by the file, not written to)';
    else {
      if (!statSync(dirname(full)).isDirectory()) problem = 'is not inside a directory';
      else accessSync(dirname(full), constants.W_OK);
    }
  } catch (e) {
    problem = `cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} on ${dirname(full)})`;
  }
  if (problem !== undefined)
    throw new InputError('DL_ERR_CLI_OUTPUT_PATH', `${flag} ${path} ${problem}`, { field: flag });
}

/** Like {@link assertWritableFile} for a folder that files will be written into (created if missing). */
export function assertWritableDir(path: string, flag: string): void {
  try {
    if (statSync(path, { throwIfNoEntry: false }) === undefined) {
      // One level at a time: mkdirSync's recursive mode loops forever where mkdir answers ENOENT
      // under an existing parent (`/proc/x`), as runtime/extract.ts makeDirs explains.
      const missing: string[] = [];
      for (let at = resolve(path); statSync(at, { throwIfNoEntry: false }) === undefined; at = dirname(at))
        missing.push(at);
      for (const d of missing.reverse()) mkdirSync(d);
    }
    if (!statSync(path).isDirectory())
      throw new InputError('DL_ERR_CLI_OUTPUT_PATH', `${flag} ${path} is not a directory`, { field: flag });
    accessSync(path, constants.W_OK);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(
      'DL_ERR_CLI_OUTPUT_PATH',
      `${flag} ${path} cannot be written into (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { field: flag },
    );
  }
}

/**
 * Checks, before the guest runs, the folders under `dir` that outputs will be written into (one
 * per output root: `/output` → `dir/output`, a writable `/` → `dir` itself): each part that
 * exists must be a real directory, not a symbolic link or a file, and the deepest one writable.
 * writeOutputs refuses the same after the run; checking here means a planted link or a read-only
 * folder ends the command before any work, with the same coded error, instead of after the guest
 * ran. What only writing can find (a name taken, a full disk) is reported after the result.
 * @param roots - absolute guest paths of the output roots
 */
export function assertOutputRoots(dir: string, roots: readonly string[], flag: string): void {
  const base = resolve(dir);
  for (const root of roots) {
    let at = base;
    // The deepest folder that exists is where the outputs' files or folders will be made.
    let deepest = base;
    for (const part of root.split('/').filter((p) => p !== '')) {
      at = join(at, part);
      const st = lstatSync(at, { throwIfNoEntry: false });
      if (st === undefined) break;
      if (st.isSymbolicLink())
        throw new InputError(
          'DL_ERR_CLI_OUTPUT_PATH',
          `${at} is a symbolic link; ${root} will not be written through it`,
          { field: flag },
        );
      if (!st.isDirectory())
        throw new InputError('DL_ERR_CLI_OUTPUT_PATH', `${at} is in the way of ${root} (not a directory)`, {
          field: flag,
        });
      deepest = at;
    }
    try {
      accessSync(deepest, constants.W_OK);
    } catch (e) {
      throw new InputError(
        'DL_ERR_CLI_OUTPUT_PATH',
        `${deepest} cannot be written into (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${root} would not be written`,
        { field: flag },
      );
    }
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

/**
 * Runs a command body; a `DocklockError` becomes a one-line message (or a JSON error object) and
 * exit code 2. Anything else is our bug and keeps its stack.
 */
export async function guarded(json: boolean, body: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await body();
  } catch (e) {
    if (!(e instanceof DocklockError)) throw e;
    writeError(e, json);
    // Broker errors say whether the operation was refused (exit 1) or the command was wrong (2).
    const exit = (e as { exitCode?: unknown }).exitCode;
    code = typeof exit === 'number' ? exit : EXIT.usage;
  }
  process.exitCode = code;
  // Let stdout drain; the process exits when the event loop is empty.
  return undefined as never;
}

/** Prints a coded error: one line on stderr, or a JSON error object on stdout with --json. */
export function writeError(e: DocklockError, json: boolean): void {
  if (json) printJson({ error: e.toJSON() });
  else
    process.stderr.write(
      `docklock: ${e.code}: ${e.message}${e.where?.field && !e.message.includes(e.where.field) ? ` (${e.where.field})` : ''}\n`,
    );
}

/** A commander parse failure as a coded usage error naming the flag or argument at fault. */
export function usageError(e: CommanderError): InputError {
  const message = e.message.replace(/^error: /, '').replace(/\n[\s\S]*$/, '');
  const flag = /'(--?[A-Za-z0-9-]+)/.exec(message)?.[1];
  return new InputError('DL_ERR_CLI_USAGE', `${message} (see --help)`, flag !== undefined ? { field: flag } : {});
}

/**
 * A reader that went away (`docklock inspect b.dlb | head`) closes our stdout: stop writing to it
 * quietly and let the command finish, so a run still writes its bundle and exits with its own status.
 * Any other write failure (a full disk, EIO) also stops the writing and lets the command finish,
 * but the printed output is incomplete: the command then ends with one coded line on stderr
 * (`DL_ERR_CLI_WRITE`) and exit status 2, instead of an uncaught exception.
 */
export function quietOnClosedPipes(): void {
  const failed: { name: string; code: string }[] = [];
  const report = (): void => {
    for (const f of failed) {
      if (f.name === 'stderr') continue;
      try {
        writeSync(
          2,
          `docklock: DL_ERR_CLI_WRITE: cannot write to ${f.name} (${f.code}); what the command printed there is incomplete\n`,
        );
      } catch {
        // stderr is gone too: the exit status still tells.
      }
    }
    process.exitCode = EXIT.usage;
  };
  const quiet = (stream: NodeJS.WriteStream, name: string): void => {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      stream.write = (() => true) as typeof stream.write;
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
      if (failed.length === 0) process.once('exit', report);
      failed.push({ name, code: e.code ?? e.message });
    });
  };
  // Node makes each stream on first use, loading the stream machinery (a few ms); a command that
  // never writes (a run with no output) should not pay for it. So the handler goes on when the
  // stream is made: the getter is wrapped, and replaced by the stream itself on first read.
  for (const name of ['stdout', 'stderr'] as const) {
    const d = Object.getOwnPropertyDescriptor(process, name);
    if (d?.get === undefined || d.configurable !== true) {
      quiet(process[name], name);
      continue;
    }
    const make = d.get;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: d.enumerable ?? true,
      get() {
        const stream = make.call(process) as NodeJS.WriteStream;
        Object.defineProperty(process, name, { configurable: true, enumerable: d.enumerable ?? true, get: make });
        quiet(stream, name);
        return stream;
      },
    });
  }
}

/**
 * Rows as a fixed-width text table: columns two spaces apart, each as wide as its widest cell,
 * left-aligned unless listed in `rightAligned` (numbers); trailing spaces trimmed, one row a line.
 */
export function renderTable(
  rows: readonly (readonly string[])[],
  rightAligned: ReadonlySet<number> = new Set(),
): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: readonly string[]): string =>
    r
      .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return rows.map((r) => `${line(r)}\n`).join('');
}

/** Commander reducer for repeatable options. */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** `--env K=V` flags as a map; a flag without `=` (or with an empty name) is a coded usage error. */
export function parseEnvFlags(flags: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of flags) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new InputError('DL_ERR_CLI_ENV', `--env takes K=V, got "${kv}"`, { field: '--env' });
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

/**
 * The guest's file-descriptor table. Descriptors are handed out lowest-free-first (POSIX style),
 * so the numbers a guest sees depend only on what it did, never on what ran before.
 */
import type { DirNode, FileNode } from './fs.ts';
import type { OutputCapture } from './output.ts';

export type FdEntry =
  | { kind: 'stdin' }
  | { kind: 'out'; capture: OutputCapture }
  | { kind: 'file'; node: FileNode; pos: number; append: boolean; read: boolean; write: boolean }
  | { kind: 'dir'; node: DirNode; preopen: string | undefined };

/** The maximum number of open descriptors (ERRNO_MFILE beyond). */
export const MAX_FDS = 1024;

export class FdTable {
  readonly #fds: (FdEntry | undefined)[] = [];

  get(fd: number): FdEntry | undefined {
    return this.#fds[fd];
  }

  /** Places `entry` at the lowest free descriptor; `undefined` when the table is full. */
  open(entry: FdEntry): number | undefined {
    for (let fd = 0; fd < MAX_FDS; fd++) {
      if (this.#fds[fd] === undefined) {
        this.#fds[fd] = entry;
        return fd;
      }
    }
    return undefined;
  }

  close(fd: number): boolean {
    if (this.#fds[fd] === undefined) return false;
    this.#fds[fd] = undefined;
    return true;
  }

  /** Moves `from` onto `to`, closing whatever `to` was. */
  renumber(from: number, to: number): boolean {
    const e = this.#fds[from];
    if (e === undefined || this.#fds[to] === undefined) return false;
    this.#fds[to] = e;
    this.#fds[from] = undefined;
    return true;
  }
}

/**
 * The guest's file-descriptor table. Descriptors are handed out lowest-free-first (POSIX style),
 * so the numbers a guest sees depend only on what it did, never on what ran before.
 */
import type { DirNode, FileNode } from './fs.ts';
import type { OutputCapture } from './output.ts';

/**
 * `dropped`: rights the guest gave up with `fd_fdstat_set_rights` (base), `droppedInheriting` the
 * same for inheriting rights; `fdflags`: the SYNC/DSYNC/RSYNC/NONBLOCK flags it set (APPEND is
 * `append`). Absent means none.
 */
interface FdCommon {
  dropped?: bigint;
  droppedInheriting?: bigint;
}

export type FdEntry =
  | ({ kind: 'stdin' } & FdCommon)
  | ({ kind: 'out'; capture: OutputCapture } & FdCommon)
  | ({
      kind: 'file';
      node: FileNode;
      pos: number;
      append: boolean;
      read: boolean;
      write: boolean;
      fdflags?: number;
    } & FdCommon)
  | ({ kind: 'dir'; node: DirNode; preopen: string | undefined } & FdCommon);

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

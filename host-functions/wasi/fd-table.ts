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
  /** Told when a descriptor on a file closes (the file's bytes may go: spec/wasi.md#W10). */
  readonly #closed: (f: FileNode) => void;

  constructor(closed: (f: FileNode) => void = () => {}) {
    this.#closed = closed;
  }

  #release(e: FdEntry): void {
    if (e.kind === 'file') this.#closed(e.node);
  }

  get(fd: number): FdEntry | undefined {
    return this.#fds[fd];
  }

  /** Places `entry` at the lowest free descriptor; `undefined` when the table is full. */
  open(entry: FdEntry): number | undefined {
    for (let fd = 0; fd < MAX_FDS; fd++) {
      if (this.#fds[fd] === undefined) {
        this.#fds[fd] = entry;
        if (entry.kind === 'file') entry.node.opens++;
        return fd;
      }
    }
    return undefined;
  }

  close(fd: number): boolean {
    const e = this.#fds[fd];
    if (e === undefined) return false;
    this.#fds[fd] = undefined;
    this.#release(e);
    return true;
  }

  /**
   * Moves `from` onto `to`, closing whatever `to` was. `from === to` closes it: every level has
   * answered so, and a replay must see the same.
   */
  renumber(from: number, to: number): boolean {
    const e = this.#fds[from];
    const old = this.#fds[to];
    if (e === undefined || old === undefined) return false;
    this.#fds[to] = e;
    this.#fds[from] = undefined;
    this.#release(from === to ? e : old);
    return true;
  }
}

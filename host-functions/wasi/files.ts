/**
 * WASI preview1 descriptor and path functions (`fd_*`, `path_*`) over the in-memory tree
 * (spec: spec/wasi.md#W3). They return errno values and never throw, except `GuestFault`
 * (turned into ERRNO_FAULT by the host-call wrapper) and the run-ending output limit.
 */
import {
  ERRNO,
  FDFLAGS,
  FILETYPE,
  FSTFLAGS,
  RIGHTS,
  RIGHTS_DIR,
  RIGHTS_DIR_V0,
  RIGHTS_FILE,
  RIGHTS_STDIO,
  RIGHTS_WRITE,
  SIZE,
  WHENCE,
} from './defs.ts';
import type { FdEntry, FdTable } from './fd-table.ts';
import { QuotaExceeded, resizeFile } from './fs.ts';
import type { FileNode, FileTree, Node } from './fs.ts';
import { resolvePath } from './resolve.ts';
import type { Resolved } from './resolve.ts';
import { pathFunctions } from './paths.ts';
import { Struct } from '../../runtime/store.ts';
import type { GuestMemory } from '../../runtime/store.ts';

/** What the file functions share with the rest of WASI. */
export interface FileState {
  mem: GuestMemory;
  fds: FdTable;
  tree: FileTree;
  stdin: Uint8Array;
  stdinPos: number;
  /** Quotas whose overflow ends the run (output) instead of returning ERRNO_NOSPC (scratch). */
  onQuotaExceeded: (e: QuotaExceeded) => number;
  /**
   * WASI ABI level (spec/wasi.md#W6): 0 replays bundles recorded before the fixes of issue 12
   * with the answers they saw; 3 is every new run (1 and 2 answer WASI as 3 does; the `nested`
   * group's billing of a trapping start function and the `memory_limit` rule differ).
   */
  level: number;
  /** "Now" for `*_NOW` timestamps: the virtual realtime clock, read without advancing it. */
  now: () => bigint;
}

/** The current WASI ABI level (spec/wasi.md#W6). */
export const WASI_LEVEL = 5;

const IOV_MAX = 1024;

const PATH_MAX = 4096;
const utf8 = new TextEncoder();

function readIovecs(mem: GuestMemory, iovs: number, n: number): { ptr: number; len: number }[] | number {
  if (n > IOV_MAX) return ERRNO.INVAL;
  mem.check(iovs, n * SIZE.iovec);
  const out: { ptr: number; len: number }[] = [];
  for (let i = 0; i < n; i++) {
    const ptr = mem.u32(iovs + i * 8);
    const len = mem.u32(iovs + i * 8 + 4);
    mem.check(ptr, len);
    out.push({ ptr, len });
  }
  return out;
}

export function filetype(n: Node): number {
  return n.kind === 'dir' ? FILETYPE.DIRECTORY : n.kind === 'symlink' ? FILETYPE.SYMBOLIC_LINK : FILETYPE.REGULAR_FILE;
}

export function writeFilestat(mem: GuestMemory, ptr: number, n: Node): void {
  // dev 0, per-run ino, links, size, and only the times the guest set itself (ctim stays 0): no
  // host time ever leaks in. At level 0 no link or time can exist, so this answers as it did.
  const size = n.kind === 'file' ? n.size : n.kind === 'symlink' ? utf8.encode(n.target).length : 0;
  const s = new Struct(SIZE.filestat)
    .u64(8, n.ino)
    .u8(16, filetype(n))
    .u64(24, BigInt(n.kind === 'file' ? n.nlink : 1))
    .u64(32, BigInt(size))
    .u64(40, n.atim)
    .u64(48, n.mtim);
  mem.write(ptr, s.bytes);
}

/**
 * New access and modification times from `fst_flags` (spec/wasi.md#W3): contradictory or
 * unknown flags are ERRNO_INVAL; `*_NOW` is the virtual clock.
 */
export function setTimes(st: FileState, n: Node, atim: bigint, mtim: bigint, flags: number): number {
  if (flags & ~0xf) return ERRNO.INVAL;
  if ((flags & FSTFLAGS.ATIM && flags & FSTFLAGS.ATIM_NOW) || (flags & FSTFLAGS.MTIM && flags & FSTFLAGS.MTIM_NOW))
    return ERRNO.INVAL;
  if (n.readonly) return ERRNO.ROFS;
  if (flags & FSTFLAGS.ATIM) n.atim = atim;
  else if (flags & FSTFLAGS.ATIM_NOW) n.atim = st.now();
  if (flags & FSTFLAGS.MTIM) n.mtim = mtim;
  else if (flags & FSTFLAGS.MTIM_NOW) n.mtim = st.now();
  return ERRNO.SUCCESS;
}

/** Resolves a guest path relative to a directory descriptor; no component may climb above it. */
export function resolve(
  st: FileState,
  dirFd: number,
  pathPtr: number,
  pathLen: number,
  followLast = false,
): Resolved | number {
  const dir = st.fds.get(dirFd);
  if (dir === undefined) return ERRNO.BADF;
  if (dir.kind !== 'dir') return ERRNO.NOTDIR;
  if (pathLen > PATH_MAX) return ERRNO.NAMETOOLONG;
  const path = st.mem.string(pathPtr, pathLen);
  if (path === null) return ERRNO.ILSEQ;
  return resolvePath(dir.node, path, followLast);
}

/** Whether the descriptor may read / write: opened so, and the right not dropped since. */
export function canRead(e: Extract<FdEntry, { kind: 'file' }>): boolean {
  return e.read && ((e.dropped ?? 0n) & RIGHTS.FD_READ) === 0n;
}
function canWrite(e: Extract<FdEntry, { kind: 'file' }>): boolean {
  return e.write && ((e.dropped ?? 0n) & RIGHTS.FD_WRITE) === 0n;
}

/** A descriptor's [base, inheriting] rights before any the guest dropped. */
function fullRights(e: FdEntry, level: number): [bigint, bigint] {
  if (e.kind === 'stdin' || e.kind === 'out') return [RIGHTS_STDIO, 0n];
  if (e.kind === 'file') {
    let rights = RIGHTS_FILE;
    if (!e.read) rights &= ~RIGHTS.FD_READ;
    if (!e.write || e.node.readonly) rights &= ~RIGHTS_WRITE;
    return [rights, 0n];
  }
  // Inheriting rights stay full even under a read-only directory: the writable /output and
  // /tmp are reached through the read-only root, and wasi-libc masks what it asks for by
  // these. Read-only nodes are enforced by path_open (ERRNO_ROFS) instead.
  const dir = level === 0 ? RIGHTS_DIR_V0 : RIGHTS_DIR;
  return [e.node.readonly ? dir & ~RIGHTS_WRITE : dir, dir | RIGHTS_FILE];
}

function fileFd(st: FileState, fd: number): Extract<FdEntry, { kind: 'file' }> | number {
  const e = st.fds.get(fd);
  if (e === undefined) return ERRNO.BADF;
  if (e.kind === 'dir') return ERRNO.ISDIR;
  if (e.kind !== 'file') return ERRNO.SPIPE;
  return e;
}

/** Copies from a file into iovecs at `pos`; returns bytes read. */
function readInto(mem: GuestMemory, f: FileNode, pos: number, iovs: { ptr: number; len: number }[]): number {
  let total = 0;
  for (const v of iovs) {
    if (pos >= f.size) break;
    const n = Math.min(v.len, f.size - pos);
    mem.write(v.ptr, f.data.subarray(pos, pos + n));
    pos += n;
    total += n;
  }
  return total;
}

function writeFrom(mem: GuestMemory, f: FileNode, pos: number, iovs: { ptr: number; len: number }[]): number {
  let total = 0;
  for (const v of iovs) total += v.len;
  if (pos + total > f.size) resizeFile(f, pos + total);
  for (const v of iovs) {
    f.data.set(mem.bytes(v.ptr, v.len), pos);
    pos += v.len;
  }
  return total;
}

/** The `fd_*` and `path_*` functions, keyed by their WASI names. */
/** The `fd_*` and `path_*` functions; the return type is inferred, so its keys are the names they are imported by. */
export function fileFunctions(st: FileState) {
  const { mem, fds } = st;
  const guarded = (f: () => number): number => {
    try {
      return f();
    } catch (e) {
      if (e instanceof QuotaExceeded) return st.onQuotaExceeded(e);
      throw e;
    }
  };

  return {
    fd_advise(fd: number, _offset: bigint, _len: bigint, advice: number): number {
      const e = fileFd(st, fd);
      if (typeof e === 'number') return e;
      return advice > 5 ? ERRNO.INVAL : ERRNO.SUCCESS;
    },
    fd_allocate(fd: number, offset: bigint, len: bigint): number {
      const e = fileFd(st, fd);
      if (typeof e === 'number') return e;
      if (!canWrite(e)) return ERRNO.BADF;
      const end = offset + len;
      if (end > BigInt(Number.MAX_SAFE_INTEGER)) return ERRNO.FBIG;
      return guarded(() => {
        if (Number(end) > e.node.size) resizeFile(e.node, Number(end));
        return ERRNO.SUCCESS;
      });
    },
    fd_close(fd: number): number {
      return fds.close(fd) ? ERRNO.SUCCESS : ERRNO.BADF;
    },
    fd_datasync(fd: number): number {
      return fds.get(fd) === undefined ? ERRNO.BADF : ERRNO.SUCCESS;
    },
    fd_sync(fd: number): number {
      return fds.get(fd) === undefined ? ERRNO.BADF : ERRNO.SUCCESS;
    },
    fd_fdstat_get(fd: number, ptr: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      const [base, inheriting] = fullRights(e, st.level);
      const s = new Struct(SIZE.fdstat)
        .u64(8, base & ~(e.dropped ?? 0n))
        .u64(16, inheriting & ~(e.droppedInheriting ?? 0n));
      if (e.kind === 'stdin' || e.kind === 'out') {
        // Never a terminal (spec/wasi.md#W7): wasi-libc's isatty wants a character device, so
        // level 1 reports the captured streams as UNKNOWN, as wasmtime does for pipes.
        s.u8(0, st.level === 0 ? FILETYPE.CHARACTER_DEVICE : FILETYPE.UNKNOWN);
      } else if (e.kind === 'file') {
        s.u8(0, FILETYPE.REGULAR_FILE).u16(2, (e.append ? FDFLAGS.APPEND : 0) | (e.fdflags ?? 0));
      } else {
        s.u8(0, FILETYPE.DIRECTORY);
      }
      mem.write(ptr, s.bytes);
      return ERRNO.SUCCESS;
    },
    fd_fdstat_set_flags(fd: number, flags: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      if (e.kind !== 'file') return flags === 0 ? ERRNO.SUCCESS : ERRNO.NOTSUP;
      if (flags & ~(FDFLAGS.APPEND | FDFLAGS.DSYNC | FDFLAGS.RSYNC | FDFLAGS.SYNC | FDFLAGS.NONBLOCK))
        return ERRNO.INVAL;
      e.append = (flags & FDFLAGS.APPEND) !== 0;
      // Writes are synchronous in memory anyway; the flags are kept so fdstat reports them.
      if (st.level > 0) e.fdflags = flags & ~FDFLAGS.APPEND;
      return ERRNO.SUCCESS;
    },
    fd_fdstat_set_rights(fd: number, base: bigint, inheriting: bigint): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      if (st.level === 0) return ERRNO.NOTSUP;
      // Rights can only be dropped, never regained (preview1 `fd_fdstat_set_rights`).
      const [fullBase, fullInheriting] = fullRights(e, st.level);
      const haveBase = fullBase & ~(e.dropped ?? 0n);
      const haveInheriting = fullInheriting & ~(e.droppedInheriting ?? 0n);
      if ((base & ~haveBase) !== 0n || (inheriting & ~haveInheriting) !== 0n) return ERRNO.NOTCAPABLE;
      e.dropped = fullBase & ~base;
      e.droppedInheriting = fullInheriting & ~inheriting;
      return ERRNO.SUCCESS;
    },
    fd_filestat_get(fd: number, ptr: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      if (e.kind === 'file' || e.kind === 'dir') writeFilestat(mem, ptr, e.node);
      else
        mem.write(
          ptr,
          new Struct(SIZE.filestat).u8(16, st.level === 0 ? FILETYPE.CHARACTER_DEVICE : FILETYPE.UNKNOWN).u64(24, 1n)
            .bytes,
        );
      return ERRNO.SUCCESS;
    },
    fd_filestat_set_size(fd: number, size: bigint): number {
      const e = fileFd(st, fd);
      if (typeof e === 'number') return e;
      if (!canWrite(e)) return ERRNO.BADF;
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) return ERRNO.FBIG;
      return guarded(() => {
        resizeFile(e.node, Number(size));
        return ERRNO.SUCCESS;
      });
    },
    fd_filestat_set_times(fd: number, atim: bigint, mtim: bigint, flags: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      // Level 0 accepted everything and kept nothing (bundles recorded then must replay).
      if (st.level === 0) return e.kind === 'file' && e.node.readonly ? ERRNO.ROFS : ERRNO.SUCCESS;
      if (e.kind !== 'file' && e.kind !== 'dir') return ERRNO.BADF;
      return setTimes(st, e.node, atim, mtim, flags);
    },
    fd_pread(fd: number, iovsPtr: number, iovsLen: number, offset: bigint, nreadPtr: number): number {
      const e = fileFd(st, fd);
      if (typeof e === 'number') return e;
      if (!canRead(e)) return ERRNO.BADF;
      const iovs = readIovecs(mem, iovsPtr, iovsLen);
      if (typeof iovs === 'number') return iovs;
      mem.check(nreadPtr, 4);
      const pos = offset > BigInt(e.node.size) ? e.node.size : Number(offset);
      mem.setU32(nreadPtr, readInto(mem, e.node, pos, iovs));
      return ERRNO.SUCCESS;
    },
    fd_pwrite(fd: number, iovsPtr: number, iovsLen: number, offset: bigint, nwrittenPtr: number): number {
      const e = fileFd(st, fd);
      if (typeof e === 'number') return e;
      if (!canWrite(e)) return ERRNO.BADF;
      const iovs = readIovecs(mem, iovsPtr, iovsLen);
      if (typeof iovs === 'number') return iovs;
      mem.check(nwrittenPtr, 4);
      if (offset > BigInt(Number.MAX_SAFE_INTEGER)) return ERRNO.FBIG;
      return guarded(() => {
        mem.setU32(nwrittenPtr, writeFrom(mem, e.node, Number(offset), iovs));
        return ERRNO.SUCCESS;
      });
    },
    fd_read(fd: number, iovsPtr: number, iovsLen: number, nreadPtr: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      const iovs = readIovecs(mem, iovsPtr, iovsLen);
      if (typeof iovs === 'number') return iovs;
      mem.check(nreadPtr, 4);
      if (e.kind === 'stdin') {
        let total = 0;
        for (const v of iovs) {
          const n = Math.min(v.len, st.stdin.length - st.stdinPos);
          if (n <= 0) break;
          mem.write(v.ptr, st.stdin.subarray(st.stdinPos, st.stdinPos + n));
          st.stdinPos += n;
          total += n;
        }
        mem.setU32(nreadPtr, total);
        return ERRNO.SUCCESS;
      }
      if (e.kind === 'dir') return ERRNO.ISDIR;
      if (e.kind !== 'file' || !canRead(e)) return ERRNO.BADF;
      const n = readInto(mem, e.node, e.pos, iovs);
      e.pos += n;
      mem.setU32(nreadPtr, n);
      return ERRNO.SUCCESS;
    },
    fd_write(fd: number, iovsPtr: number, iovsLen: number, nwrittenPtr: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      const iovs = readIovecs(mem, iovsPtr, iovsLen);
      if (typeof iovs === 'number') return iovs;
      mem.check(nwrittenPtr, 4);
      if (e.kind === 'out') {
        let total = 0;
        for (const v of iovs) {
          e.capture.push(mem.bytes(v.ptr, v.len));
          total += v.len;
        }
        mem.setU32(nwrittenPtr, total);
        return ERRNO.SUCCESS;
      }
      if (e.kind === 'dir') return ERRNO.ISDIR;
      if (e.kind !== 'file' || !canWrite(e)) return ERRNO.BADF;
      return guarded(() => {
        const pos = e.append ? e.node.size : e.pos;
        const n = writeFrom(mem, e.node, pos, iovs);
        e.pos = pos + n;
        mem.setU32(nwrittenPtr, n);
        return ERRNO.SUCCESS;
      });
    },
    fd_prestat_get(fd: number, ptr: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      if (e.kind !== 'dir' || e.preopen === undefined) return ERRNO.BADF;
      mem.write(ptr, new Struct(SIZE.prestat).u8(0, 0).u32(4, utf8.encode(e.preopen).length).bytes);
      return ERRNO.SUCCESS;
    },
    fd_prestat_dir_name(fd: number, pathPtr: number, pathLen: number): number {
      const e = fds.get(fd);
      if (e === undefined || e.kind !== 'dir' || e.preopen === undefined) return ERRNO.BADF;
      const name = utf8.encode(e.preopen);
      if (pathLen < name.length) return ERRNO.NAMETOOLONG;
      mem.write(pathPtr, name);
      return ERRNO.SUCCESS;
    },
    fd_readdir(fd: number, buf: number, bufLen: number, cookie: bigint, bufusedPtr: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      if (e.kind !== 'dir') return ERRNO.NOTDIR;
      mem.check(buf, bufLen);
      mem.check(bufusedPtr, 4);
      // Level 1 sorts names byte-wise (UTF-8), as the result's path lists are; level 0 by UTF-16 units.
      // Entry i is `.`, `..`, then the (i - 2)th name.
      const children = e.node.children.sorted(st.level === 0);
      const count = children.length + 2;
      const nameAt = (i: number): string => (i === 0 ? '.' : i === 1 ? '..' : children[i - 2]!);
      const out = new Uint8Array(bufLen);
      let used = 0;
      for (let i = Number(cookie > 1_000_000n ? 1_000_000n : cookie); i < count && used < bufLen; i++) {
        const name = utf8.encode(nameAt(i));
        const node = i < 2 ? e.node : e.node.children.get(nameAt(i))!;
        const d = new Struct(SIZE.dirent + name.length)
          .u64(0, BigInt(i + 1))
          .u64(8, node.ino)
          .u32(16, name.length)
          .u8(20, filetype(node));
        d.bytes.set(name, SIZE.dirent);
        const n = Math.min(d.bytes.length, bufLen - used);
        out.set(d.bytes.subarray(0, n), used);
        used += n;
      }
      if (used > 0) mem.write(buf, out.subarray(0, used));
      mem.setU32(bufusedPtr, used);
      return ERRNO.SUCCESS;
    },
    fd_renumber(from: number, to: number): number {
      return fds.renumber(from, to) ? ERRNO.SUCCESS : ERRNO.BADF;
    },
    fd_seek(fd: number, offset: bigint, whence: number, newOffsetPtr: number): number {
      const e = fileFd(st, fd);
      if (typeof e === 'number') return e;
      mem.check(newOffsetPtr, 8);
      let base: bigint;
      if (whence === WHENCE.SET) base = 0n;
      else if (whence === WHENCE.CUR) base = BigInt(e.pos);
      else if (whence === WHENCE.END) base = BigInt(e.node.size);
      else return ERRNO.INVAL;
      const next = base + offset;
      if (next < 0n) return ERRNO.INVAL;
      if (next > BigInt(Number.MAX_SAFE_INTEGER)) return ERRNO.OVERFLOW;
      e.pos = Number(next);
      mem.setU64(newOffsetPtr, next);
      return ERRNO.SUCCESS;
    },
    fd_tell(fd: number, ptr: number): number {
      const e = fileFd(st, fd);
      if (typeof e === 'number') return e;
      mem.setU64(ptr, BigInt(e.pos));
      return ERRNO.SUCCESS;
    },
    ...pathFunctions(st, guarded),
  };
}

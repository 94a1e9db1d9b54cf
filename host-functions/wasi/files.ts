/**
 * WASI preview1 descriptor and path functions (`fd_*`, `path_*`) over the in-memory tree
 * (spec: spec/wasi.md#W3). They return errno values and never throw, except `GuestFault`
 * (turned into ERRNO_FAULT by the host-call wrapper) and the run-ending output limit.
 */
import { ERRNO, FDFLAGS, FILETYPE, OFLAGS, RIGHTS, RIGHTS_DIR, RIGHTS_FILE, RIGHTS_STDIO, RIGHTS_WRITE, SIZE, WHENCE } from './defs.ts';
import type { FdEntry, FdTable } from './fd-table.ts';
import { QuotaExceeded, resizeFile } from './fs.ts';
import type { DirNode, FileNode, FileTree, Node } from './fs.ts';
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
}

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

function filetype(n: Node): number {
  return n.kind === 'dir' ? FILETYPE.DIRECTORY : FILETYPE.REGULAR_FILE;
}

function writeFilestat(mem: GuestMemory, ptr: number, n: Node): void {
  // dev 0, ino, filetype, nlink 1, size, atim/mtim/ctim 0: no host time ever leaks in.
  const s = new Struct(SIZE.filestat).u64(8, n.ino).u8(16, filetype(n)).u64(24, 1n).u64(32, BigInt(n.kind === 'file' ? n.size : 0));
  mem.write(ptr, s.bytes);
}

type Resolved = { parent: DirNode; name: string; node: Node | undefined; trailingSlash: boolean };

/** Resolves a guest path relative to a directory descriptor; no component may climb above it. */
function resolve(st: FileState, dirFd: number, pathPtr: number, pathLen: number): Resolved | number {
  const dir = st.fds.get(dirFd);
  if (dir === undefined) return ERRNO.BADF;
  if (dir.kind !== 'dir') return ERRNO.NOTDIR;
  if (pathLen > PATH_MAX) return ERRNO.NAMETOOLONG;
  const path = st.mem.string(pathPtr, pathLen);
  if (path === null) return ERRNO.ILSEQ;
  if (path.length === 0) return ERRNO.NOENT;
  if (path.startsWith('/')) return ERRNO.NOTCAPABLE;
  if (path.includes('\0')) return ERRNO.INVAL;
  const parts = path.split('/');
  const trailingSlash = parts.length > 1 && parts[parts.length - 1] === '';
  const stack: DirNode[] = [dir.node];
  const names = parts.filter((p) => p !== '' && p !== '.');
  if (names.length === 0) return { parent: dir.node, name: '.', node: dir.node, trailingSlash };
  for (let i = 0; i < names.length - 1; i++) {
    const part = names[i]!;
    if (part === '..') {
      if (stack.length === 1) return ERRNO.NOTCAPABLE;
      stack.pop();
      continue;
    }
    const next = stack[stack.length - 1]!.children.get(part);
    if (next === undefined) return ERRNO.NOENT;
    if (next.kind !== 'dir') return ERRNO.NOTDIR;
    stack.push(next);
  }
  const last = names[names.length - 1]!;
  if (last === '..') {
    if (stack.length === 1) return ERRNO.NOTCAPABLE;
    stack.pop();
    const node = stack[stack.length - 1]!;
    return { parent: node, name: '.', node, trailingSlash };
  }
  const parent = stack[stack.length - 1]!;
  return { parent, name: last, node: parent.children.get(last), trailingSlash };
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
export function fileFunctions(st: FileState): Record<string, (...args: never[]) => number> {
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
      if (!e.write) return ERRNO.BADF;
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
      const s = new Struct(SIZE.fdstat);
      if (e.kind === 'stdin' || e.kind === 'out') {
        s.u8(0, FILETYPE.CHARACTER_DEVICE).u64(8, RIGHTS_STDIO);
      } else if (e.kind === 'file') {
        let rights = RIGHTS_FILE;
        if (!e.read) rights &= ~RIGHTS.FD_READ;
        if (!e.write || e.node.readonly) rights &= ~RIGHTS_WRITE;
        s.u8(0, FILETYPE.REGULAR_FILE).u16(2, e.append ? FDFLAGS.APPEND : 0).u64(8, rights);
      } else {
        // Inheriting rights stay full even under a read-only directory: the writable /output and
        // /tmp are reached through the read-only root, and wasi-libc masks what it asks for by
        // these. Read-only nodes are enforced by path_open (ERRNO_ROFS) instead.
        const ro = e.node.readonly;
        s.u8(0, FILETYPE.DIRECTORY).u64(8, ro ? RIGHTS_DIR & ~RIGHTS_WRITE : RIGHTS_DIR).u64(16, RIGHTS_DIR | RIGHTS_FILE);
      }
      mem.write(ptr, s.bytes);
      return ERRNO.SUCCESS;
    },
    fd_fdstat_set_flags(fd: number, flags: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      if (e.kind !== 'file') return flags === 0 ? ERRNO.SUCCESS : ERRNO.NOTSUP;
      if (flags & ~(FDFLAGS.APPEND | FDFLAGS.DSYNC | FDFLAGS.RSYNC | FDFLAGS.SYNC | FDFLAGS.NONBLOCK)) return ERRNO.INVAL;
      e.append = (flags & FDFLAGS.APPEND) !== 0;
      return ERRNO.SUCCESS;
    },
    fd_fdstat_set_rights(fd: number): number {
      return fds.get(fd) === undefined ? ERRNO.BADF : ERRNO.NOTSUP;
    },
    fd_filestat_get(fd: number, ptr: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      if (e.kind === 'file' || e.kind === 'dir') writeFilestat(mem, ptr, e.node);
      else mem.write(ptr, new Struct(SIZE.filestat).u8(16, FILETYPE.CHARACTER_DEVICE).u64(24, 1n).bytes);
      return ERRNO.SUCCESS;
    },
    fd_filestat_set_size(fd: number, size: bigint): number {
      const e = fileFd(st, fd);
      if (typeof e === 'number') return e;
      if (!e.write) return ERRNO.BADF;
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) return ERRNO.FBIG;
      return guarded(() => {
        resizeFile(e.node, Number(size));
        return ERRNO.SUCCESS;
      });
    },
    fd_filestat_set_times(fd: number): number {
      const e = fds.get(fd);
      if (e === undefined) return ERRNO.BADF;
      // Timestamps are always 0 in the cage; accepting the call keeps programs like `touch` working.
      return e.kind === 'file' && e.node.readonly ? ERRNO.ROFS : ERRNO.SUCCESS;
    },
    fd_pread(fd: number, iovsPtr: number, iovsLen: number, offset: bigint, nreadPtr: number): number {
      const e = fileFd(st, fd);
      if (typeof e === 'number') return e;
      if (!e.read) return ERRNO.BADF;
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
      if (!e.write) return ERRNO.BADF;
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
      if (e.kind !== 'file' || !e.read) return ERRNO.BADF;
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
      if (e.kind !== 'file' || !e.write) return ERRNO.BADF;
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
      const names = ['.', '..', ...[...e.node.children.keys()].sort()];
      const out = new Uint8Array(bufLen);
      let used = 0;
      for (let i = Number(cookie > 1_000_000n ? 1_000_000n : cookie); i < names.length && used < bufLen; i++) {
        const name = utf8.encode(names[i]!);
        const node = i === 0 ? e.node : i === 1 ? e.node : e.node.children.get(names[i]!)!;
        const d = new Struct(SIZE.dirent + name.length).u64(0, BigInt(i + 1)).u64(8, node.ino).u32(16, name.length).u8(20, filetype(node));
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
    path_create_directory(fd: number, pathPtr: number, pathLen: number): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      if (r.node !== undefined) return ERRNO.EXIST;
      if (r.parent.readonly) return ERRNO.ROFS;
      r.parent.children.set(r.name, st.tree.dir(false, r.parent.quota));
      return ERRNO.SUCCESS;
    },
    path_filestat_get(fd: number, _flags: number, pathPtr: number, pathLen: number, ptr: number): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      if (r.node === undefined) return ERRNO.NOENT;
      if (r.trailingSlash && r.node.kind !== 'dir') return ERRNO.NOTDIR;
      writeFilestat(mem, ptr, r.node);
      return ERRNO.SUCCESS;
    },
    path_filestat_set_times(fd: number, _flags: number, pathPtr: number, pathLen: number): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      if (r.node === undefined) return ERRNO.NOENT;
      return r.node.readonly ? ERRNO.ROFS : ERRNO.SUCCESS;
    },
    path_link(): number {
      return ERRNO.NOTSUP;
    },
    path_symlink(): number {
      return ERRNO.NOTSUP;
    },
    path_readlink(fd: number, pathPtr: number, pathLen: number): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      // The cage's tree has no symbolic links, so nothing is one.
      return r.node === undefined ? ERRNO.NOENT : ERRNO.INVAL;
    },
    path_open(dirFd: number, _dirflags: number, pathPtr: number, pathLen: number, oflags: number, rightsBase: bigint, _rightsInheriting: bigint, fdflags: number, fdPtr: number): number {
      const r = resolve(st, dirFd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      mem.check(fdPtr, 4);
      let node = r.node;
      const wantsWrite = (rightsBase & (RIGHTS.FD_WRITE | RIGHTS.FD_ALLOCATE | RIGHTS.FD_FILESTAT_SET_SIZE)) !== 0n || (oflags & OFLAGS.TRUNC) !== 0;
      if (node !== undefined && (oflags & OFLAGS.CREAT) && (oflags & OFLAGS.EXCL)) return ERRNO.EXIST;
      if (node === undefined) {
        if (!(oflags & OFLAGS.CREAT)) return ERRNO.NOENT;
        if (oflags & OFLAGS.DIRECTORY) return ERRNO.INVAL;
        if (r.trailingSlash) return ERRNO.ISDIR;
        if (r.parent.readonly) return ERRNO.ROFS;
        node = st.tree.file(false, new Uint8Array(0), r.parent.quota);
        r.parent.children.set(r.name, node);
      }
      if (node.kind === 'dir') {
        if (wantsWrite) return ERRNO.ISDIR;
        const fd = fds.open({ kind: 'dir', node, preopen: undefined });
        if (fd === undefined) return ERRNO.MFILE;
        mem.setU32(fdPtr, fd);
        return ERRNO.SUCCESS;
      }
      if (oflags & OFLAGS.DIRECTORY || r.trailingSlash) return ERRNO.NOTDIR;
      if (wantsWrite && node.readonly) return ERRNO.ROFS;
      const file = node;
      if (oflags & OFLAGS.TRUNC) {
        const res = guarded(() => {
          resizeFile(file, 0);
          return ERRNO.SUCCESS;
        });
        if (res !== ERRNO.SUCCESS) return res;
      }
      const read = (rightsBase & RIGHTS.FD_READ) !== 0n || !wantsWrite;
      const fd = fds.open({ kind: 'file', node: file, pos: 0, append: (fdflags & FDFLAGS.APPEND) !== 0, read, write: wantsWrite });
      if (fd === undefined) return ERRNO.MFILE;
      mem.setU32(fdPtr, fd);
      return ERRNO.SUCCESS;
    },
    path_remove_directory(fd: number, pathPtr: number, pathLen: number): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      if (r.node === undefined) return ERRNO.NOENT;
      if (r.node.kind !== 'dir') return ERRNO.NOTDIR;
      if (r.name === '.' ) return ERRNO.INVAL;
      if (r.parent.readonly || r.node.readonly) return ERRNO.ROFS;
      if (r.node.children.size > 0) return ERRNO.NOTEMPTY;
      r.parent.children.delete(r.name);
      return ERRNO.SUCCESS;
    },
    path_rename(fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
      const a = resolve(st, fd, oldPtr, oldLen);
      if (typeof a === 'number') return a;
      const b = resolve(st, newFd, newPtr, newLen);
      if (typeof b === 'number') return b;
      if (a.node === undefined) return ERRNO.NOENT;
      if (a.name === '.' || b.name === '.') return ERRNO.INVAL;
      if (a.parent.readonly || b.parent.readonly || a.node.readonly) return ERRNO.ROFS;
      // Output and scratch keep separate byte budgets: moving between them would launder bytes.
      if (a.parent.quota !== b.parent.quota) return ERRNO.XDEV;
      if (b.node !== undefined) {
        if (b.node === a.node) return ERRNO.SUCCESS;
        if (b.node.kind === 'dir' && a.node.kind !== 'dir') return ERRNO.ISDIR;
        if (b.node.kind !== 'dir' && a.node.kind === 'dir') return ERRNO.NOTDIR;
        if (b.node.kind === 'dir' && b.node.children.size > 0) return ERRNO.NOTEMPTY;
        if (b.node.kind === 'file' && b.node.quota) b.node.quota.used -= b.node.size;
      }
      a.parent.children.delete(a.name);
      b.parent.children.set(b.name, a.node);
      return ERRNO.SUCCESS;
    },
    path_unlink_file(fd: number, pathPtr: number, pathLen: number): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      if (r.node === undefined) return ERRNO.NOENT;
      if (r.node.kind === 'dir') return ERRNO.ISDIR;
      if (r.parent.readonly || r.node.readonly) return ERRNO.ROFS;
      if (r.node.quota) r.node.quota.used -= r.node.size;
      r.parent.children.delete(r.name);
      return ERRNO.SUCCESS;
    },
  };
}

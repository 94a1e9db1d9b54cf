/**
 * WASI preview1 `path_*` functions over the in-memory tree (spec: spec/wasi.md#W3). Symbolic and
 * hard links live in the tree like files (level 1); at level 0 they are ERRNO_NOTSUP as they
 * were when bundles of format 1 were recorded.
 */
import { ERRNO, FDFLAGS, LOOKUP_SYMLINK_FOLLOW, OFLAGS, RIGHTS } from './defs.ts';
import { entryCost, QuotaExceeded, resizeFile } from './fs.ts';
import type { DirNode } from './fs.ts';
import { resolve, setTimes, writeFilestat } from './files.ts';
import type { FileState } from './files.ts';

const utf8 = new TextEncoder();
/**
 * Every new file's first buffer: one shared empty array instead of one each (a typed array costs
 * the host far more than its bytes). Never written: `resizeFile` replaces it before any write.
 */
const NO_BYTES = new Uint8Array(0);

/**
 * Whether `inner` is `outer` or lies below it (a directory may not move into itself). A stack of
 * its own: a guest may nest directories deeper than the host's call stack would follow.
 */
function contains(outer: DirNode, inner: DirNode): boolean {
  const stack: DirNode[] = [outer];
  for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
    if (d === inner) return true;
    for (const c of d.children.values()) if (c.kind === 'dir') stack.push(c);
  }
  return false;
}

/** The `path_*` functions; the return type is inferred, so its keys are the names they are imported by. */
export function pathFunctions(st: FileState, guarded: (f: () => number) => number) {
  const { mem, fds } = st;
  return {
    path_create_directory(fd: number, pathPtr: number, pathLen: number): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      if (r.node !== undefined) return ERRNO.EXIST;
      if (r.parent.readonly) return ERRNO.ROFS;
      return guarded(() => {
        st.tree.admit(r.parent, r.name);
        r.parent.children.set(r.name, st.tree.dir(false, r.parent.quota));
        return ERRNO.SUCCESS;
      });
    },
    path_filestat_get(fd: number, flags: number, pathPtr: number, pathLen: number, ptr: number): number {
      const r = resolve(st, fd, pathPtr, pathLen, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (typeof r === 'number') return r;
      if (r.node === undefined) return ERRNO.NOENT;
      if (r.trailingSlash && r.node.kind !== 'dir') return ERRNO.NOTDIR;
      writeFilestat(mem, ptr, r.node);
      return ERRNO.SUCCESS;
    },
    path_filestat_set_times(
      fd: number,
      flags: number,
      pathPtr: number,
      pathLen: number,
      atim: bigint,
      mtim: bigint,
      fstFlags: number,
    ): number {
      const r = resolve(st, fd, pathPtr, pathLen, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (typeof r === 'number') return r;
      if (r.node === undefined) return ERRNO.NOENT;
      if (st.level === 0) return r.node.readonly ? ERRNO.ROFS : ERRNO.SUCCESS;
      if (r.trailingSlash && r.node.kind !== 'dir') return ERRNO.NOTDIR;
      return setTimes(st, r.node, atim, mtim, fstFlags);
    },
    path_link(
      oldFd: number,
      oldFlags: number,
      oldPtr: number,
      oldLen: number,
      newFd: number,
      newPtr: number,
      newLen: number,
    ): number {
      if (st.level === 0) return ERRNO.NOTSUP;
      const a = resolve(st, oldFd, oldPtr, oldLen, (oldFlags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (typeof a === 'number') return a;
      const b = resolve(st, newFd, newPtr, newLen);
      if (typeof b === 'number') return b;
      if (a.node === undefined) return ERRNO.NOENT;
      if (a.node.kind === 'dir') return ERRNO.PERM;
      if (a.trailingSlash) return ERRNO.NOTDIR;
      if (b.node !== undefined) return ERRNO.EXIST;
      if (b.trailingSlash) return ERRNO.NOENT;
      if (b.parent.readonly) return ERRNO.ROFS;
      // One file's bytes count against one quota: a link may not reach into another budget.
      if (a.node.quota !== b.parent.quota) return ERRNO.XDEV;
      const node = a.node;
      return guarded(() => {
        st.tree.admit(b.parent, b.name, node.kind === 'symlink' ? node.target : undefined);
        if (node.kind === 'file') node.nlink++;
        b.parent.children.set(b.name, node.kind === 'file' ? node : st.tree.symlink(node.target, b.parent.quota));
        return ERRNO.SUCCESS;
      });
    },
    path_symlink(oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number): number {
      if (st.level === 0) return ERRNO.NOTSUP;
      const target = mem.string(oldPtr, oldLen);
      if (target === null) return ERRNO.ILSEQ;
      if (target.includes('\0')) return ERRNO.INVAL;
      // An absolute target would name something outside every preopen: refused, as wasmtime does.
      if (target.startsWith('/')) return ERRNO.PERM;
      const r = resolve(st, fd, newPtr, newLen);
      if (typeof r === 'number') return r;
      if (r.node !== undefined) return ERRNO.EXIST;
      if (r.trailingSlash) return ERRNO.NOENT;
      if (r.parent.readonly) return ERRNO.ROFS;
      return guarded(() => {
        st.tree.admit(r.parent, r.name, target);
        r.parent.children.set(r.name, st.tree.symlink(target, r.parent.quota));
        return ERRNO.SUCCESS;
      });
    },
    path_readlink(
      fd: number,
      pathPtr: number,
      pathLen: number,
      buf: number,
      bufLen: number,
      bufusedPtr: number,
    ): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      if (r.node === undefined) return ERRNO.NOENT;
      if (r.node.kind !== 'symlink') return ERRNO.INVAL;
      const target = utf8.encode(r.node.target);
      mem.check(buf, bufLen);
      mem.check(bufusedPtr, 4);
      // Truncated to the buffer, as POSIX readlink does.
      const n = Math.min(bufLen, target.length);
      if (n > 0) mem.write(buf, target.subarray(0, n));
      mem.setU32(bufusedPtr, n);
      return ERRNO.SUCCESS;
    },
    path_open(
      dirFd: number,
      dirflags: number,
      pathPtr: number,
      pathLen: number,
      oflags: number,
      rightsBase: bigint,
      _rightsInheriting: bigint,
      fdflags: number,
      fdPtr: number,
    ): number {
      // Rights the guest dropped from the directory are enforced (fd_fdstat_set_rights).
      const dropped = fds.get(dirFd)?.dropped ?? 0n;
      const needs =
        RIGHTS.PATH_OPEN |
        (oflags & OFLAGS.CREAT ? RIGHTS.PATH_CREATE_FILE : 0n) |
        (oflags & OFLAGS.TRUNC ? RIGHTS.PATH_FILESTAT_SET_SIZE : 0n);
      if ((dropped & needs) !== 0n) return ERRNO.NOTCAPABLE;
      const r = resolve(st, dirFd, pathPtr, pathLen, (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (typeof r === 'number') return r;
      mem.check(fdPtr, 4);
      let node = r.node;
      const wantsWrite =
        (rightsBase & (RIGHTS.FD_WRITE | RIGHTS.FD_ALLOCATE | RIGHTS.FD_FILESTAT_SET_SIZE)) !== 0n ||
        (oflags & OFLAGS.TRUNC) !== 0;
      if (node !== undefined && oflags & OFLAGS.CREAT && oflags & OFLAGS.EXCL) return ERRNO.EXIST;
      if (node === undefined) {
        if (!(oflags & OFLAGS.CREAT)) return ERRNO.NOENT;
        if (oflags & OFLAGS.DIRECTORY) return ERRNO.INVAL;
        if (r.trailingSlash) return ERRNO.ISDIR;
        if (r.parent.readonly) return ERRNO.ROFS;
        const refused = guarded(() => {
          st.tree.admit(r.parent, r.name);
          return ERRNO.SUCCESS;
        });
        if (refused !== ERRNO.SUCCESS) return refused;
        node = st.tree.file(false, NO_BYTES, r.parent.quota);
        r.parent.children.set(r.name, node);
      }
      // A link not followed (no LOOKUP_SYMLINK_FOLLOW) cannot be opened: POSIX O_NOFOLLOW's ELOOP.
      if (node.kind === 'symlink') return oflags & OFLAGS.DIRECTORY ? ERRNO.NOTDIR : ERRNO.LOOP;
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
      const extra = st.level === 0 ? 0 : fdflags & (FDFLAGS.DSYNC | FDFLAGS.RSYNC | FDFLAGS.SYNC | FDFLAGS.NONBLOCK);
      const fd = fds.open({
        kind: 'file',
        node: file,
        pos: 0,
        append: (fdflags & FDFLAGS.APPEND) !== 0,
        read,
        write: wantsWrite,
        fdflags: extra,
      });
      if (fd === undefined) return ERRNO.MFILE;
      mem.setU32(fdPtr, fd);
      return ERRNO.SUCCESS;
    },
    path_remove_directory(fd: number, pathPtr: number, pathLen: number): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      if (r.node === undefined) return ERRNO.NOENT;
      if (r.node.kind !== 'dir') return ERRNO.NOTDIR;
      if (r.name === '.') return ERRNO.INVAL;
      if (r.parent.readonly || r.node.readonly) return ERRNO.ROFS;
      if (r.node.children.size > 0) return ERRNO.NOTEMPTY;
      st.tree.unlink(r.parent, r.name, r.node);
      return ERRNO.SUCCESS;
    },
    path_rename(fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
      const a = resolve(st, fd, oldPtr, oldLen);
      if (typeof a === 'number') return a;
      const b = resolve(st, newFd, newPtr, newLen);
      if (typeof b === 'number') return b;
      if (a.node === undefined) return ERRNO.NOENT;
      if (a.name === '.' || b.name === '.') return ERRNO.INVAL;
      if (st.level > 0 && a.node.kind !== 'dir' && (a.trailingSlash || b.trailingSlash)) return ERRNO.NOTDIR;
      if (a.parent.readonly || b.parent.readonly || a.node.readonly) return ERRNO.ROFS;
      // Output and scratch keep separate byte budgets: moving between them would launder bytes.
      if (a.parent.quota !== b.parent.quota) return ERRNO.XDEV;
      if (b.node !== undefined) {
        if (b.node === a.node) return ERRNO.SUCCESS;
        if (b.node.kind === 'dir' && a.node.kind !== 'dir') return ERRNO.ISDIR;
        if (b.node.kind !== 'dir' && a.node.kind === 'dir') return ERRNO.NOTDIR;
        if (b.node.kind === 'dir' && b.node.children.size > 0) return ERRNO.NOTEMPTY;
      }
      if (st.level > 0 && a.node.kind === 'dir' && contains(a.node, b.parent)) return ERRNO.INVAL;
      const moved = a.node;
      // A longer name may not fit (spec/wasi.md#W10): checked before anything moves.
      const quota = b.parent.quota;
      if (st.tree.metered && quota !== undefined) {
        const grows =
          entryCost(b.name, moved) - entryCost(a.name, moved) - (b.node === undefined ? 0 : entryCost(b.name, b.node));
        if (grows > 0 && quota.used + grows > quota.limit) return st.onQuotaExceeded(new QuotaExceeded(quota));
      }
      if (b.node !== undefined) st.tree.unlink(b.parent, b.name, b.node);
      st.tree.detach(a.parent, a.name, moved);
      st.tree.admit(b.parent, b.name, moved.kind === 'symlink' ? moved.target : undefined, true);
      b.parent.children.set(b.name, moved);
      return ERRNO.SUCCESS;
    },
    path_unlink_file(fd: number, pathPtr: number, pathLen: number): number {
      const r = resolve(st, fd, pathPtr, pathLen);
      if (typeof r === 'number') return r;
      if (r.node === undefined) return ERRNO.NOENT;
      if (r.node.kind === 'dir') return ERRNO.ISDIR;
      // "file/" names a directory, and a file is none (level 0 deleted the file).
      if (st.level > 0 && r.trailingSlash) return ERRNO.NOTDIR;
      if (r.parent.readonly || r.node.readonly) return ERRNO.ROFS;
      st.tree.unlink(r.parent, r.name, r.node);
      return ERRNO.SUCCESS;
    },
  };
}

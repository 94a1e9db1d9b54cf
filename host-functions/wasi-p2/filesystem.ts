/**
 * `wasi:filesystem` (types, preopens) over the cage's preview1 file tree: a descriptor is a
 * preview1 fd, each method the preview1 calls that answer it, so inputs stay read-only, /output and
 * writable directories keep their quota, and listings stay sorted byte-wise (spec/wasi.md#W3).
 */
import { LOOKUP_SYMLINK_FOLLOW, RIGHTS, RIGHTS_ALL, RIGHTS_WRITE } from '../wasi/defs.ts';
import type { P1 } from './p1.ts';
import { fsResult, InputStream, IoError, OutputStream } from './io.ts';

/** preview1 filetype → `descriptor-type`. */
const TYPES = [
  'unknown',
  'block-device',
  'character-device',
  'directory',
  'regular-file',
  'socket',
  'socket',
  'symbolic-link',
] as const;

const RIGHT_READ = RIGHTS.FD_READ;
const RIGHT_WRITE = RIGHTS.FD_WRITE;
const RIGHT_READDIR = RIGHTS.FD_READDIR;
const RIGHT_CREATE_FILE = RIGHTS.PATH_CREATE_FILE;
const LOOKUP_FOLLOW = LOOKUP_SYMLINK_FOLLOW;
const FILESTAT = 64;

type Datetime = { seconds: bigint; nanoseconds: number };
const datetime = (ns: bigint): Datetime => ({ seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) });
const toNs = (t: Datetime): bigint => t.seconds * 1_000_000_000n + BigInt(t.nanoseconds);

interface DescriptorStat {
  type: string;
  linkCount: bigint;
  size: bigint;
  dataAccessTimestamp: Datetime;
  dataModificationTimestamp: Datetime;
  statusChangeTimestamp: Datetime;
}

function readStat(p: P1, at: number): DescriptorStat & { ino: bigint; dev: bigint } {
  return {
    dev: p.u64(at),
    ino: p.u64(at + 8),
    type: TYPES[p.u8(at + 16)] ?? 'unknown',
    linkCount: p.u64(at + 24),
    size: p.u64(at + 32),
    dataAccessTimestamp: datetime(p.u64(at + 40)),
    dataModificationTimestamp: datetime(p.u64(at + 48)),
    statusChangeTimestamp: datetime(p.u64(at + 56)),
  };
}

/** `new-timestamp` → preview1 [time, fst flags] for `set`/`now`. */
function newTimestamp(t: { tag: string; val?: Datetime }, set: number, now: number): [bigint, number] {
  if (t.tag === 'now') return [0n, now];
  if (t.tag === 'timestamp' && t.val !== undefined) return [toNs(t.val), set];
  return [0n, 0];
}

/** One run's filesystem interfaces. */
export function filesystem(p1: P1): { types: Record<string, unknown>; preopens: Record<string, unknown> } {
  const close = (fd: number) => (): void => {
    p1.begin().call('fd_close', fd);
  };

  class DirectoryEntryStream {
    readonly #entries: { type: string; name: string }[];
    #next = 0;
    constructor(entries: { type: string; name: string }[]) {
      this.#entries = entries;
    }
    readDirectoryEntry(): { type: string; name: string } | undefined {
      return this.#entries[this.#next++];
    }
  }

  class Descriptor {
    readonly fd: number;
    /** Preopens stay open when the guest drops them: the next `get-directories` hands them out again. */
    readonly #closable: boolean;
    constructor(fd: number, closable = true) {
      this.fd = fd;
      this.#closable = closable;
    }
    readViaStream(offset: bigint): InputStream {
      return new InputStream(p1, this.fd, offset);
    }
    writeViaStream(offset: bigint): OutputStream {
      return new OutputStream(p1, this.fd, offset);
    }
    appendViaStream(): OutputStream {
      return fsResult(() => {
        const p = p1.begin();
        p.ok('fd_seek', this.fd, 0n, 2, p.alloc(8));
        return new OutputStream(p1, this.fd);
      });
    }
    advise(offset: bigint, length: bigint, advice: string): void {
      const n = ['normal', 'sequential', 'random', 'will-need', 'dont-need', 'no-reuse'].indexOf(advice);
      fsResult(() => p1.begin().ok('fd_advise', this.fd, offset, length, Math.max(0, n)));
    }
    syncData(): void {
      fsResult(() => p1.begin().ok('fd_datasync', this.fd));
    }
    sync(): void {
      fsResult(() => p1.begin().ok('fd_sync', this.fd));
    }
    getFlags(): Record<string, boolean> {
      return fsResult(() => {
        const p = p1.begin();
        const at = p.alloc(24);
        p.ok('fd_fdstat_get', this.fd, at);
        const rights = p.u64(at + 8);
        const flags = p.u16(at + 2);
        return {
          read: (rights & (RIGHT_READ | RIGHT_READDIR)) !== 0n,
          write: (rights & RIGHT_WRITE) !== 0n,
          mutateDirectory: (rights & RIGHT_CREATE_FILE) !== 0n,
          fileIntegritySync: (flags & 16) !== 0,
          dataIntegritySync: (flags & 2) !== 0,
          requestedWriteSync: false,
        };
      });
    }
    getType(): string {
      return this.stat().type;
    }
    setSize(size: bigint): void {
      fsResult(() => p1.begin().ok('fd_filestat_set_size', this.fd, size));
    }
    setTimes(atim: { tag: string; val?: Datetime }, mtim: { tag: string; val?: Datetime }): void {
      const [a, af] = newTimestamp(atim, 1, 2);
      const [m, mf] = newTimestamp(mtim, 4, 8);
      fsResult(() => p1.begin().ok('fd_filestat_set_times', this.fd, a, m, af | mf));
    }
    read(length: bigint, offset: bigint): [Uint8Array, boolean] {
      return fsResult(() => {
        const s = new InputStream(p1, this.fd, offset);
        try {
          const b = s.read(length);
          return [b, false] as [Uint8Array, boolean];
        } catch (e) {
          if ((e as { tag?: string }).tag === 'closed') return [new Uint8Array(0), true] as [Uint8Array, boolean];
          throw (e as { val?: IoError }).val?.code ?? e;
        }
      });
    }
    write(buffer: Uint8Array, offset: bigint): bigint {
      try {
        new OutputStream(p1, this.fd, offset).write(buffer);
      } catch (e) {
        throw (e as { val?: IoError }).val?.code ?? e;
      }
      return BigInt(buffer.length);
    }
    readDirectory(): DirectoryEntryStream {
      return fsResult(() => {
        const entries: { type: string; name: string }[] = [];
        let cookie = 0n;
        for (;;) {
          const p = p1.begin();
          const size = 65536;
          const buf = p.alloc(size);
          const used = p.alloc(4);
          p.ok('fd_readdir', this.fd, buf, size, cookie, used);
          const n = p.u32(used);
          let off = 0;
          let last = cookie;
          let progressed = false;
          while (off + 24 <= n) {
            const next = p.u64(buf + off);
            const len = p.u32(buf + off + 16);
            const type = p.u8(buf + off + 20);
            if (off + 24 + len > n) break;
            const name = p.text(buf + off + 24, len);
            if (name !== '.' && name !== '..') entries.push({ type: TYPES[type] ?? 'unknown', name });
            last = next;
            progressed = true;
            off += 24 + len;
          }
          if (n < size || !progressed) break;
          cookie = last;
        }
        return new DirectoryEntryStream(entries);
      });
    }
    createDirectoryAt(path: string): void {
      fsResult(() => {
        const p = p1.begin();
        p.ok('path_create_directory', this.fd, ...p.str(path));
      });
    }
    stat(): DescriptorStat {
      return fsResult(() => {
        const p = p1.begin();
        const at = p.alloc(FILESTAT);
        p.ok('fd_filestat_get', this.fd, at);
        const { ino: _i, dev: _d, ...s } = readStat(p, at);
        return s;
      });
    }
    statAt(flags: { symlinkFollow?: boolean }, path: string): DescriptorStat {
      return fsResult(() => {
        const { ino: _i, dev: _d, ...s } = this.#statAt(flags, path);
        return s;
      });
    }
    #statAt(flags: { symlinkFollow?: boolean }, path: string): DescriptorStat & { ino: bigint; dev: bigint } {
      const p = p1.begin();
      const [ptr, len] = p.str(path);
      const at = p.alloc(FILESTAT);
      p.ok('path_filestat_get', this.fd, flags.symlinkFollow ? LOOKUP_FOLLOW : 0, ptr, len, at);
      return readStat(p, at);
    }
    setTimesAt(
      flags: { symlinkFollow?: boolean },
      path: string,
      atim: { tag: string; val?: Datetime },
      mtim: { tag: string; val?: Datetime },
    ): void {
      const [a, af] = newTimestamp(atim, 1, 2);
      const [m, mf] = newTimestamp(mtim, 4, 8);
      fsResult(() => {
        const p = p1.begin();
        const [ptr, len] = p.str(path);
        p.ok('path_filestat_set_times', this.fd, flags.symlinkFollow ? LOOKUP_FOLLOW : 0, ptr, len, a, m, af | mf);
      });
    }
    linkAt(oldFlags: { symlinkFollow?: boolean }, oldPath: string, newDesc: Descriptor, newPath: string): void {
      fsResult(() => {
        const p = p1.begin();
        const [op, ol] = p.str(oldPath);
        const [np, nl] = p.str(newPath);
        p.ok('path_link', this.fd, oldFlags.symlinkFollow ? LOOKUP_FOLLOW : 0, op, ol, newDesc.fd, np, nl);
      });
    }
    openAt(
      pathFlags: { symlinkFollow?: boolean },
      path: string,
      openFlags: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean },
      flags: { read?: boolean; write?: boolean; mutateDirectory?: boolean },
    ): Descriptor {
      return fsResult(() => {
        const p = p1.begin();
        const [ptr, len] = p.str(path);
        const out = p.alloc(4);
        const oflags =
          (openFlags.create ? 1 : 0) |
          (openFlags.directory ? 2 : 0) |
          (openFlags.exclusive ? 4 : 0) |
          (openFlags.truncate ? 8 : 0);
        const writes = flags.write === true || flags.mutateDirectory === true;
        const base = writes ? RIGHTS_ALL : RIGHTS_ALL & ~RIGHTS_WRITE;
        p.ok(
          'path_open',
          this.fd,
          pathFlags.symlinkFollow ? LOOKUP_FOLLOW : 0,
          ptr,
          len,
          oflags,
          base,
          RIGHTS_ALL,
          0,
          out,
        );
        return new Descriptor(p.u32(out));
      });
    }
    readlinkAt(path: string): string {
      return fsResult(() => {
        const p = p1.begin();
        const [ptr, len] = p.str(path);
        const size = 4096;
        const buf = p.alloc(size);
        const used = p.alloc(4);
        p.ok('path_readlink', this.fd, ptr, len, buf, size, used);
        return p.text(buf, p.u32(used));
      });
    }
    removeDirectoryAt(path: string): void {
      fsResult(() => {
        const p = p1.begin();
        p.ok('path_remove_directory', this.fd, ...p.str(path));
      });
    }
    renameAt(oldPath: string, newDesc: Descriptor, newPath: string): void {
      fsResult(() => {
        const p = p1.begin();
        const [op, ol] = p.str(oldPath);
        const [np, nl] = p.str(newPath);
        p.ok('path_rename', this.fd, op, ol, newDesc.fd, np, nl);
      });
    }
    symlinkAt(oldPath: string, newPath: string): void {
      fsResult(() => {
        const p = p1.begin();
        const [op, ol] = p.str(oldPath);
        const [np, nl] = p.str(newPath);
        p.ok('path_symlink', op, ol, this.fd, np, nl);
      });
    }
    unlinkFileAt(path: string): void {
      fsResult(() => {
        const p = p1.begin();
        p.ok('path_unlink_file', this.fd, ...p.str(path));
      });
    }
    isSameObject(other: Descriptor): boolean {
      const a = this.#hash();
      const b = other.#hash();
      return a.lower === b.lower && a.upper === b.upper;
    }
    #hash(): { lower: bigint; upper: bigint } {
      const p = p1.begin();
      const at = p.alloc(FILESTAT);
      p.ok('fd_filestat_get', this.fd, at);
      const s = readStat(p, at);
      return { lower: s.ino, upper: s.dev };
    }
    metadataHash(): { lower: bigint; upper: bigint } {
      return fsResult(() => this.#hash());
    }
    metadataHashAt(flags: { symlinkFollow?: boolean }, path: string): { lower: bigint; upper: bigint } {
      return fsResult(() => {
        const s = this.#statAt(flags, path);
        return { lower: s.ino, upper: s.dev };
      });
    }
    [Symbol.dispose](): void {
      if (this.#closable) close(this.fd)();
    }
  }

  /** The preopened directories, as preview1 lists them (fd 3 on, until `badf`). */
  let preopens: [Descriptor, string][] | undefined;
  const getDirectories = (): [Descriptor, string][] => {
    if (preopens !== undefined) return preopens;
    const out: [Descriptor, string][] = [];
    for (let fd = 3; ; fd++) {
      const p = p1.begin();
      const at = p.alloc(8);
      if (p.call('fd_prestat_get', fd, at) !== 0) break;
      const len = p.u32(at + 4);
      const name = p.alloc(len);
      p.ok('fd_prestat_dir_name', fd, name, len);
      out.push([new Descriptor(fd, false), p.text(name, len)]);
    }
    preopens = out;
    return out;
  };

  const filesystemErrorCode = (err: IoError): string | undefined => (err instanceof IoError ? err.code : undefined);

  return {
    types: { Descriptor, DirectoryEntryStream, filesystemErrorCode },
    preopens: { getDirectories },
  };
}

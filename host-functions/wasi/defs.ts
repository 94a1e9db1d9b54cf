/**
 * WASI preview1 ABI constants, from the witx definitions in WebAssembly/WASI
 * (`legacy/preview1/witx/typenames.witx`, snapshot 1), the same values as the shim's
 * `src/wasi_defs.ts`. Struct layouts give byte offsets for wasm32.
 */

/** errno (typenames.witx `$errno`). */
export const ERRNO = {
  SUCCESS: 0,
  TOOBIG: 1,
  ACCES: 2,
  AGAIN: 6,
  BADF: 8,
  EXIST: 20,
  FAULT: 21,
  FBIG: 22,
  ILSEQ: 25,
  INVAL: 28,
  IO: 29,
  ISDIR: 31,
  LOOP: 32,
  MFILE: 33,
  NAMETOOLONG: 37,
  NOENT: 44,
  NOSPC: 51,
  NOSYS: 52,
  NOTDIR: 54,
  NOTEMPTY: 55,
  NOTSOCK: 57,
  NOTSUP: 58,
  OVERFLOW: 61,
  PERM: 63,
  ROFS: 69,
  SPIPE: 70,
  XDEV: 75,
  NOTCAPABLE: 76,
} as const;

/** filetype. */
export const FILETYPE = { UNKNOWN: 0, CHARACTER_DEVICE: 2, DIRECTORY: 3, REGULAR_FILE: 4, SYMBOLIC_LINK: 7 } as const;

/** fstflags (`fd_filestat_set_times`). */
export const FSTFLAGS = { ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 } as const;

/** clockid. */
export const CLOCK = { REALTIME: 0, MONOTONIC: 1, PROCESS_CPUTIME_ID: 2, THREAD_CPUTIME_ID: 3 } as const;

/** whence. */
export const WHENCE = { SET: 0, CUR: 1, END: 2 } as const;

/** oflags. */
export const OFLAGS = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 } as const;

/** fdflags. */
export const FDFLAGS = { APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16 } as const;

/** lookupflags. */
export const LOOKUP_SYMLINK_FOLLOW = 1;

/** rights (bit positions from typenames.witx `$rights`). */
export const RIGHTS = {
  FD_DATASYNC: 1n << 0n,
  FD_READ: 1n << 1n,
  FD_SEEK: 1n << 2n,
  FD_FDSTAT_SET_FLAGS: 1n << 3n,
  FD_SYNC: 1n << 4n,
  FD_TELL: 1n << 5n,
  FD_WRITE: 1n << 6n,
  FD_ADVISE: 1n << 7n,
  FD_ALLOCATE: 1n << 8n,
  PATH_CREATE_DIRECTORY: 1n << 9n,
  PATH_CREATE_FILE: 1n << 10n,
  PATH_LINK_SOURCE: 1n << 11n,
  PATH_LINK_TARGET: 1n << 12n,
  PATH_OPEN: 1n << 13n,
  FD_READDIR: 1n << 14n,
  PATH_READLINK: 1n << 15n,
  PATH_RENAME_SOURCE: 1n << 16n,
  PATH_RENAME_TARGET: 1n << 17n,
  PATH_FILESTAT_GET: 1n << 18n,
  PATH_FILESTAT_SET_SIZE: 1n << 19n,
  PATH_FILESTAT_SET_TIMES: 1n << 20n,
  FD_FILESTAT_GET: 1n << 21n,
  FD_FILESTAT_SET_SIZE: 1n << 22n,
  FD_FILESTAT_SET_TIMES: 1n << 23n,
  PATH_SYMLINK: 1n << 24n,
  PATH_REMOVE_DIRECTORY: 1n << 25n,
  PATH_UNLINK_FILE: 1n << 26n,
  POLL_FD_READWRITE: 1n << 27n,
  SOCK_SHUTDOWN: 1n << 28n,
  SOCK_ACCEPT: 1n << 29n,
} as const;
export const RIGHTS_ALL = (1n << 30n) - 1n;
const W = RIGHTS;
/** Rights that modify something: removed from read-only files and directories. */
export const RIGHTS_WRITE =
  W.FD_DATASYNC |
  W.FD_FDSTAT_SET_FLAGS |
  W.FD_SYNC |
  W.FD_WRITE |
  W.FD_ALLOCATE |
  W.PATH_CREATE_DIRECTORY |
  W.PATH_CREATE_FILE |
  W.PATH_LINK_SOURCE |
  W.PATH_LINK_TARGET |
  W.PATH_RENAME_SOURCE |
  W.PATH_RENAME_TARGET |
  W.PATH_FILESTAT_SET_SIZE |
  W.PATH_FILESTAT_SET_TIMES |
  W.FD_FILESTAT_SET_SIZE |
  W.FD_FILESTAT_SET_TIMES |
  W.PATH_SYMLINK |
  W.PATH_REMOVE_DIRECTORY |
  W.PATH_UNLINK_FILE;
export const RIGHTS_FILE =
  W.FD_DATASYNC |
  W.FD_READ |
  W.FD_SEEK |
  W.FD_FDSTAT_SET_FLAGS |
  W.FD_SYNC |
  W.FD_TELL |
  W.FD_WRITE |
  W.FD_ADVISE |
  W.FD_ALLOCATE |
  W.FD_FILESTAT_GET |
  W.FD_FILESTAT_SET_SIZE |
  W.FD_FILESTAT_SET_TIMES |
  W.POLL_FD_READWRITE;
/**
 * A directory's rights at WASI ABI level 0 (bundles of format 1): they wrongly include
 * FD_FILESTAT_SET_SIZE, so re-opening a directory with its own reported rights asked to write it.
 */
export const RIGHTS_DIR_V0 =
  RIGHTS_ALL &
  ~(
    W.FD_READ |
    W.FD_SEEK |
    W.FD_TELL |
    W.FD_WRITE |
    W.FD_ADVISE |
    W.FD_ALLOCATE |
    W.SOCK_SHUTDOWN |
    W.SOCK_ACCEPT |
    W.POLL_FD_READWRITE
  );
/** A directory's rights: no byte-level file rights (spec/wasi.md#W3). */
export const RIGHTS_DIR = RIGHTS_DIR_V0 & ~W.FD_FILESTAT_SET_SIZE;
export const RIGHTS_STDIO = W.FD_READ | W.FD_WRITE | W.FD_FDSTAT_SET_FLAGS | W.FD_FILESTAT_GET | W.POLL_FD_READWRITE;

/** eventtype. */
export const EVENTTYPE = { CLOCK: 0, FD_READ: 1, FD_WRITE: 2 } as const;
export const SUBCLOCKFLAGS_ABSTIME = 1;

/** Struct sizes (wasm32). */
export const SIZE = {
  iovec: 8,
  fdstat: 24,
  filestat: 64,
  prestat: 8,
  dirent: 24,
  subscription: 48,
  event: 32,
} as const;

// WASI preview1 imports used by the SDK (docklock's own deterministic implementation:
// spec/wasi.md). Only the functions the SDK needs; names stay snake_case as in the ABI.

@external("wasi_snapshot_preview1", "fd_write")
export declare function fd_write(fd: u32, iovs: usize, iovs_len: u32, nwritten: usize): u16;
@external("wasi_snapshot_preview1", "fd_read")
export declare function fd_read(fd: u32, iovs: usize, iovs_len: u32, nread: usize): u16;
@external("wasi_snapshot_preview1", "fd_close")
export declare function fd_close(fd: u32): u16;
@external("wasi_snapshot_preview1", "fd_filestat_get")
export declare function fd_filestat_get(fd: u32, buf: usize): u16;
@external("wasi_snapshot_preview1", "path_open")
export declare function path_open(dirfd: u32, dirflags: u32, path: usize, path_len: u32, oflags: u16, rights_base: u64, rights_inheriting: u64, fdflags: u16, fd_out: usize): u16;
@external("wasi_snapshot_preview1", "proc_exit")
export declare function proc_exit(code: u32): void;
@external("wasi_snapshot_preview1", "random_get")
export declare function random_get(buf: usize, len: usize): u16;
@external("wasi_snapshot_preview1", "clock_time_get")
export declare function clock_time_get(id: u32, precision: u64, time_out: usize): u16;

/** The preopened root directory ("/") every docklock run gets. */
export const ROOT_FD: u32 = 3;
export const RIGHT_FD_READ: u64 = 2;
export const RIGHT_FD_SEEK: u64 = 4;
export const RIGHT_FD_WRITE: u64 = 64;
export const RIGHT_FD_FILESTAT_GET: u64 = 1 << 21;
export const OFLAG_CREAT: u16 = 1;
export const OFLAG_TRUNC: u16 = 8;
export const CLOCK_REALTIME: u32 = 0;
export const CLOCK_MONOTONIC: u32 = 1;
@external("wasi_snapshot_preview1", "environ_sizes_get")
export declare function environ_sizes_get(count: usize, buf_size: usize): u16;
@external("wasi_snapshot_preview1", "environ_get")
export declare function environ_get(environ: usize, buf: usize): u16;

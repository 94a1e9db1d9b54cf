// Files and streams: the submission, stdout/stderr, /output.
import { environ_get, environ_sizes_get, fd_close, fd_filestat_get, fd_read, fd_write, path_open, proc_exit, OFLAG_CREAT, OFLAG_TRUNC, RIGHT_FD_FILESTAT_GET, RIGHT_FD_READ, RIGHT_FD_SEEK, RIGHT_FD_WRITE, ROOT_FD } from "./wasi";

/** Where the challenge contract puts the submission (read-only; also on stdin). */
export const SUBMISSION_PATH = "/input/submission";
/** Where the challenge writes its score. */
export const SCORE_PATH = "/output/score.json";

function relative(path: string): ArrayBuffer {
  // Paths are resolved against the preopened "/" (fd 3); WASI wants them relative.
  return String.UTF8.encode(path.startsWith("/") ? path.substring(1) : path);
}

/** Writes all bytes to a file descriptor; returns the WASI errno (0 on success). */
export function writeAll(fd: u32, data: Uint8Array): u16 {
  const iov = new ArrayBuffer(8);
  const nw = new ArrayBuffer(4);
  let off = 0;
  while (off < data.length) {
    store<u32>(changetype<usize>(iov), data.dataStart + off);
    store<u32>(changetype<usize>(iov), data.length - off, 4);
    const err = fd_write(fd, changetype<usize>(iov), 1, changetype<usize>(nw));
    if (err != 0) return err;
    const n = load<u32>(changetype<usize>(nw));
    if (n == 0) return 29; // EIO
    off += n;
  }
  return 0;
}

/** Reads a whole file, or returns null (missing, unreadable). */
export function readFile(path: string): Uint8Array | null {
  const p = relative(path);
  const fdOut = new ArrayBuffer(4);
  if (path_open(ROOT_FD, 0, changetype<usize>(p), p.byteLength, 0, RIGHT_FD_READ | RIGHT_FD_SEEK | RIGHT_FD_FILESTAT_GET, 0, 0, changetype<usize>(fdOut)) != 0) return null;
  const fd = load<u32>(changetype<usize>(fdOut));
  const stat = new ArrayBuffer(64);
  if (fd_filestat_get(fd, changetype<usize>(stat)) != 0) {
    fd_close(fd);
    return null;
  }
  const size = <i32>load<u64>(changetype<usize>(stat), 32);
  const out = new Uint8Array(size);
  const iov = new ArrayBuffer(8);
  const nr = new ArrayBuffer(4);
  let off = 0;
  while (off < size) {
    store<u32>(changetype<usize>(iov), out.dataStart + off);
    store<u32>(changetype<usize>(iov), size - off, 4);
    if (fd_read(fd, changetype<usize>(iov), 1, changetype<usize>(nr)) != 0) break;
    const n = load<u32>(changetype<usize>(nr));
    if (n == 0) break;
    off += n;
  }
  fd_close(fd);
  return off == size ? out : out.subarray(0, off);
}

/** Creates or truncates a file and writes `data`; returns the WASI errno (0 on success). */
export function writeFile(path: string, data: Uint8Array): u16 {
  const p = relative(path);
  const fdOut = new ArrayBuffer(4);
  const err = path_open(ROOT_FD, 0, changetype<usize>(p), p.byteLength, OFLAG_CREAT | OFLAG_TRUNC, RIGHT_FD_WRITE, 0, 0, changetype<usize>(fdOut));
  if (err != 0) return err;
  const fd = load<u32>(changetype<usize>(fdOut));
  const w = writeAll(fd, data);
  fd_close(fd);
  return w;
}

/** A file's size in bytes without reading it, or -1 if it cannot be opened. */
export function fileSize(path: string): i64 {
  const p = relative(path);
  const fdOut = new ArrayBuffer(4);
  if (path_open(ROOT_FD, 0, changetype<usize>(p), p.byteLength, 0, RIGHT_FD_FILESTAT_GET, 0, 0, changetype<usize>(fdOut)) != 0) return -1;
  const fd = load<u32>(changetype<usize>(fdOut));
  const stat = new ArrayBuffer(64);
  const err = fd_filestat_get(fd, changetype<usize>(stat));
  fd_close(fd);
  return err != 0 ? -1 : <i64>load<u64>(changetype<usize>(stat), 32);
}

/** The submission's size in bytes, before reading it (refuse oversized submissions first); -1 if missing. */
export function submissionSize(): i64 {
  return fileSize(SUBMISSION_PATH);
}

/** The submission's bytes (the file /input/submission); empty if it is missing. */
export function readSubmission(): Uint8Array {
  const b = readFile(SUBMISSION_PATH);
  return b === null ? new Uint8Array(0) : b;
}

/** The submission's bytes from stdin (the same bytes as the file). */
export function readStdin(): Uint8Array {
  let out = new Uint8Array(0);
  const chunk = new Uint8Array(65536);
  const iov = new ArrayBuffer(8);
  const nr = new ArrayBuffer(4);
  while (true) {
    store<u32>(changetype<usize>(iov), chunk.dataStart);
    store<u32>(changetype<usize>(iov), chunk.length, 4);
    if (fd_read(0, changetype<usize>(iov), 1, changetype<usize>(nr)) != 0) break;
    const n = <i32>load<u32>(changetype<usize>(nr));
    if (n == 0) break;
    const next = new Uint8Array(out.length + n);
    next.set(out);
    next.set(chunk.subarray(0, n), out.length);
    out = next;
  }
  return out;
}

/** Writes text to stdout. */
export function print(text: string): void {
  writeAll(1, Uint8Array.wrap(String.UTF8.encode(text)));
}

/** Writes text to stderr. */
export function printErr(text: string): void {
  writeAll(2, Uint8Array.wrap(String.UTF8.encode(text)));
}

/** An environment variable from the manifest's `env`, or null. (AssemblyScript's `process.env` is not WASI-backed.) */
export function getEnv(name: string): string | null {
  const sizes = new ArrayBuffer(8);
  if (environ_sizes_get(changetype<usize>(sizes), changetype<usize>(sizes) + 4) != 0) return null;
  const count = load<u32>(changetype<usize>(sizes));
  const size = load<u32>(changetype<usize>(sizes), 4);
  if (count == 0) return null;
  const ptrs = new ArrayBuffer(<i32>count * 4);
  const buf = new ArrayBuffer(<i32>size);
  if (environ_get(changetype<usize>(ptrs), changetype<usize>(buf)) != 0) return null;
  const prefix = name + "=";
  for (let i: u32 = 0; i < count; i++) {
    const start = load<u32>(changetype<usize>(ptrs) + (<usize>i << 2));
    let end = start;
    while (load<u8>(end) != 0) end++;
    const entry = String.UTF8.decodeUnsafe(start, end - start);
    if (entry.startsWith(prefix)) return entry.substring(prefix.length);
  }
  return null;
}

/** Ends the run with an exit code (0: success). (Use this, not AssemblyScript's `process.exit`.) */
export function exit(code: u32): void {
  proc_exit(code);
}

/**
 * AssemblyScript's `abort` for challenges (asc `--use abort=…/sdk/assemblyscript/io/dlAbort`, set by
 * scripts/build-challenges.ts): the message goes to stderr and the run exits with 134, a failed
 * evaluation.
 */
export function dlAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  printErr("abort: " + (message !== null ? message : "") + " at " + (fileName !== null ? fileName : "?") + ":" + line.toString() + ":" + column.toString() + "\n");
  proc_exit(134);
}

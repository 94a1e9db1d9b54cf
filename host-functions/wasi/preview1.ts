/**
 * docklock's WASI preview1 (`wasi_snapshot_preview1`), written for determinism rather than on top
 * of @bjorn3/browser_wasi_shim: the shim writes guest memory through its own DataViews without
 * bounds checks, so the witness could not see what it wrote, and its process-wide inode counter,
 * UTF-16 `args_sizes_get` and success for unknown clocks would each break a replay
 * (spec: spec/wasi.md#W1). Every function returns an errno and never throws, except `proc_exit`.
 */
import { ChaCha20Stream } from '../random/chacha20.ts';
import { VirtualClock } from '../clock/virtual-clock.ts';
import { CLOCK, ERRNO, EVENTTYPE, SIZE, SUBCLOCKFLAGS_ABSTIME } from './defs.ts';
import { FdTable } from './fd-table.ts';
import { fileFunctions, WASI_LEVEL } from './files.ts';
import type { FileState } from './files.ts';
import { FileTree, Quota, QuotaExceeded } from './fs.ts';
import type { DirNode } from './fs.ts';
import { OutputCapture, OutputLimit } from './output.ts';
import { RunEnd } from '../../runtime/store.ts';
import type { HostCalls, HostValue } from '../../runtime/store.ts';
import { Struct } from '../../runtime/store.ts';

/** `proc_exit`: unwinds the guest (shim's `WASIProcExit`). */
export class ProcExit extends RunEnd {
  readonly code: number;
  constructor(code: number) {
    super(`guest exited with code ${code}`);
    this.name = 'ProcExit';
    this.code = code;
  }
}

export { OutputLimit };

export interface WasiConfig {
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  seed: Uint8Array;
  clockStart: bigint;
  clockStep: bigint;
  stdin: Uint8Array;
  /**
   * Inputs: guest path → contents (a key ending in `/` is a directory). Under a writable directory
   * and outside every declared input they are that directory's writable initial content.
   */
  inputs: ReadonlyMap<string, Uint8Array>;
  /** Guest paths of the writable directories (`/` allowed); default none. */
  writable?: readonly string[];
  /** Guest paths the manifest declares as (read-only) inputs; default none. */
  inputPaths?: readonly string[];
  outputDir: string;
  scratchDir: string;
  limits: { stdout: number; stderr: number; output: number; scratch: number };
  /** Which function groups are granted: `wasi` (files, args, env, proc), `random`, `clock`. */
  grants: ReadonlySet<string>;
  /** WASI ABI level (spec/wasi.md#W6); default the current one. A replay passes its bundle's. */
  level?: number;
}

/**
 * Every preview1 function docklock implements, in the order a grant lists them for `compile`. The
 * implementation table in {@link createWasi} has exactly these keys (a type check there fails on
 * any name added to one and not the other), so the names a grant allows are the implemented ones.
 */
export const WASI_FUNCTIONS = [
  'args_get',
  'args_sizes_get',
  'environ_get',
  'environ_sizes_get',
  'clock_res_get',
  'clock_time_get',
  'fd_advise',
  'fd_allocate',
  'fd_close',
  'fd_datasync',
  'fd_fdstat_get',
  'fd_fdstat_set_flags',
  'fd_fdstat_set_rights',
  'fd_filestat_get',
  'fd_filestat_set_size',
  'fd_filestat_set_times',
  'fd_pread',
  'fd_prestat_get',
  'fd_prestat_dir_name',
  'fd_pwrite',
  'fd_read',
  'fd_readdir',
  'fd_renumber',
  'fd_seek',
  'fd_sync',
  'fd_tell',
  'fd_write',
  'path_create_directory',
  'path_filestat_get',
  'path_filestat_set_times',
  'path_link',
  'path_open',
  'path_readlink',
  'path_remove_directory',
  'path_rename',
  'path_symlink',
  'path_unlink_file',
  'poll_oneoff',
  'proc_exit',
  'proc_raise',
  'sched_yield',
  'random_get',
  'sock_accept',
  'sock_recv',
  'sock_send',
  'sock_shutdown',
] as const;
export type WasiFunction = (typeof WASI_FUNCTIONS)[number];

/** `true` only when `A` and `B` are the same union of names. */
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Functions of the `random` and `clock` groups; everything else in preview1 is `wasi`. */
const GROUP_OF: Record<string, string> = {
  random_get: 'random',
  clock_time_get: 'clock',
  clock_res_get: 'clock',
  poll_oneoff: 'clock',
};

const utf8 = new TextEncoder();

function encodeList(items: readonly string[]): Uint8Array[] {
  // Sizes are counted in UTF-8 bytes, the same bytes args_get writes (the shim counted UTF-16 units).
  return items.map((s) => utf8.encode(`${s}\0`));
}

export interface WasiHost {
  imports: Record<string, (...args: HostValue[]) => HostValue | undefined>;
  stdout: OutputCapture;
  stderr: OutputCapture;
  tree: FileTree;
  clock: VirtualClock;
  /** The WASI ABI level the run answers at (spec/wasi.md#W6). */
  level: number;
  /** Final content of /output and every writable directory: guest path → bytes (scratch left out). */
  outputs(): Map<string, Uint8Array>;
}

function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);
}

/**
 * Builds a fresh WASI host for one run: nothing is shared with any other run.
 * @param calls the witness recorder every function goes through
 */
export function createWasi(calls: HostCalls, cfg: WasiConfig): WasiHost {
  const mem = calls.mem;
  const clock = new VirtualClock(cfg.clockStart, cfg.clockStep);
  const rng = new ChaCha20Stream(cfg.seed);
  const level = cfg.level ?? WASI_LEVEL;
  // Level 1 stamps a new node with the virtual clock, never the host's; level 0 stamped nothing.
  // Level 5 charges directory entries and open files' bytes to the quotas (spec/wasi.md#W10).
  const tree = new FileTree(level === 0 ? undefined : () => clock.peek(CLOCK.REALTIME), level >= 5);
  const outputQuota = new Quota(cfg.outputDir, cfg.limits.output);
  const scratchQuota = new Quota(cfg.scratchDir, cfg.limits.scratch);
  const writable = cfg.writable ?? [];
  const inputPaths = cfg.inputPaths ?? [];
  // Writable directories share /output's quota: their final content is output too (spec/wasi.md#W3).
  const mounts: DirNode[] = [];
  for (const w of writable) {
    if (w === '/') {
      tree.root.readonly = false;
      tree.root.quota = outputQuota;
      mounts.push(tree.root);
    } else {
      const cut = w.lastIndexOf('/');
      const parent = tree.mkdirs(w.slice(0, cut), true);
      tree.admit(parent, w.slice(cut + 1), undefined, true);
      const dir = tree.dir(false, outputQuota);
      parent.children.set(w.slice(cut + 1), dir);
      mounts.push(dir);
    }
  }
  for (const [path, data] of [...cfg.inputs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const isDir = path.endsWith('/');
    const plain = isDir ? path.slice(0, -1) : path;
    const own = writable.some((w) => within(plain, w)) && !inputPaths.some((i) => within(plain, i));
    if (isDir) tree.mkdirs(plain, !own, own ? outputQuota : undefined);
    else if (!own) tree.addFile(path, data);
    else {
      // A copy: the guest may change it, and the bundle must keep the initial bytes.
      const cut = path.lastIndexOf('/');
      // The file's inode number comes before its directories' (the order every level has seen).
      const file = tree.file(false, data.slice(), outputQuota);
      outputQuota.used += data.length;
      const parent = tree.mkdirs(path.slice(0, cut), false, outputQuota);
      tree.admit(parent, path.slice(cut + 1), undefined, true);
      parent.children.set(path.slice(cut + 1), file);
    }
  }
  tree.mkdirs(cfg.outputDir, false, outputQuota);
  tree.mkdirs(cfg.scratchDir, false, scratchQuota);
  const stdout = new OutputCapture('stdout', cfg.limits.stdout);
  const stderr = new OutputCapture('stderr', cfg.limits.stderr);
  const fds = new FdTable((f) => tree.closed(f));
  fds.open({ kind: 'stdin' });
  fds.open({ kind: 'out', capture: stdout });
  fds.open({ kind: 'out', capture: stderr });
  fds.open({ kind: 'dir', node: tree.root, preopen: '/' });
  // Each writable directory below the root is a preopen of its own (fd 4, 5, … in path order).
  writable.forEach((w, i) => {
    if (w !== '/') fds.open({ kind: 'dir', node: mounts[i]!, preopen: w });
  });
  const args = encodeList(['main', ...cfg.args]);
  const env = encodeList(
    Object.keys(cfg.env)
      .sort()
      .map((k) => `${k}=${cfg.env[k]}`),
  );

  const notSocket = (fd: number): number =>
    level === 0 ? ERRNO.NOTSUP : fds.get(fd) === undefined ? ERRNO.BADF : ERRNO.NOTSOCK;
  const st: FileState = {
    mem,
    fds,
    tree,
    stdin: cfg.stdin,
    stdinPos: 0,
    level,
    now: () => clock.peek(CLOCK.REALTIME),
    onQuotaExceeded: (e: QuotaExceeded): number => {
      if (e.quota === outputQuota)
        throw new OutputLimit(`${cfg.outputDir} exceeded its limit of ${e.quota.limit} bytes`);
      return ERRNO.NOSPC;
    },
  };

  const writeList = (list: Uint8Array[], ptrs: number, buf: number): number => {
    let total = 0;
    for (const s of list) total += s.length;
    mem.check(ptrs, list.length * 4);
    mem.check(buf, total);
    const table = new Struct(list.length * 4);
    const strings = new Uint8Array(total);
    let off = 0;
    list.forEach((s, i) => {
      table.u32(i * 4, buf + off);
      strings.set(s, off);
      off += s.length;
    });
    if (list.length > 0) mem.write(ptrs, table.bytes);
    if (total > 0) mem.write(buf, strings);
    return ERRNO.SUCCESS;
  };
  const writeSizes = (list: Uint8Array[], countPtr: number, sizePtr: number): number => {
    mem.check(countPtr, 4);
    mem.check(sizePtr, 4);
    mem.setU32(countPtr, list.length);
    mem.setU32(
      sizePtr,
      list.reduce((n, s) => n + s.length, 0),
    );
    return ERRNO.SUCCESS;
  };

  // Its keys are exactly WASI_FUNCTIONS (checked below): the names a grant allows come from here.
  const impl = {
    ...fileFunctions(st),
    args_get: (argv: number, buf: number) => writeList(args, argv, buf),
    args_sizes_get: (countPtr: number, sizePtr: number) => writeSizes(args, countPtr, sizePtr),
    environ_get: (envp: number, buf: number) => writeList(env, envp, buf),
    environ_sizes_get: (countPtr: number, sizePtr: number) => writeSizes(env, countPtr, sizePtr),
    clock_res_get(id: number, ptr: number): number {
      if (id < CLOCK.REALTIME || id > CLOCK.THREAD_CPUTIME_ID) return ERRNO.INVAL;
      mem.setU64(ptr, clock.step);
      return ERRNO.SUCCESS;
    },
    clock_time_get(id: number, _precision: bigint, ptr: number): number {
      mem.check(ptr, 8);
      const t = clock.read(id);
      if (t === undefined) return ERRNO.INVAL;
      mem.setU64(ptr, t);
      return ERRNO.SUCCESS;
    },
    random_get(buf: number, len: number): number {
      const view = mem.bytes(buf, len);
      rng.fill(view);
      mem.recordWrite(buf, view);
      return ERRNO.SUCCESS;
    },
    poll_oneoff(inPtr: number, outPtr: number, nsubs: number, neventsPtr: number): number {
      if (nsubs === 0) return ERRNO.INVAL;
      if (nsubs > 4096) return ERRNO.INVAL;
      mem.check(inPtr, nsubs * SIZE.subscription);
      mem.check(outPtr, nsubs * SIZE.event);
      mem.check(neventsPtr, 4);
      // Descriptors are always ready; clocks fire in virtual time: the earliest deadline wins and the
      // clock jumps there instead of waiting (spec: spec/wasi.md#W2).
      const ready: Struct[] = [];
      let earliest: bigint | undefined;
      const clocks: { userdata: bigint; deadline: bigint }[] = [];
      for (let i = 0; i < nsubs; i++) {
        const s = inPtr + i * SIZE.subscription;
        const userdata = mem.u64(s);
        const tag = mem.u8(s + 8);
        if (tag === EVENTTYPE.CLOCK) {
          const id = mem.u32(s + 16);
          const timeout = mem.u64(s + 24);
          const flags = mem.u16(s + 40);
          if (id > CLOCK.THREAD_CPUTIME_ID) {
            ready.push(new Struct(SIZE.event).u64(0, userdata).u16(8, ERRNO.INVAL).u8(10, tag));
            continue;
          }
          const now = clock.peek(id);
          const wait = flags & SUBCLOCKFLAGS_ABSTIME ? (timeout > now ? timeout - now : 0n) : timeout;
          clocks.push({ userdata, deadline: wait });
          if (earliest === undefined || wait < earliest) earliest = wait;
        } else if (tag === EVENTTYPE.FD_READ || tag === EVENTTYPE.FD_WRITE) {
          const fd = mem.u32(s + 16);
          const e = fds.get(fd);
          const ev = new Struct(SIZE.event).u64(0, userdata).u8(10, tag);
          if (e === undefined) ev.u16(8, ERRNO.BADF);
          else if (tag === EVENTTYPE.FD_READ && e.kind === 'stdin') ev.u64(16, BigInt(cfg.stdin.length - st.stdinPos));
          else if (tag === EVENTTYPE.FD_READ && e.kind === 'file') ev.u64(16, BigInt(Math.max(0, e.node.size - e.pos)));
          ready.push(ev);
        } else {
          return ERRNO.INVAL;
        }
      }
      if (ready.length === 0 && earliest !== undefined) {
        clock.advance(earliest);
        for (const c of clocks)
          if (c.deadline === earliest) ready.push(new Struct(SIZE.event).u64(0, c.userdata).u8(10, EVENTTYPE.CLOCK));
      }
      ready.forEach((ev, i) => mem.write(outPtr + i * SIZE.event, ev.bytes));
      mem.setU32(neventsPtr, ready.length);
      return ERRNO.SUCCESS;
    },
    proc_exit(code: number): void {
      throw new ProcExit(code >>> 0);
    },
    proc_raise: () => ERRNO.NOTSUP,
    sched_yield: () => ERRNO.SUCCESS,
    // No sockets exist in the cage; the recorded network is docklock.http_* (spec: spec/wasi.md#W4).
    // Level 1 answers as POSIX does for a descriptor that is no socket: BADF or NOTSOCK.
    sock_accept: (fd: number) => notSocket(fd),
    sock_recv: (fd: number) => notSocket(fd),
    sock_send: (fd: number) => notSocket(fd),
    sock_shutdown: (fd: number) => notSocket(fd),
  } satisfies Record<WasiFunction, (...args: never[]) => HostValue | void>;
  const exact: SameKeys<keyof typeof impl, WasiFunction> = true;
  void exact;

  const imports: Record<string, (...args: HostValue[]) => HostValue | undefined> = {};
  for (const [name, f] of Object.entries(impl)) {
    const group = GROUP_OF[name] ?? 'wasi';
    if (!cfg.grants.has(group)) continue;
    imports[name] = calls.wrap(`wasi_snapshot_preview1.${name}`, f);
  }
  const outputs = (): Map<string, Uint8Array> => {
    const out = tree.collect(cfg.outputDir);
    const skip = new Set([cfg.scratchDir, cfg.outputDir]);
    for (const w of writable) for (const [p, d] of tree.collect(w, skip)) out.set(p, d);
    return out;
  };
  return { imports, stdout, stderr, tree, clock, level, outputs };
}

/** The preview1 import names in a group, for grants → `compile({ imports })`. */
export function wasiImportNames(grants: ReadonlySet<string>): string[] {
  return WASI_FUNCTIONS.filter((n) => grants.has(GROUP_OF[n] ?? 'wasi')).map((n) => `wasi_snapshot_preview1.${n}`);
}

/**
 * docklock's WASI 0.2 host for components (the `wasi:cli/command` world): cli, clocks, random,
 * filesystem and io, as the objects jco's glue takes (`imports['wasi:cli/stdout']` and so on).
 * jco's own @bytecodealliance/preview2-shim reads the real clocks, randomness and filesystem; this
 * host answers from the cage's preview1 host instead (./p1.ts), so a component sees the same
 * virtual clock, seeded ChaCha20 stream, file tree and output limits as a core module, and every
 * value it receives is a witness entry. wasi:http's client side goes through the recorded network
 * (./http.ts); sockets are not offered (docs/components.md).
 */
import { CLOCK, SUBCLOCKFLAGS_ABSTIME, EVENTTYPE, SIZE } from '../wasi/defs.ts';
import { Errno, P1 } from './p1.ts';
import { filesystem } from './filesystem.ts';
import { InputStream, IoError, OutputStream, Pollable, poll } from './io.ts';
import { wasiHttp } from './http.ts';
import type { VirtualDeadline } from './io.ts';
import type { GuestMemory, HostValue } from '../../runtime/store.ts';

/**
 * The interfaces this host implements (unversioned), and the grant each needs. `wasi:http/types`
 * alone is data (fields, requests, responses) and reaches nothing; ComponentizeJS's engine imports
 * it even with its HTTP feature off. Sending a request needs `wasi:http/outgoing-handler`, hence `net`.
 */
export const P2_INTERFACES: Readonly<Record<string, 'wasi' | 'clock' | 'random' | 'net'>> = {
  'wasi:cli/environment': 'wasi',
  'wasi:cli/exit': 'wasi',
  'wasi:cli/stdin': 'wasi',
  'wasi:cli/stdout': 'wasi',
  'wasi:cli/stderr': 'wasi',
  'wasi:cli/terminal-input': 'wasi',
  'wasi:cli/terminal-output': 'wasi',
  'wasi:cli/terminal-stdin': 'wasi',
  'wasi:cli/terminal-stdout': 'wasi',
  'wasi:cli/terminal-stderr': 'wasi',
  'wasi:io/error': 'wasi',
  'wasi:io/poll': 'wasi',
  'wasi:io/streams': 'wasi',
  'wasi:filesystem/types': 'wasi',
  'wasi:filesystem/preopens': 'wasi',
  'wasi:clocks/wall-clock': 'clock',
  'wasi:clocks/monotonic-clock': 'clock',
  'wasi:random/random': 'random',
  'wasi:random/insecure': 'random',
  'wasi:random/insecure-seed': 'random',
  'wasi:http/types': 'wasi',
  'wasi:http/outgoing-handler': 'net',
};

/** No stream of the cage is a terminal (spec/wasi.md). */
class TerminalInput {}
class TerminalOutput {}

/**
 * The host for one run.
 * @param p1 the run's preview1 functions, and `docklock.http_*` when `net` is granted (all already
 *   wrapped by the witness recorder)
 * @param mem the recorder's memory view; it is pointed at this host's scratch memory
 * @param maxRequestBytes the manifest's `network.limits.maxRequestBytes`
 * @param memoryLimit the manifest's `limits.memory` (what wasi:http may hold for the guest)
 */
export function createWasiP2(
  p1fns: Readonly<Record<string, ((...a: HostValue[]) => HostValue | undefined) | undefined>>,
  mem: GuestMemory,
  maxRequestBytes: number,
  memoryLimit: number,
): Record<string, Record<string, unknown>> {
  const p1 = new P1(p1fns, mem);
  const fs = filesystem(p1);

  const list = (sizes: string, get: string): string[] => {
    const p = p1.begin();
    const count = p.alloc(4);
    const size = p.alloc(4);
    p.ok(sizes, count, size);
    const n = p.u32(count);
    const ptrs = p.alloc(n * 4);
    const buf = p.alloc(p.u32(size));
    p.ok(get, ptrs, buf);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const at = p.u32(ptrs + i * 4);
      let end = at;
      while (p.u8(end) !== 0) end++;
      out.push(p.text(at, end - at));
    }
    return out;
  };

  const clockNow = (id: number): bigint => {
    const p = p1.begin();
    const at = p.alloc(8);
    p.ok('clock_time_get', id, 0n, at);
    return p.u64(at);
  };
  const clockRes = (id: number): bigint => {
    const p = p1.begin();
    const at = p.alloc(8);
    p.ok('clock_res_get', id, at);
    return p.u64(at);
  };
  /** A monotonic deadline: read through clock_time_get, waited for with poll_oneoff (the clock jumps). */
  const deadline = (at: bigint): VirtualDeadline => ({
    remaining: () => {
      const now = clockNow(CLOCK.MONOTONIC);
      return at > now ? at - now : 0n;
    },
    reached: () => clockNow(CLOCK.MONOTONIC) >= at,
    wait: () => {
      const p = p1.begin();
      const sub = p.alloc(SIZE.subscription);
      p.setU64(sub, 0n);
      p.setU32(sub + 8, EVENTTYPE.CLOCK);
      p.setU32(sub + 16, CLOCK.MONOTONIC);
      p.setU64(sub + 24, at);
      p.setU64(sub + 32, 0n);
      p.setU32(sub + 40, SUBCLOCKFLAGS_ABSTIME);
      const ev = p.alloc(SIZE.event);
      p.ok('poll_oneoff', sub, ev, 1, p.alloc(4));
    },
  });
  const randomBytes = (len: bigint): Uint8Array => {
    const p = p1.begin();
    const n = Number(len);
    const at = p.alloc(n);
    p.ok('random_get', at, n);
    return p.u8s(at, n);
  };
  const randomU64 = (): bigint => {
    const b = randomBytes(8n);
    return new DataView(b.buffer).getBigUint64(0, true);
  };

  const stdin = (): InputStream => new InputStream(p1, 0);
  const stdout = (): OutputStream => new OutputStream(p1, 1);
  const stderr = (): OutputStream => new OutputStream(p1, 2);
  const exit = (code: number): never => {
    p1.begin().call('proc_exit', code);
    // proc_exit always unwinds; reaching here means it was not granted.
    throw new Errno(58);
  };

  return {
    'wasi:cli/environment': {
      getEnvironment: (): [string, string][] =>
        list('environ_sizes_get', 'environ_get').map((kv) => {
          const eq = kv.indexOf('=');
          return [kv.slice(0, eq), kv.slice(eq + 1)];
        }),
      getArguments: (): string[] => list('args_sizes_get', 'args_get'),
      initialCwd: (): string | undefined => undefined,
    },
    'wasi:cli/exit': {
      exit: (status: { tag: string }) => exit(status.tag === 'ok' ? 0 : 1),
      exitWithCode: (code: number) => exit(code),
    },
    'wasi:cli/stdin': { getStdin: stdin },
    'wasi:cli/stdout': { getStdout: stdout },
    'wasi:cli/stderr': { getStderr: stderr },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: (): undefined => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: (): undefined => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: (): undefined => undefined },
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:filesystem/types': fs.types,
    'wasi:filesystem/preopens': fs.preopens,
    'wasi:clocks/wall-clock': {
      now: () => {
        const ns = clockNow(CLOCK.REALTIME);
        return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
      },
      resolution: () => {
        const ns = clockRes(CLOCK.REALTIME);
        return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
      },
    },
    'wasi:clocks/monotonic-clock': {
      now: () => clockNow(CLOCK.MONOTONIC),
      resolution: () => clockRes(CLOCK.MONOTONIC),
      subscribeInstant: (when: bigint) => new Pollable(deadline(when)),
      subscribeDuration: (d: bigint) => new Pollable(deadline(clockNow(CLOCK.MONOTONIC) + d)),
    },
    'wasi:random/random': { getRandomBytes: randomBytes, getRandomU64: randomU64 },
    'wasi:random/insecure': { getInsecureRandomBytes: randomBytes, getInsecureRandomU64: randomU64 },
    'wasi:random/insecure-seed': { insecureSeed: (): [bigint, bigint] => [randomU64(), randomU64()] },
    ...wasiHttp(p1, maxRequestBytes, memoryLimit),
  };
}

/**
 * Instrumented modules kept on disk between processes, for a command that runs the same module
 * again and again (`docklock run` called once per input file): a hit skips decoding, validating
 * and instrumenting, and only V8 compiles, as wasmtime's cache skips its compiler.
 *
 * An entry is found by the engine's cache key (module hash, instrumenter version, cost table and
 * every option that changes the instrumented bytes), so it is what instrumenting would give. The
 * folder must be this user's own and writable by nobody else, or it is not used: whoever can write
 * an entry decides the code a run executes. An entry carries its BLAKE3; one that is cut short or
 * damaged is a miss and is written again. Writes are atomic (rename), and the folder keeps at
 * most {@link MAX_ENTRIES} entries, the oldest dropped first.
 */
import { readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPrivateDir, userCacheDir } from './user-cache.ts';
import { blake3 } from './hash.ts';
import type { SharedCompiledModule } from './compiled-module.ts';

/** What an entry holds: a compiled module's description without the V8 module itself. */
export type CachedInstrumentation = Omit<SharedCompiledModule, 'module' | 'moduleHash' | 'key'>;

const MAGIC = new TextEncoder().encode('DLIC\u0001');
const HEADER = MAGIC.length + 32 + 4;
export const MAX_ENTRIES = 256;

/** `DOCKLOCK_INSTRUMENT_CACHE` ("off" disables it), else `<user cache>/docklock/instrumented`. */
export function instrumentCacheDir(): string | null {
  const own = process.env.DOCKLOCK_INSTRUMENT_CACHE;
  if (own === 'off') return null;
  if (own !== undefined && own !== '') return own;
  return userCacheDir('instrumented');
}

/** Plain data (the bytes fields as byte arrays) in JSON; the instrumented bytes follow it raw. */
function encode(v: CachedInstrumentation): Uint8Array {
  const meta = new TextEncoder().encode(
    JSON.stringify({ ...v, instrumented: undefined }, (_k, x: unknown) =>
      x instanceof Uint8Array ? { u8: Array.from(x) } : x,
    ),
  );
  const payload = new Uint8Array(meta.length + v.instrumented.length);
  payload.set(meta);
  payload.set(v.instrumented, meta.length);
  const out = new Uint8Array(HEADER + payload.length);
  out.set(MAGIC);
  out.set(blake3(payload), MAGIC.length);
  new DataView(out.buffer).setUint32(MAGIC.length + 32, meta.length, true);
  out.set(payload, HEADER);
  return out;
}

function decode(bytes: Uint8Array): CachedInstrumentation | undefined {
  if (bytes.length < HEADER || !MAGIC.every((b, i) => bytes[i] === b)) return undefined;
  const payload = bytes.subarray(HEADER);
  const sum = blake3(payload);
  if (!sum.every((b, i) => bytes[MAGIC.length + i] === b)) return undefined;
  const metaLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length + 32, true);
  if (metaLen > payload.length) return undefined;
  const meta = JSON.parse(new TextDecoder().decode(payload.subarray(0, metaLen)), (_k, x: unknown) =>
    x !== null && typeof x === 'object' && Array.isArray((x as { u8?: unknown }).u8)
      ? Uint8Array.from((x as { u8: number[] }).u8)
      : x,
  ) as Omit<CachedInstrumentation, 'instrumented'>;
  if (!Array.isArray(meta.imports) || !Array.isArray(meta.exports) || typeof meta.memoryLimitPages !== 'number')
    return undefined;
  return { ...meta, instrumented: payload.slice(metaLen) };
}

/** One cache folder. Every failure to read or write is a miss: the cache never fails a run. */
export class InstrumentCache {
  readonly dir: string;
  #usable: boolean | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  #ok(): boolean {
    this.#usable ??= isPrivateDir(this.dir);
    return this.#usable;
  }

  get(key: string): CachedInstrumentation | undefined {
    if (!this.#ok()) return undefined;
    try {
      return decode(new Uint8Array(readFileSync(join(this.dir, `${key}.dlic`))));
    } catch {
      return undefined;
    }
  }

  put(key: string, value: CachedInstrumentation): void {
    if (!this.#ok()) return;
    const file = join(this.dir, `${key}.dlic`);
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      writeFileSync(tmp, encode(value), { mode: 0o600, flag: 'wx' });
      renameSync(tmp, file);
      this.#prune();
    } catch {
      rmSync(tmp, { force: true });
    }
  }

  /** Drops the oldest entries (by modification time) beyond {@link MAX_ENTRIES}. */
  #prune(): void {
    const names = readdirSync(this.dir).filter((n) => n.endsWith('.dlic'));
    if (names.length <= MAX_ENTRIES) return;
    const aged = names
      .map((n) => {
        try {
          return { n, t: statSync(join(this.dir, n)).mtimeMs };
        } catch {
          return { n, t: 0 };
        }
      })
      .sort((a, b) => a.t - b.t);
    for (const { n } of aged.slice(0, names.length - MAX_ENTRIES)) rmSync(join(this.dir, n), { force: true });
  }
}

/**
 * Bundles as content-addressed files, written to a temporary name and renamed once their hash is
 * checked, so a file under its hash name is the bundle that hashes to it:
 *
 * - `<data>/bundles/<first 2 hex>/<BLAKE3 hex>.dlb`: bundles this node published, fsync'd (a claim
 *   it signed must stay servable after a crash);
 * - `<data>/bundles/cache/<BLAKE3 hex>.dlb`: bundles over 1 MiB fetched from peers to replay, not
 *   fsync'd (a forced flush cost more than the 10 MiB transfer itself) and emptied at every start,
 *   since a crash may leave one torn; smaller fetched bundles stay in memory only. Any of them can
 *   be fetched again by hash.
 */
import { createReadStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import type { ReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { blake3 } from '../index.ts';
import { P2PError } from './errors.ts';
import { hex } from './wire.ts';

/** Bundles up to this size are also kept in memory after a put, up to {@link RECENT_MAX_BYTES} in all. */
const RECENT_MAX_BUNDLE = 1024 * 1024;
const RECENT_MAX_BYTES = 16 * 1024 * 1024;

export class BundleStore {
  readonly dir: string;
  readonly #cache: string;
  // Small bundles just published or fetched, in memory: the k replayers of a claim all fetch its
  // bundle from the claimer within milliseconds, and a file open/read/close per request was most of
  // a small bundle's fetch time (bench:p2p latency trace). Bounded by bytes, oldest first.
  readonly #recent = new Map<string, Uint8Array>();
  #recentBytes = 0;
  constructor(dataDir: string) {
    this.dir = join(dataDir, 'bundles');
    this.#cache = join(this.dir, 'cache');
    rmSync(this.#cache, { recursive: true, force: true });
    mkdirSync(this.#cache, { recursive: true });
    mkdirSync(join(this.dir, 'tmp'), { recursive: true });
  }

  /** Where a published bundle lives. */
  path(hashHex: string): string {
    return join(this.dir, hashHex.slice(0, 2), `${hashHex}.dlb`);
  }

  #cachePath(hashHex: string): string {
    return join(this.#cache, `${hashHex}.dlb`);
  }

  /** The file holding a bundle (published or cached) and its size, if any. */
  #find(hashHex: string): { path: string; size: number } | undefined {
    for (const path of [this.path(hashHex), this.#cachePath(hashHex)]) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st !== undefined) return { path, size: st.size };
    }
    return undefined;
  }

  has(hashHex: string): boolean {
    return this.#recent.has(hashHex) || this.#find(hashHex) !== undefined;
  }

  size(hashHex: string): number | undefined {
    return this.#recent.get(hashHex)?.length ?? this.#find(hashHex)?.size;
  }

  /** The bundle's bytes if it is among the recent small ones held in memory. */
  recent(hashHex: string): Uint8Array | undefined {
    return this.#recent.get(hashHex);
  }

  #remember(hashHex: string, bytes: Uint8Array): void {
    if (bytes.length > RECENT_MAX_BUNDLE || this.#recent.has(hashHex)) return;
    this.#recent.set(hashHex, bytes);
    this.#recentBytes += bytes.length;
    for (const [h, b] of this.#recent) {
      if (this.#recentBytes <= RECENT_MAX_BYTES) break;
      this.#recent.delete(h);
      this.#recentBytes -= b.length;
    }
  }

  read(hashHex: string): Uint8Array {
    const mem = this.#recent.get(hashHex);
    if (mem !== undefined) return mem;
    const f = this.#find(hashHex);
    if (f === undefined)
      throw new P2PError('DL_ERR_P2P_BUNDLE_NOT_FOUND', `bundle ${hashHex} is not stored`, { field: 'bundle' });
    return new Uint8Array(readFileSync(f.path));
  }

  /**
   * The bundle's bytes in 1 MiB reads: with 256 KiB reads a 10 MiB transfer spent a fifth of its
   * time waiting for the next read (bench:p2p, 10 MiB medians ~110 → ~140 MiB/s in one process).
   */
  stream(hashHex: string, highWaterMark = 1024 * 1024): ReadStream {
    return createReadStream(this.#find(hashHex)?.path ?? this.path(hashHex), { highWaterMark });
  }

  /**
   * Stores a bundle this node publishes (durably); returns its hash. Asynchronous: the fsync runs
   * on libuv's thread pool, not on the event loop every node protocol shares.
   */
  async put(bytes: Uint8Array): Promise<string> {
    const h = hex(blake3(bytes));
    if (statSync(this.path(h), { throwIfNoEntry: false }) === undefined)
      await this.#write(this.path(h), h, bytes, true);
    this.#remember(h, bytes);
    return h;
  }

  /**
   * Caches a fetched bundle whose BLAKE3 the caller has just checked (a fetch hashes while
   * receiving). A small one is kept in memory only: it is replayed at once and, if evicted, fetched
   * again by hash; four file operations per replayer were a visible share of a claim's cost.
   */
  async putHashed(hashHex: string, bytes: Uint8Array): Promise<string> {
    if (this.has(hashHex)) return hashHex;
    if (bytes.length > RECENT_MAX_BUNDLE) await this.#write(this.#cachePath(hashHex), hashHex, bytes, false);
    this.#remember(hashHex, bytes);
    return hashHex;
  }

  /** Writes into a temporary file, then renames it to `path`; the caller has checked the hash. */
  async #write(path: string, hashHex: string, bytes: Uint8Array, durable: boolean): Promise<void> {
    const tmp = join(this.dir, 'tmp', `${hashHex}.${randomBytes(6).toString('hex')}`);
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(bytes);
        if (durable) await fh.sync();
      } finally {
        await fh.close();
      }
      await mkdir(dirname(path), { recursive: true });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new P2PError(
        'DL_ERR_P2P_STORE',
        `cannot write bundle ${hashHex}: ${(e as Error).message}`,
        { field: 'bundle' },
        { cause: e },
      );
    }
  }
}

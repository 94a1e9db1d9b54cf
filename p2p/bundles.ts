/**
 * Bundles as content-addressed files: `<data>/bundles/<first 2 hex>/<BLAKE3 hex>.dlb`, written to a
 * temporary name and renamed once their hash is checked, so a file under its hash name is always
 * the bundle that hashes to it.
 */
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import type { ReadStream } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { blake3 } from '../index.ts';
import { P2PError } from './errors.ts';
import { hex } from './wire.ts';

export class BundleStore {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = join(dataDir, 'bundles');
    mkdirSync(join(this.dir, 'tmp'), { recursive: true });
  }

  path(hashHex: string): string {
    return join(this.dir, hashHex.slice(0, 2), `${hashHex}.dlb`);
  }

  has(hashHex: string): boolean {
    return existsSync(this.path(hashHex));
  }

  size(hashHex: string): number | undefined {
    return statSync(this.path(hashHex), { throwIfNoEntry: false })?.size;
  }

  read(hashHex: string): Uint8Array {
    return new Uint8Array(readFileSync(this.path(hashHex)));
  }

  stream(hashHex: string, highWaterMark = 256 * 1024): ReadStream {
    return createReadStream(this.path(hashHex), { highWaterMark });
  }

  /** Stores bytes already in memory; returns their hash. */
  put(bytes: Uint8Array): string {
    return this.putHashed(hex(blake3(bytes)), bytes);
  }

  /** Stores bytes whose BLAKE3 the caller has just checked (a fetch hashes while receiving). */
  putHashed(hashHex: string, bytes: Uint8Array): string {
    if (!this.has(hashHex)) this.commit(hashHex, (fd) => void writeSync(fd, bytes));
    return hashHex;
  }

  /**
   * Writes a bundle through `write` into a temporary file, then moves it under `hashHex`.
   * The caller has checked the hash of what it wrote.
   */
  commit(hashHex: string, write: (fd: number) => void): void {
    const tmp = join(this.dir, 'tmp', `${hashHex}.${randomBytes(6).toString('hex')}`);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      write(fd);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw new P2PError(
        'DL_ERR_P2P_STORE',
        `cannot write bundle ${hashHex}: ${(e as Error).message}`,
        { field: 'bundle' },
        { cause: e },
      );
    }
    closeSync(fd);
    mkdirSync(join(this.dir, hashHex.slice(0, 2)), { recursive: true });
    renameSync(tmp, this.path(hashHex));
  }
}

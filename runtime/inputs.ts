/**
 * Reads the host files a manifest maps into the cage (paths relative to the manifest's folder):
 * single input files, input directory trees and the initial content of writable directories
 * (spec/wasi.md#W3). Everything read becomes one map, guest path → bytes, that the bundle stores
 * and the input hash covers, so a replay needs none of the host files.
 *
 * A directory is written as a key ending in `/` with no bytes (an input directory gets one for
 * itself, so an empty one still exists; a writable directory's own entry comes from the manifest).
 * Names are walked in byte-wise order; symbolic links are followed only while they stay inside
 * the mapped tree, and anything but files, directories and such links is refused.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync, type Stats, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { InputError } from './errors.ts';
import type { CageManifest } from './manifest/parse.ts';

/** Largest single input file read from the host: 1 GiB. */
export const MAX_INPUT_BYTES = 2 ** 30;
/** Most files and directories all mapped trees may hold together. */
export const MAX_TREE_ENTRIES = 100_000;
/** Most bytes all inputs and writable directories may hold together: 1 GiB. */
export const MAX_TREE_BYTES = 2 ** 30;
/** Deepest directory nesting below a mapped directory. */
export const MAX_TREE_DEPTH = 64;

const utf8 = new TextEncoder();
// ignoreBOM keeps a name's leading U+FEFF (the default would drop it and rename the file).
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const byteOrder = (a: string, b: string): number => Buffer.compare(utf8.encode(a), utf8.encode(b));

function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);
}

function childGuest(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function readManifestInputs(m: CageManifest, baseDir: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let entries = 0;
  let bytes = 0;
  const reserved = [m.files.output, m.files.scratch, ...m.files.inputs.map((i) => i.guest)];

  const mapTree = (kind: 'inputs' | 'writable', i: number, host: string, guest: string): void => {
    const field = `files.${kind}[${i}].host`;
    const fail = (
      code:
        | 'DL_ERR_MANIFEST_INPUT_READ'
        | 'DL_ERR_MANIFEST_INPUT_NAME'
        | 'DL_ERR_MANIFEST_INPUT_SYMLINK'
        | 'DL_ERR_MANIFEST_INPUT_TYPE'
        | 'DL_ERR_MANIFEST_INPUT_LIMIT'
        | 'DL_ERR_MANIFEST_PATH_OVERLAP',
      why: string,
    ): never => {
      throw new InputError(code, `cannot map ${host} to ${guest}: ${why}`, { field });
    };
    const put = (path: string, data: Uint8Array): void => {
      if (kind === 'writable' && reserved.some((r) => within(path.replace(/\/$/, ''), r))) {
        fail(
          'DL_ERR_MANIFEST_PATH_OVERLAP',
          `its content has ${path}, where the manifest maps an input, the output directory or scratch; remove it from the host directory or map that elsewhere`,
        );
      }
      if (++entries > MAX_TREE_ENTRIES)
        fail('DL_ERR_MANIFEST_INPUT_LIMIT', `more than ${MAX_TREE_ENTRIES} files and directories in all mapped trees`);
      bytes += data.length;
      if (bytes > MAX_TREE_BYTES)
        fail('DL_ERR_MANIFEST_INPUT_LIMIT', `more than ${MAX_TREE_BYTES} bytes in all inputs together`);
      out.set(path, data);
    };
    const readFile = (path: string, size: number): Uint8Array => {
      if (size > MAX_INPUT_BYTES) fail('DL_ERR_MANIFEST_INPUT_LIMIT', `${path} is larger than 1 GiB`);
      try {
        return new Uint8Array(readFileSync(path));
      } catch (e) {
        return fail(
          'DL_ERR_MANIFEST_INPUT_READ',
          `${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
    };
    let top;
    try {
      top = statSync(host);
    } catch (e) {
      return fail('DL_ERR_MANIFEST_INPUT_READ', (e as NodeJS.ErrnoException).code ?? (e as Error).message);
    }
    if (top.isFile()) {
      if (kind === 'writable') fail('DL_ERR_MANIFEST_INPUT_TYPE', 'a writable mapping takes a directory, not a file');
      put(guest, readFile(host, top.size));
      return;
    }
    if (!top.isDirectory()) fail('DL_ERR_MANIFEST_INPUT_TYPE', 'it is neither a file nor a directory');
    const rootReal = realpathSync(host);
    const walk = (dir: string, real: string, guestDir: string, depth: number, open: string[]): void => {
      if (depth > MAX_TREE_DEPTH)
        fail('DL_ERR_MANIFEST_INPUT_LIMIT', `${dir} is nested more than ${MAX_TREE_DEPTH} directories deep`);
      let raw: Buffer[];
      try {
        raw = readdirSync(dir, { encoding: 'buffer' });
      } catch (e) {
        return fail(
          'DL_ERR_MANIFEST_INPUT_READ',
          `${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
      // Guest paths are UTF-8 (spec/wasi.md): a name that is not would reach the guest as U+FFFD,
      // and two such names as one path.
      const names = raw.map((b) => {
        try {
          return strictUtf8.decode(b);
        } catch {
          return fail(
            'DL_ERR_MANIFEST_INPUT_NAME',
            `${dir} holds a name that is not UTF-8 (bytes ${b.toString('hex')}); rename it or map another directory`,
          );
        }
      });
      names.sort(byteOrder);
      for (const name of names) {
        const path = join(dir, name);
        const g = childGuest(guestDir, name);
        let st: Stats;
        try {
          st = lstatSync(path);
        } catch (e) {
          // Removed or renamed while the tree was read.
          return fail(
            'DL_ERR_MANIFEST_INPUT_READ',
            `${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          );
        }
        let childReal = join(real, name);
        if (st.isSymbolicLink()) {
          try {
            childReal = realpathSync(path);
          } catch {
            fail('DL_ERR_MANIFEST_INPUT_SYMLINK', `the symbolic link ${path} points nowhere`);
          }
          if (childReal !== rootReal && !childReal.startsWith(rootReal + sep))
            fail(
              'DL_ERR_MANIFEST_INPUT_SYMLINK',
              `the symbolic link ${path} leads out of the mapped directory, to ${childReal}`,
            );
          try {
            st = statSync(path);
          } catch (e) {
            return fail(
              'DL_ERR_MANIFEST_INPUT_READ',
              `${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
            );
          }
        }
        if (st.isDirectory()) {
          if (open.includes(childReal))
            fail(
              'DL_ERR_MANIFEST_INPUT_SYMLINK',
              `the symbolic link ${path} leads back into a directory that contains it`,
            );
          put(`${g}/`, new Uint8Array(0));
          walk(path, childReal, g, depth + 1, [...open, childReal]);
        } else if (st.isFile()) {
          put(g, readFile(path, st.size));
        } else {
          fail(
            'DL_ERR_MANIFEST_INPUT_TYPE',
            `${path} is neither a file nor a directory (a socket, pipe or device cannot be mapped)`,
          );
        }
      }
    };
    if (kind === 'inputs') put(`${guest}/`, new Uint8Array(0));
    walk(host, rootReal, guest, 0, [rootReal]);
  };

  for (const kind of ['inputs', 'writable'] as const) {
    m.files[kind].forEach((mapping, i) => {
      if (mapping.host === undefined) {
        throw new InputError(
          'DL_ERR_MANIFEST_INPUT_SOURCE',
          `files.${kind}[${i}] (${mapping.guest}) has no host path to read`,
          { field: `files.${kind}[${i}].host` },
        );
      }
      mapTree(kind, i, resolve(baseDir, mapping.host), mapping.guest);
    });
  }
  if (m.files.writable.length > 0) {
    let writableBytes = 0;
    for (const [p, d] of out)
      if (m.files.writable.some((w) => within(p, w.guest)) && !m.files.inputs.some((inp) => within(p, inp.guest)))
        writableBytes += d.length;
    if (writableBytes > m.limits.output) {
      throw new InputError(
        'DL_ERR_MANIFEST_INPUT_LIMIT',
        `the writable directories start with ${writableBytes} bytes, over limits.output (${m.limits.output}): their content counts against it as /output's does`,
        { field: 'limits.output' },
      );
    }
  }
  return out;
}

/**
 * Guest path lookup in the in-memory tree (spec: spec/wasi.md#W3). A path is relative to a
 * directory descriptor and no component may climb above that directory; symbolic links are
 * followed inside it (at most 32 per lookup, then ERRNO_LOOP), and a link whose target is
 * absolute or climbs out is ERRNO_NOTCAPABLE, exactly as a literal path would be.
 */
import { ERRNO } from './defs.ts';
import type { DirNode, Node } from './fs.ts';

/** Where a path lands: the directory holding its last component, that name, and what is there. */
export interface Resolved {
  parent: DirNode;
  name: string;
  node: Node | undefined;
  trailingSlash: boolean;
}

/** POSIX's SYMLOOP_MAX minimum is 8; Linux allows 40. 32 is deterministic either way. */
export const MAX_SYMLINKS = 32;

function components(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/**
 * Resolves `path` below `base`.
 * @param followLast follow a symbolic link in the last component (LOOKUP_SYMLINK_FOLLOW, or a
 *   trailing slash, which POSIX reads as "the directory this names")
 * @returns the landing place, or an errno
 */
export function resolvePath(base: DirNode, path: string, followLast: boolean): Resolved | number {
  if (path.length === 0) return ERRNO.NOENT;
  if (path.startsWith('/')) return ERRNO.NOTCAPABLE;
  if (path.includes('\0')) return ERRNO.INVAL;
  let trailingSlash = path.length > 1 && path.endsWith('/');
  const queue = components(path);
  const stack: DirNode[] = [base];
  let links = 0;
  const top = (): DirNode => stack[stack.length - 1]!;
  if (queue.length === 0) return { parent: base, name: '.', node: base, trailingSlash };
  while (queue.length > 0) {
    const part = queue.shift()!;
    const isLast = queue.length === 0;
    if (part === '..') {
      if (stack.length === 1) return ERRNO.NOTCAPABLE;
      stack.pop();
      if (isLast) return { parent: top(), name: '.', node: top(), trailingSlash };
      continue;
    }
    const next = top().children.get(part);
    if (next?.kind === 'symlink' && (!isLast || followLast || trailingSlash)) {
      if (++links > MAX_SYMLINKS) return ERRNO.LOOP;
      if (next.target.startsWith('/')) return ERRNO.NOTCAPABLE;
      if (next.target.length === 0) return ERRNO.NOENT;
      const expanded = components(next.target);
      if (isLast && next.target.endsWith('/')) trailingSlash = true;
      queue.unshift(...expanded);
      if (queue.length === 0) return { parent: top(), name: '.', node: top(), trailingSlash };
      continue;
    }
    if (isLast) return { parent: top(), name: part, node: next, trailingSlash };
    if (next === undefined) return ERRNO.NOENT;
    if (next.kind !== 'dir') return ERRNO.NOTDIR;
    stack.push(next);
  }
  /* c8 ignore next: the loop returns on its last component */
  return ERRNO.NOENT;
}

/**
 * The cage's in-memory file tree (spec: spec/wasi.md#W3). Inputs are read-only, the output and
 * scratch directories are writable, nothing else exists. Inode numbers are handed out per run in
 * creation order and every timestamp is 0, so `stat` answers the same on every node.
 */

export interface FileNode {
  kind: 'file';
  ino: bigint;
  readonly: boolean;
  data: Uint8Array;
  size: number;
  /** Which quota the file's bytes count against. */
  quota: Quota | undefined;
}

export interface DirNode {
  kind: 'dir';
  ino: bigint;
  readonly: boolean;
  children: Map<string, Node>;
  quota: Quota | undefined;
}

export type Node = FileNode | DirNode;

/** A byte budget shared by a directory tree (e.g. all of /output). */
export class Quota {
  used = 0;
  readonly limit: number;
  readonly name: string;
  constructor(name: string, limit: number) {
    this.name = name;
    this.limit = limit;
  }
}

/** Raised when a write would take a quota over its limit. */
export class QuotaExceeded extends Error {
  readonly quota: Quota;
  constructor(q: Quota) {
    super(`${q.name} is over its limit of ${q.limit} bytes`);
    this.quota = q;
  }
}

export class FileTree {
  #nextIno = 1n;
  readonly root: DirNode;

  constructor() {
    this.root = this.dir(true, undefined);
  }

  dir(readonly: boolean, quota: Quota | undefined): DirNode {
    return { kind: 'dir', ino: this.#nextIno++, readonly, children: new Map(), quota };
  }

  file(readonly: boolean, data: Uint8Array, quota: Quota | undefined): FileNode {
    return { kind: 'file', ino: this.#nextIno++, readonly, data, size: data.length, quota };
  }

  /** Creates (read-only) parent directories and returns the directory at `path` (absolute, normalised). */
  mkdirs(path: string, readonly: boolean, quota?: Quota): DirNode {
    let d = this.root;
    for (const part of path.split('/').filter(Boolean)) {
      let next = d.children.get(part);
      if (next === undefined) {
        next = this.dir(readonly, quota);
        d.children.set(part, next);
      }
      if (next.kind !== 'dir') throw new Error(`${path}: a file is in the way`);
      d = next;
    }
    return d;
  }

  /** Adds a read-only file at an absolute guest path. */
  addFile(path: string, data: Uint8Array): void {
    const parts = path.split('/').filter(Boolean);
    const name = parts.pop();
    if (name === undefined) throw new Error('empty file path');
    const dir = this.mkdirs(parts.join('/'), true);
    dir.children.set(name, this.file(true, data, undefined));
  }

  /** Every regular file under `path`, as guest path → contents, sorted by path. */
  collect(path: string): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    let d: Node | undefined = this.root;
    for (const part of path.split('/').filter(Boolean)) d = d?.kind === 'dir' ? d.children.get(part) : undefined;
    const walk = (n: Node, p: string): void => {
      if (n.kind === 'file') out.set(p, n.data.slice(0, n.size));
      else for (const name of [...n.children.keys()].sort()) walk(n.children.get(name)!, `${p}/${name}`);
    };
    if (d !== undefined) walk(d, path.replace(/\/$/, ''));
    return out;
  }
}

/** Grows a file's buffer to hold `size` bytes, charging its quota. */
export function resizeFile(f: FileNode, size: number): void {
  const delta = size - f.size;
  if (delta > 0 && f.quota !== undefined) {
    if (f.quota.used + delta > f.quota.limit) throw new QuotaExceeded(f.quota);
    f.quota.used += delta;
  } else if (delta < 0 && f.quota !== undefined) {
    f.quota.used += delta;
  }
  if (size > f.data.length) {
    const next = new Uint8Array(Math.max(size, Math.min(f.data.length * 2, size + (1 << 20))));
    next.set(f.data.subarray(0, f.size));
    f.data = next;
  } else if (size < f.size) {
    f.data.fill(0, size, f.size);
  }
  f.size = size;
}

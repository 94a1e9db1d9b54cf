/**
 * The cage's in-memory file tree (spec: spec/wasi.md#W3). Inputs are read-only, the output,
 * scratch and writable directories are writable, nothing else exists. Inode numbers are handed
 * out per run in creation order and timestamps start at 0 and change only when the guest sets
 * them, so `stat` answers the same on every node.
 */

/** What every node carries: identity, write protection and the guest-set timestamps (ns). */
interface NodeBase {
  ino: bigint;
  readonly: boolean;
  /** Which quota the node's bytes count against. */
  quota: Quota | undefined;
  atim: bigint;
  mtim: bigint;
}

export interface FileNode extends NodeBase {
  kind: 'file';
  data: Uint8Array;
  size: number;
  /** Directory entries naming this file (hard links). */
  nlink: number;
  /** Open descriptors on it: from level 5 its bytes stay charged until both counts are 0. */
  opens: number;
}

export interface DirNode extends NodeBase {
  kind: 'dir';
  children: Entries;
}

/** A symbolic link: its target is only text until a lookup follows it (spec/wasi.md#W3). */
export interface SymlinkNode extends NodeBase {
  kind: 'symlink';
  target: string;
}

export type Node = FileNode | DirNode | SymlinkNode;

/**
 * A directory's entries. Their names in listing order are kept until the next change: a
 * directory is listed in many `fd_readdir` calls, each a few entries long, and sorting all its
 * names in every call made listing a large directory quadratic.
 */
export class Entries extends Map<string, Node> {
  #byUtf8: readonly string[] | undefined;
  #byUtf16: readonly string[] | undefined;

  override set(name: string, node: Node): this {
    this.#byUtf8 = this.#byUtf16 = undefined;
    return super.set(name, node);
  }

  override delete(name: string): boolean {
    this.#byUtf8 = this.#byUtf16 = undefined;
    return super.delete(name);
  }

  override clear(): void {
    this.#byUtf8 = this.#byUtf16 = undefined;
    super.clear();
  }

  /** The names in byte-wise (UTF-8) order, or by UTF-16 units (`utf16`, WASI level 0's order). */
  sorted(utf16 = false): readonly string[] {
    if (utf16) {
      this.#byUtf16 ??= [...this.keys()].sort();
      return this.#byUtf16;
    }
    // Each name encoded once, not once per comparison.
    this.#byUtf8 ??= [...this.keys()]
      .map((name) => ({ name, bytes: Buffer.from(name, 'utf8') }))
      .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
      .map((e) => e.name);
    return this.#byUtf8;
  }
}

/** A byte budget shared by a directory tree (e.g. all of /output). */
export class Quota {
  used = 0;
  readonly limit: number;
  readonly name: string;
  constructor(name: string, limit: number) {
    this.name = name;
    this.limit = limit;
  }

  /** Adds `bytes`, or throws {@link QuotaExceeded} and changes nothing when they would not fit. */
  charge(bytes: number): void {
    if (bytes > 0 && this.used + bytes > this.limit) throw new QuotaExceeded(this);
    this.used += bytes;
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

/**
 * What a directory entry costs its directory's quota besides the UTF-8 bytes of its name (and of
 * a symbolic link's target): a fixed figure, the same on every node, in the order of what a host
 * holds for one (spec/wasi.md#W10).
 */
export const ENTRY_BYTES = 512;

/** What the entry `name` → `node` costs its directory's quota (spec/wasi.md#W10). */
export function entryCost(name: string, node: Node | { kind: 'symlink'; target: string } | undefined): number {
  // UTF-8 lengths, counted without encoding (names are valid UTF-8: the guest's are checked).
  const target = node?.kind === 'symlink' ? Buffer.byteLength(node.target, 'utf8') : 0;
  return ENTRY_BYTES + Buffer.byteLength(name, 'utf8') + target;
}

export class FileTree {
  #nextIno = 1n;
  readonly root: DirNode;
  /** A new node's access and modification time: the virtual clock at level 1, 0 at level 0. */
  readonly #now: () => bigint;
  /**
   * Whether directory entries and open files' bytes are charged (level 5, spec/wasi.md#W10);
   * off to replay bundles recorded before, which saw no such charge.
   */
  readonly metered: boolean;

  constructor(now: () => bigint = () => 0n, metered = false) {
    this.#now = now;
    this.metered = metered;
    this.root = this.dir(true, undefined);
  }

  /**
   * Charges `parent`'s quota for a new entry `name` (`target`: a symbolic link's) before it is
   * made, so a refused entry leaves no trace (not even an inode number).
   * @throws {QuotaExceeded} unless `force` (the host's initial content, which may start over it)
   */
  admit(parent: DirNode, name: string, target?: string, force = false): void {
    if (!this.metered || parent.quota === undefined) return;
    const cost = entryCost(name, target === undefined ? undefined : { kind: 'symlink', target });
    if (force) parent.quota.used += cost;
    else parent.quota.charge(cost);
  }

  /**
   * Removes the entry `name` from `parent`, refunding it, and a file's bytes once no entry names
   * it and (from level 5) no descriptor holds it open.
   */
  unlink(parent: DirNode, name: string, node: Node): void {
    this.detach(parent, name, node);
    if (node.kind === 'file') {
      node.nlink--;
      if (node.nlink === 0 && (node.opens === 0 || !this.metered)) releaseFile(node);
    }
  }

  /** Removes the entry `name` from `parent` and refunds it, leaving `node` as it is (a rename moves it). */
  detach(parent: DirNode, name: string, node: Node): void {
    if (this.metered && parent.quota !== undefined) parent.quota.used -= entryCost(name, node);
    parent.children.delete(name);
  }

  /** A descriptor on `f` closed: its bytes go if it was the last thing holding them. */
  closed(f: FileNode): void {
    f.opens--;
    if (this.metered && f.opens === 0 && f.nlink === 0) releaseFile(f);
  }

  dir(readonly: boolean, quota: Quota | undefined): DirNode {
    return {
      kind: 'dir',
      ino: this.#nextIno++,
      readonly,
      children: new Entries(),
      quota,
      atim: this.#now(),
      mtim: this.#now(),
    };
  }

  file(readonly: boolean, data: Uint8Array, quota: Quota | undefined): FileNode {
    return {
      kind: 'file',
      ino: this.#nextIno++,
      readonly,
      data,
      size: data.length,
      quota,
      nlink: 1,
      opens: 0,
      atim: this.#now(),
      mtim: this.#now(),
    };
  }

  symlink(target: string, quota: Quota | undefined): SymlinkNode {
    return {
      kind: 'symlink',
      ino: this.#nextIno++,
      readonly: false,
      target,
      quota,
      atim: this.#now(),
      mtim: this.#now(),
    };
  }

  /** Creates (read-only) parent directories and returns the directory at `path` (absolute, normalised). */
  mkdirs(path: string, readonly: boolean, quota?: Quota): DirNode {
    let d = this.root;
    for (const part of path.split('/').filter(Boolean)) {
      let next = d.children.get(part);
      if (next === undefined) {
        this.admit(d, part, undefined, true);
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
    this.admit(dir, name, undefined, true);
    dir.children.set(name, this.file(true, data, undefined));
  }

  /**
   * Every writable regular file under `path`, as guest path → contents. Read-only files (inputs
   * mapped inside a writable directory), symbolic links and the subtrees in `skip` are left out.
   */
  collect(path: string, skip: ReadonlySet<string> = new Set()): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    let d: Node | undefined = this.root;
    for (const part of path.split('/').filter(Boolean)) d = d?.kind === 'dir' ? d.children.get(part) : undefined;
    // Depth-first in sorted order with a stack of its own: a guest may nest directories far
    // deeper than the host's call stack would follow.
    const stack: [Node, string][] = d === undefined ? [] : [[d, path.replace(/\/$/, '')]];
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      const [n, p] = top;
      if (skip.has(p)) continue;
      if (n.kind === 'file') {
        if (!n.readonly) out.set(p, n.data.slice(0, n.size));
      } else if (n.kind === 'dir') {
        const names = [...n.children.keys()].sort();
        for (let i = names.length - 1; i >= 0; i--) stack.push([n.children.get(names[i]!)!, `${p}/${names[i]}`]);
      }
    }
    return out;
  }
}

/** Gives a file's bytes back to its quota (its last name is gone and nothing holds it open). */
function releaseFile(f: FileNode): void {
  if (f.quota !== undefined) f.quota.used -= f.size;
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

/**
 * Finds the component model's async and thread builtins in a component binary (Binary.md of the
 * component model, "Canonical Definitions"), nested components included. jco runs them with a
 * scheduler that picks among ready tasks with `Math.random`, so a component using them cannot run
 * deterministically and is refused. Core import names cannot be trusted for this (a component names
 * the core imports it supplies as it likes), so the canon section itself is read.
 *
 * Allowed: `canon lift` and `canon lower` without the `async` or `callback` options, and
 * `resource.new`, `resource.drop` (sync) and `resource.rep`. Anything else in a canon section is
 * an async or thread builtin (task.return, waitable-set.*, stream.*, future.*, subtask.*,
 * context.*, yield, backpressure.set, error-context.*, thread.*), named in the message when known.
 */
import { toHex } from '../hash.ts';
import { Reader } from '../instrument/bytes.ts';

const SECTION_COMPONENT = 4;
const SECTION_CANON = 8;
const PREAMBLE = 8;

/** Names of canon opcodes that are refused, for the message (others are shown by opcode). */
const BUILTIN: Record<number, string> = {
  0x05: 'task.cancel',
  0x06: 'subtask.cancel',
  0x07: 'resource.drop async',
  0x08: 'backpressure.set',
  0x09: 'task.return',
  0x0a: 'context.get',
  0x0b: 'context.set',
  0x0c: 'yield',
  0x0d: 'subtask.drop',
  0x0e: 'stream.new',
  0x0f: 'stream.read',
  0x10: 'stream.write',
  0x11: 'stream.cancel-read',
  0x12: 'stream.cancel-write',
  0x13: 'stream.drop-readable',
  0x14: 'stream.drop-writable',
  0x15: 'future.new',
  0x16: 'future.read',
  0x17: 'future.write',
  0x18: 'future.cancel-read',
  0x19: 'future.cancel-write',
  0x1a: 'future.drop-readable',
  0x1b: 'future.drop-writable',
  0x1c: 'error-context.new',
  0x1d: 'error-context.debug-message',
  0x1e: 'error-context.drop',
  0x1f: 'waitable-set.new',
  0x20: 'waitable-set.wait',
  0x21: 'waitable-set.poll',
  0x22: 'waitable-set.drop',
  0x23: 'waitable.join',
};

/** Scans already made in this process, by the component's BLAKE3 (hex): a warm run skips the scan. */
const scanned = new Map<string, string | undefined>();
const SCANNED_MAX = 256;

/**
 * The first async or thread builtin the component defines, as `canon <name>`, or undefined when it
 * uses none. A binary this scan cannot follow returns undefined: jco's own parse rejects it next.
 * @param hash the component's BLAKE3, when known: the answer is then remembered
 */
export function asyncBuiltinOf(component: Uint8Array, hash?: Uint8Array): string | undefined {
  const key = hash === undefined ? undefined : toHex(hash);
  if (key !== undefined && scanned.has(key)) return scanned.get(key);
  let found: string | undefined;
  try {
    found = scan(component, 0, component.length);
  } catch {
    found = undefined;
  }
  if (key !== undefined) {
    if (scanned.size >= SCANNED_MAX) scanned.clear();
    scanned.set(key, found);
  }
  return found;
}

function scan(b: Uint8Array, start: number, end: number): string | undefined {
  const r = new Reader(b, start + PREAMBLE, end);
  while (!r.eof) {
    const id = r.u8();
    const size = r.u32();
    const at = r.pos;
    if (id === SECTION_COMPONENT) {
      const found = scan(b, at, at + size);
      if (found !== undefined) return found;
    } else if (id === SECTION_CANON) {
      const found = canon(new Reader(b, at, at + size));
      if (found !== undefined) return found;
    }
    r.pos = at + size;
  }
  return undefined;
}

function canon(r: Reader): string | undefined {
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const op = r.u8();
    if (op === 0x00 || op === 0x01) {
      r.u8(); // 0x00: the core function sort
      r.u32(); // function index
      const refused = options(r);
      if (refused !== undefined) return `canon ${op === 0x00 ? 'lift' : 'lower'} … ${refused}`;
      if (op === 0x00) r.u32(); // the lifted function's type
    } else if (op >= 0x02 && op <= 0x04) {
      r.u32(); // resource.new / resource.drop / resource.rep: the resource type
    } else {
      return `canon ${BUILTIN[op] ?? `builtin 0x${op.toString(16).padStart(2, '0')}`}`;
    }
  }
  return undefined;
}

/** Reads a `canonopt` vector; returns the first option that makes a lift or lower async. */
function options(r: Reader): string | undefined {
  const n = r.u32();
  for (let k = 0; k < n; k++) {
    const opt = r.u8();
    if (opt === 0x06) return 'async';
    if (opt === 0x07) return 'callback';
    if (opt >= 0x03 && opt <= 0x05)
      r.u32(); // memory, realloc, post-return
    // An option newer than this scan: fail closed rather than guess its layout.
    else if (opt > 0x07) return `option 0x${opt.toString(16).padStart(2, '0')}`;
  }
  return undefined;
}

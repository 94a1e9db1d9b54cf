/**
 * The profiling variant of the instrumentation (docs/profile.md): a second pass over the
 * *instrumented* bytes, so the plain instrumenter's output, and every fuel charge in it, stays
 * exactly what a plain run executes. It adds, never inserts:
 *
 * - a second linear memory holding a call tree, 32 bytes a node:
 *   `self: i64 @0, parent: i32 @8, func: i32 @12, firstChild: i32 @16, sibling: i32 @20, calls: i64 @24`
 *   (node 0 is the root);
 * - globals `cur` (the running node), `last` (the fuel counter at the last event), `next` (first
 *   free node) and `full` (set once the tree could not grow: the profile is then truncated);
 * - two functions, `enter(func) -> node` (find or create the child of `cur` for `func`) and
 *   `back(node)` (the host's way back to a node, see engine.ts).
 *
 * Every function of the module's own starts with a prologue that charges `last - fuel` to `cur`
 * (so every unit of fuel the counter loses lands on exactly one node, with no JavaScript call),
 * then enters its node, inline when it is `cur`'s first child (a loop, a recursion) and through
 * `enter` otherwise, and keeps it in a new local. After each call that can enter a profiled
 * function (a direct call to one, any `call_indirect`) the same charge is made inline and `cur`
 * set back to that local, which also resynchronises after a callee that trapped inside a nested
 * instance. Fuel charges are untouched: the profile's total is the counter's drop.
 */
import { Reader, Writer } from '../instrument/bytes.ts';
import { assemble } from '../instrument/instrument.ts';
import { EXPORT_FUEL } from '../instrument/instrument.ts';
import { decodeModule, SECTION } from '../instrument/module.ts';
import type { ParsedModule } from '../instrument/module.ts';
import { Imm, OP_IMM, SIMD_IMM, SimdImm } from '../instrument/opcodes.ts';
import { InternalError } from '../errors.ts';

export const PROFILE_EXPORT = {
  memory: 'docklock_profile_memory',
  back: 'docklock_profile_back',
  cur: 'docklock_profile_cur',
  last: 'docklock_profile_last',
  next: 'docklock_profile_next',
  full: 'docklock_profile_full',
} as const;

/** Bytes per call-tree node; a power of two so an address is `node << NODE_SHIFT`. */
export const NODE_BYTES = 32;
const NODE_SHIFT = 5;
/** The tree memory's maximum (pages): 2 GiB, 67 million nodes; `memory.size << 16` stays below 2^32. */
const TREE_MAX_PAGES = 32768;

const I32 = 0x7f;
const I64 = 0x7e;

/**
 * Rewrites an instrumented module into its profiling variant.
 * @param instrumented the plain instrumenter's output
 * @param ownFuncs the number of functions (imported included) of the module before instrumentation:
 *   functions from here on are the instrumenter's own (traps, charge helpers) and are not profiled
 */
export function profileVariant(instrumented: Uint8Array, ownFuncs: number): Uint8Array {
  const m = decodeModule(instrumented);
  const fuelExport = m.exports.find((e) => e.name === EXPORT_FUEL && e.kind === 'global');
  if (fuelExport === undefined) throw new InternalError('profileVariant: the module is not instrumented');
  const fuel = fuelExport.index;
  const g0 = m.globalTypes.length;
  const G = { cur: g0, last: g0 + 1, next: g0 + 2, full: g0 + 3 };
  const mem = m.memories.length;
  const enterFunc = m.funcTypes.length;
  const backFunc = enterFunc + 1;
  const enterType = m.types.length;
  const backType = enterType + 1;
  const first = m.importedFuncCount;
  const profiled = (f: number): boolean => f >= first && f < ownFuncs;

  const replaced = new Map<number, Uint8Array>();
  // Code: every body of the module's own gets the prologue and the resynchronisations.
  {
    const w = new Writer(instrumented.length + 1024);
    w.u32(m.bodies.length + 2);
    const body = new Writer(1 << 12);
    m.bodies.forEach((b, i) => {
      const f = first + i;
      if (!profiled(f)) {
        w.copy(instrumented, b.start, b.end);
        return;
      }
      body.reset();
      const me = m.types[m.funcTypes[f]!]!.params.length + b.localCount;
      const a = me + 1;
      body.u32(b.localDecls.length + 1);
      body.copy(instrumented, afterLeb(instrumented, b.bodyStart), b.codeStart);
      body.u8(2).u8(I32);
      prologue(body, f, fuel, G, mem, me, a, enterFunc);
      rewriteCalls(
        m,
        b.codeStart,
        b.end,
        body,
        (callee) => callee < 0 || profiled(callee),
        (out) => {
          // `back(me)`, inline: a call per call was most of the profiler's cost on call-heavy code.
          attribute(out, fuel, G, mem, a);
          out.u8(0x20).u32(me).u8(0x24).u32(G.cur);
        },
      );
      w.sizedFrom(body);
    });
    w.sized(enterBody(G, mem));
    w.sized(backBody(fuel, G, mem));
    replaced.set(SECTION.code, w.finish());
  }
  replaced.set(
    SECTION.type,
    appendVector(m, SECTION.type, 2, (w) => {
      w.u8(0x60).u32(1).u8(I32).u32(1).u8(I32);
      w.u8(0x60).u32(1).u8(I32).u32(0);
    }),
  );
  replaced.set(
    SECTION.function,
    appendVector(m, SECTION.function, 2, (w) => w.u32(enterType).u32(backType)),
  );
  // The tree's memory: defined after the module's own, so no memory index moves.
  replaced.set(
    SECTION.memory,
    appendVector(m, SECTION.memory, 1, (w) => w.u8(0x01).u32(1).u32(TREE_MAX_PAGES)),
  );
  replaced.set(
    SECTION.global,
    appendVector(m, SECTION.global, 4, (w) => {
      w.u8(I32).u8(1).u8(0x41).s32(0).u8(0x0b); // cur: the root
      w.u8(I64).u8(1).u8(0x42).s64n(0).u8(0x0b); // last: set to the budget by the host
      w.u8(I32).u8(1).u8(0x41).s32(1).u8(0x0b); // next: node 0 is the root
      w.u8(I32).u8(1).u8(0x41).s32(0).u8(0x0b); // full
    }),
  );
  replaced.set(
    SECTION.export,
    appendVector(m, SECTION.export, 6, (w) => {
      w.name(PROFILE_EXPORT.memory).u8(0x02).u32(mem);
      w.name(PROFILE_EXPORT.back).u8(0x00).u32(backFunc);
      w.name(PROFILE_EXPORT.cur).u8(0x03).u32(G.cur);
      w.name(PROFILE_EXPORT.last).u8(0x03).u32(G.last);
      w.name(PROFILE_EXPORT.next).u8(0x03).u32(G.next);
      w.name(PROFILE_EXPORT.full).u8(0x03).u32(G.full);
    }),
  );
  return assemble(m, replaced);
}

/** A vector section with `extra` entries appended (created when the module has none). */
function appendVector(m: ParsedModule, id: number, extra: number, write: (w: Writer) => void): Uint8Array {
  const s = m.sections.find((x) => x.id === id);
  const w = new Writer();
  if (s === undefined) {
    w.u32(extra);
  } else {
    const r = new Reader(m.bytes, s.contentStart, s.contentEnd);
    const count = r.u32();
    w.u32(count + extra).copy(m.bytes, r.pos, s.contentEnd);
  }
  write(w);
  return w.finish();
}

function afterLeb(b: Uint8Array, p: number): number {
  while (b[p]! & 0x80) p++;
  return p + 1;
}

/**
 * Copies the instructions in `[start, end)` to `out`, adding `resyncCode` (the inline `back(me)`)
 * after each `call` whose callee `resync` accepts and after every `call_indirect` (callee −1).
 */
function rewriteCalls(
  m: ParsedModule,
  start: number,
  end: number,
  out: Writer,
  resync: (callee: number) => boolean,
  resyncCode: (out: Writer) => void,
): void {
  const b = m.bytes;
  let copied = start;
  let p = start;
  const leb = (): void => {
    while (b[p++]! & 0x80);
  };
  const u32 = (): number => {
    const r = new Reader(b, p, end);
    const v = r.u32();
    p = r.pos;
    return v;
  };
  const memarg = (): void => {
    const align = u32();
    if (align & 0x40) leb();
    leb();
  };
  while (p < end) {
    const op = b[p++]!;
    let callee = -2;
    switch (OP_IMM[op]) {
      case Imm.None:
        break;
      case Imm.BlockType:
      case Imm.Label:
      case Imm.Local:
      case Imm.Global:
      case Imm.Table:
      case Imm.MemIdx:
      case Imm.I32:
      case Imm.I64:
        leb();
        break;
      case Imm.Func:
        if (op === 0x10) callee = u32();
        else leb();
        break;
      case Imm.CallIndirect:
        leb();
        leb();
        callee = -1;
        break;
      case Imm.BrTable: {
        const n = u32();
        for (let k = 0; k <= n; k++) leb();
        break;
      }
      case Imm.MemArg:
        memarg();
        break;
      case Imm.F32:
        p += 4;
        break;
      case Imm.F64:
        p += 8;
        break;
      case Imm.SelectT:
        p += u32();
        break;
      case Imm.RefType:
        p += 1;
        break;
      case Imm.PrefixFC: {
        const sub = u32();
        const n = sub <= 7 ? 0 : sub === 9 || sub === 11 || sub === 13 || sub >= 15 ? 1 : 2;
        for (let k = 0; k < n; k++) leb();
        break;
      }
      case Imm.PrefixFD: {
        const sub = u32();
        const kind = sub < 256 ? SIMD_IMM[sub] : SimdImm.None;
        if (kind === SimdImm.MemArg) memarg();
        else if (kind === SimdImm.MemArgLane) {
          memarg();
          p += 1;
        } else if (kind === SimdImm.V128) p += 16;
        else if (kind === SimdImm.Lane) p += 1;
        break;
      }
      default:
        // The instrumenter accepted this body, so every opcode in it has a known layout.
        throw new InternalError(`profileVariant: unknown opcode 0x${op.toString(16)} at ${p - 1}`);
    }
    if (callee !== -2 && resync(callee)) {
      out.copy(b, copied, p);
      resyncCode(out);
      copied = p;
    }
  }
  out.copy(b, copied, end);
}

interface Globals {
  cur: number;
  last: number;
  next: number;
  full: number;
}

/** `memarg` for the tree memory: alignment (with the memory-index flag), memory, offset. */
function tm(w: Writer, mem: number, align: number, offset: number): Writer {
  return mem === 0
    ? w.u32(align).u32(offset)
    : w
        .u32(align | 0x40)
        .u32(mem)
        .u32(offset);
}

/** `self[cur] += last - fuel; last = fuel`, leaving `cur`'s address in local `a`. */
function attribute(w: Writer, fuel: number, g: Globals, mem: number, a: number): void {
  w.u8(0x23).u32(g.cur).u8(0x41).s32(NODE_SHIFT).u8(0x74).u8(0x22).u32(a);
  tm(w.u8(0x20).u32(a).u8(0x29), mem, 3, 0);
  w.u8(0x23).u32(g.last).u8(0x23).u32(fuel).u8(0x7d).u8(0x7c);
  tm(w.u8(0x37), mem, 3, 0);
  w.u8(0x23).u32(fuel).u8(0x24).u32(g.last);
}

/**
 * A function's prologue: attribute the fuel since the last event to the caller's node, then make
 * the callee's node current and keep it in `me`. The common case (the node's first child is this
 * function: a loop calling the same callee, a recursion) is inline; anything else calls `enter`.
 */
function prologue(
  w: Writer,
  f: number,
  fuel: number,
  g: Globals,
  mem: number,
  me: number,
  a: number,
  enter: number,
): void {
  attribute(w, fuel, g, mem, a);
  w.u8(0x02).u8(0x40); // block $done
  tm(w.u8(0x20).u32(a).u8(0x28), mem, 2, 16).u8(0x22).u32(me); // me = cur.firstChild
  w.u8(0x04).u8(0x40); // if me != 0
  w.u8(0x20).u32(me).u8(0x41).s32(NODE_SHIFT).u8(0x74).u8(0x22).u32(a);
  tm(w.u8(0x28), mem, 2, 12).u8(0x41).s32(f).u8(0x46); // child.func == f
  w.u8(0x04).u8(0x40);
  w.u8(0x20).u32(a).u8(0x20).u32(a);
  tm(w.u8(0x29), mem, 3, 24).u8(0x42).s64n(1).u8(0x7c);
  tm(w.u8(0x37), mem, 3, 24); // calls += 1
  w.u8(0x20).u32(me).u8(0x24).u32(g.cur).u8(0x0c).u32(2); // cur = me; br $done
  w.u8(0x0b).u8(0x0b); // end if; end if
  w.u8(0x41).s32(f).u8(0x10).u32(enter).u8(0x21).u32(me);
  w.u8(0x0b); // end block
}

/**
 * `enter(f: i32) -> i32`: find or create the child of `cur` for `f` and make it current (the
 * caller's prologue has attributed the fuel already).
 */
function enterBody(g: Globals, mem: number): Uint8Array {
  const [f, a, c, b] = [0, 1, 2, 3];
  const w = new Writer(256);
  w.u32(1).u32(3).u8(I32);
  w.u8(0x23).u32(g.cur).u8(0x41).s32(NODE_SHIFT).u8(0x74).u8(0x21).u32(a);
  tm(w.u8(0x20).u32(a).u8(0x28), mem, 2, 16).u8(0x21).u32(c); // c = cur.firstChild
  w.u8(0x02).u8(0x40).u8(0x03).u8(0x40); // block loop
  w.u8(0x20).u32(c).u8(0x45).u8(0x0d).u32(1); // no more children: create
  w.u8(0x20).u32(c).u8(0x41).s32(NODE_SHIFT).u8(0x74).u8(0x22).u32(b);
  tm(w.u8(0x28), mem, 2, 12).u8(0x20).u32(f).u8(0x46); // child.func == f
  w.u8(0x04).u8(0x40);
  w.u8(0x20).u32(b).u8(0x20).u32(b);
  tm(w.u8(0x29), mem, 3, 24).u8(0x42).s64n(1).u8(0x7c);
  tm(w.u8(0x37), mem, 3, 24); // calls += 1
  w.u8(0x20).u32(c).u8(0x24).u32(g.cur).u8(0x20).u32(c).u8(0x0f);
  w.u8(0x0b);
  w.u8(0x20).u32(b);
  tm(w.u8(0x28), mem, 2, 20).u8(0x21).u32(c); // c = child.sibling
  w.u8(0x0c).u32(0).u8(0x0b).u8(0x0b); // br loop; end loop; end block
  // A new node at `next`, growing the tree's memory a page at a time.
  w.u8(0x23).u32(g.next).u8(0x22).u32(c).u8(0x41).s32(1).u8(0x6a).u8(0x41).s32(NODE_SHIFT).u8(0x74);
  w.u8(0x3f).u32(mem).u8(0x41).s32(16).u8(0x74).u8(0x4b); // (c+1)*32 > memory.size*65536
  w.u8(0x04).u8(0x40);
  w.u8(0x41).s32(1).u8(0x40).u32(mem).u8(0x41).s32(-1).u8(0x46);
  // The tree cannot grow: count the callee with its caller, and say the profile is truncated.
  w.u8(0x04).u8(0x40).u8(0x41).s32(1).u8(0x24).u32(g.full).u8(0x23).u32(g.cur).u8(0x0f).u8(0x0b);
  w.u8(0x0b);
  w.u8(0x20).u32(c).u8(0x41).s32(1).u8(0x6a).u8(0x24).u32(g.next);
  w.u8(0x20).u32(c).u8(0x41).s32(NODE_SHIFT).u8(0x74).u8(0x22).u32(b).u8(0x23).u32(g.cur);
  tm(w.u8(0x36), mem, 2, 8); // parent
  w.u8(0x20).u32(b).u8(0x20).u32(f);
  tm(w.u8(0x36), mem, 2, 12); // func
  w.u8(0x20).u32(b).u8(0x20).u32(a);
  tm(w.u8(0x28), mem, 2, 16);
  tm(w.u8(0x36), mem, 2, 20); // sibling = cur.firstChild
  w.u8(0x20).u32(a).u8(0x20).u32(c);
  tm(w.u8(0x36), mem, 2, 16); // cur.firstChild = c
  w.u8(0x20).u32(b).u8(0x42).s64n(1);
  tm(w.u8(0x37), mem, 3, 24); // calls = 1
  w.u8(0x20).u32(c).u8(0x24).u32(g.cur).u8(0x20).u32(c).u8(0x0b);
  return w.finish();
}

/** `back(node: i32)`: attribute, then make `node` current again. */
function backBody(fuel: number, g: Globals, mem: number): Uint8Array {
  const w = new Writer(64);
  w.u32(1).u32(1).u8(I32);
  attribute(w, fuel, g, mem, 1);
  w.u8(0x20).u32(0).u8(0x24).u32(g.cur).u8(0x0b);
  return w.finish();
}

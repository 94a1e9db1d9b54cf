/**
 * Decodes the module-level structure of a WebAssembly 2.0 binary (core spec §5.5): sections,
 * types, imports, functions, tables, memories, globals, exports, start, elements, data and code
 * bodies. Function bodies are located, not decoded (see code.ts). Every section keeps its byte
 * span, so the encoder can copy untouched sections verbatim and round-trip byte for byte.
 */
import { Reader, malformed } from './bytes.ts';
import { ValidationError } from '../errors.ts';
import { isValType } from './opcodes.ts';

export const SECTION = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

export const SECTION_NAMES = [
  'custom',
  'type',
  'import',
  'function',
  'table',
  'memory',
  'global',
  'export',
  'start',
  'element',
  'code',
  'data',
  'datacount',
  'tag',
];

/** Canonical order of non-custom sections (§5.5.2); datacount sits between element and code. */
const SECTION_RANK: Record<number, number> = {
  1: 1,
  2: 2,
  3: 3,
  4: 4,
  5: 5,
  6: 7,
  7: 8,
  8: 9,
  9: 10,
  12: 11,
  10: 12,
  11: 13,
};

export interface Section {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  contentStart: number;
  contentEnd: number;
  /** For custom sections. */
  name?: string;
}

export interface FuncType {
  params: Uint8Array;
  results: Uint8Array;
}

export interface Limits {
  flags: number;
  min: number;
  max: number | undefined;
}

export type ImportKind = 'func' | 'table' | 'memory' | 'global';

export interface Import {
  module: string;
  name: string;
  kind: ImportKind;
  /** func: type index */
  typeIndex?: number;
  limits?: Limits;
  /** global: value type and mutability */
  valType?: number;
  mutable?: boolean;
  /** memory/table limits byte span, for rewriting */
  limitsStart?: number;
  limitsEnd?: number;
}

export interface Export {
  name: string;
  kind: ImportKind;
  index: number;
}

export interface FuncBody {
  /** Offset of the body's size prefix. */
  start: number;
  /** Offset of the first local declaration (just after the size). */
  bodyStart: number;
  /** Offset of the first instruction. */
  codeStart: number;
  /** One past the final `end`. */
  end: number;
  /** Local declarations (count, type) as written. */
  localDecls: { count: number; type: number }[];
  /** Total declared locals (not counting params). */
  localCount: number;
}

export interface ParsedModule {
  bytes: Uint8Array;
  sections: Section[];
  types: FuncType[];
  imports: Import[];
  /** Type index of every function, imported first. */
  funcTypes: number[];
  importedFuncCount: number;
  tableCount: number;
  /** Limits of every table, imported first. */
  tables: Limits[];
  memories: { limits: Limits; imported: boolean; limitsStart: number; limitsEnd: number }[];
  /** Value types of every global, imported first. */
  globalTypes: number[];
  exports: Export[];
  start: number | undefined;
  elemCount: number;
  dataCount: number | undefined;
  dataSegmentCount: number;
  /** Total bytes of all data segments. */
  dataBytes: number;
  bodies: FuncBody[];
  /** Functions referenced outside code: element segments and `ref.func` in constant expressions. */
  refFuncs: Set<number>;
}

export function unsupported(
  proposal: string,
  message: string,
  offset: number,
  section?: string,
  func?: number,
): ValidationError {
  const where: Record<string, string | number> = { offset, proposal };
  if (section !== undefined) where.section = section;
  if (func !== undefined) where.func = func;
  return new ValidationError(
    'DL_ERR_FEATURE_UNSUPPORTED',
    `${message} (${proposal} is outside docklock's deterministic feature set)`,
    where,
  );
}

const KINDS: ImportKind[] = ['func', 'table', 'memory', 'global'];

function readValType(r: Reader): number {
  const at = r.pos;
  const t = r.u8();
  if (isValType(t)) return t;
  if (t === 0x64 || t === 0x63 || (t >= 0x69 && t <= 0x6e) || (t >= 0x71 && t <= 0x74)) {
    throw unsupported('function-references/gc', `value type 0x${t.toString(16)}`, at, r.section);
  }
  return r.fail(`malformed value type 0x${t.toString(16)}`, at);
}

function readRefType(r: Reader): number {
  const at = r.pos;
  const t = readValType(r);
  if (t !== 0x70 && t !== 0x6f) r.fail('malformed reference type', at);
  return t;
}

function readLimits(r: Reader, kind: 'memory' | 'table'): Limits {
  const at = r.pos;
  const flags = r.u8();
  if (kind === 'memory') {
    if (flags === 2 || flags === 3) throw unsupported('threads', 'shared memory', at, r.section);
    if (flags >= 4 && flags <= 7) throw unsupported('memory64', '64-bit memory', at, r.section);
  } else if (flags >= 4 && flags <= 7) {
    throw unsupported('memory64', '64-bit table', at, r.section);
  }
  if (flags > 1) r.fail(`integer too large: limits flag 0x${flags.toString(16)}`, at);
  const min = r.u32();
  const max = flags === 1 ? r.u32() : undefined;
  return { flags, min, max };
}

/**
 * Skips a constant expression (§3.3.10); Wasm 3.0's extended constant expressions are rejected, and
 * so is `global.get` of a global at or above `importedGlobals` (Wasm 2.0 lets a constant read
 * imported globals only; V8 13 also accepts module-defined ones, as Wasm 3.0 does).
 */
export function skipConstExpr(r: Reader, importedGlobals = Infinity, refs?: Set<number>): void {
  for (;;) {
    const at = r.pos;
    const op = r.u8();
    switch (op) {
      case 0x0b:
        return;
      case 0x41:
        r.s32();
        break;
      case 0x42:
        r.skipS64();
        break;
      case 0x43:
        r.skip(4);
        break;
      case 0x44:
        r.skip(8);
        break;
      case 0x23:
        if (r.u32() >= importedGlobals)
          throw unsupported(
            'gc',
            'global.get of a global defined in the module, in a constant expression (only imported globals are allowed)',
            at,
            r.section,
          );
        break;
      case 0xd0:
        readRefType(r);
        break;
      case 0xd2: {
        const f = r.u32();
        refs?.add(f);
        break;
      }
      case 0xfd: {
        const sub = r.u32();
        if (sub !== 12) r.fail('constant expression required', at);
        r.skip(16);
        break;
      }
      case 0x6a:
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        throw unsupported('extended-const', 'arithmetic in a constant expression', at, r.section);
      default:
        r.fail('constant expression required', at);
    }
  }
}

/**
 * Decodes a module's structure. Throws `ValidationError` (`DL_ERR_MODULE_MALFORMED` with the
 * offset, or `DL_ERR_FEATURE_UNSUPPORTED` naming the proposal).
 */
export function decodeModule(bytes: Uint8Array): ParsedModule {
  const r = new Reader(bytes);
  if (bytes.length < 8) throw malformed('not a WebAssembly module: shorter than its 8-byte header', 0);
  if (bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d)
    throw malformed('magic header not detected: not a WebAssembly binary', 0);
  if (bytes[4] !== 0x01 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    if (bytes[4] === 0x0d && bytes[6] === 0x01)
      throw unsupported('component-model', 'a WebAssembly component, not a core module', 4);
    throw malformed('unknown binary version', 4);
  }
  r.pos = 8;
  const m: ParsedModule = {
    bytes,
    sections: [],
    types: [],
    imports: [],
    funcTypes: [],
    importedFuncCount: 0,
    tableCount: 0,
    tables: [],
    memories: [],
    globalTypes: [],
    exports: [],
    start: undefined,
    elemCount: 0,
    dataCount: undefined,
    dataSegmentCount: 0,
    dataBytes: 0,
    bodies: [],
    refFuncs: new Set(),
  };
  let lastRank = 0;
  let declaredFuncs: number | undefined;
  let importedGlobals = 0;
  while (!r.eof) {
    const start = r.pos;
    const id = r.u8();
    const size = r.u32();
    const contentStart = r.pos;
    if (size > r.end - contentStart) r.fail('section size mismatch: length out of bounds', start);
    const contentEnd = contentStart + size;
    const s = new Reader(bytes, contentStart, contentEnd);
    s.section = SECTION_NAMES[id] ?? `#${id}`;
    const section: Section = { id, start, contentStart, contentEnd };
    if (id === SECTION.tag) throw unsupported('exception-handling', 'tag section', start, 'tag');
    if (id !== SECTION.custom) {
      const rank = SECTION_RANK[id];
      if (rank === undefined) r.fail(`malformed section id ${id}`, start);
      if (rank <= lastRank) r.fail('unexpected content after last section or section out of order', start);
      lastRank = rank;
    }
    switch (id) {
      case SECTION.custom:
        section.name = s.name();
        s.pos = contentEnd; // opaque payload, kept verbatim
        break;
      case SECTION.type: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const at = s.pos;
          const form = s.u8();
          if (form !== 0x60) {
            if (form === 0x5e || form === 0x5f || form === 0x4e || form === 0x50 || form === 0x4f)
              throw unsupported('gc', 'composite type', at, 'type');
            s.fail('integer representation too long: malformed function type', at);
          }
          const np = s.u32();
          const params = new Uint8Array(Math.min(np, s.end - s.pos));
          if (np > s.end - s.pos) s.fail('unexpected end: too many parameters');
          for (let j = 0; j < np; j++) params[j] = readValType(s);
          const nr = s.u32();
          if (nr > s.end - s.pos) s.fail('unexpected end: too many results');
          const results = new Uint8Array(nr);
          for (let j = 0; j < nr; j++) results[j] = readValType(s);
          m.types.push({ params, results });
        }
        break;
      }
      case SECTION.import: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const module = s.name();
          const name = s.name();
          const at = s.pos;
          const kindByte = s.u8();
          const kind = KINDS[kindByte];
          if (kind === undefined) {
            if (kindByte === 4) throw unsupported('exception-handling', 'tag import', at, 'import');
            s.fail('malformed import kind', at);
          }
          const imp: Import = { module, name, kind };
          if (kind === 'func') {
            imp.typeIndex = s.u32();
            m.funcTypes.push(imp.typeIndex);
            m.importedFuncCount++;
          } else if (kind === 'table') {
            readRefType(s);
            imp.limitsStart = s.pos;
            imp.limits = readLimits(s, 'table');
            imp.limitsEnd = s.pos;
            m.tables.push(imp.limits);
            m.tableCount++;
          } else if (kind === 'memory') {
            imp.limitsStart = s.pos;
            imp.limits = readLimits(s, 'memory');
            imp.limitsEnd = s.pos;
            m.memories.push({
              limits: imp.limits,
              imported: true,
              limitsStart: imp.limitsStart,
              limitsEnd: imp.limitsEnd,
            });
          } else {
            imp.valType = readValType(s);
            const mutAt = s.pos;
            const mut = s.u8();
            if (mut > 1) s.fail('malformed mutability', mutAt);
            imp.mutable = mut === 1;
            m.globalTypes.push(imp.valType);
            importedGlobals++;
          }
          m.imports.push(imp);
        }
        break;
      }
      case SECTION.function: {
        const n = s.u32();
        if (n > s.end - s.pos) s.fail('unexpected end: function count exceeds section');
        declaredFuncs = n;
        for (let i = 0; i < n; i++) m.funcTypes.push(s.u32());
        break;
      }
      case SECTION.table: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const at = s.pos;
          if (bytes[at] === 0x40) throw unsupported('function-references', 'table with initialiser', at, 'table');
          readRefType(s);
          m.tables.push(readLimits(s, 'table'));
          m.tableCount++;
        }
        break;
      }
      case SECTION.memory: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const limitsStart = s.pos;
          const limits = readLimits(s, 'memory');
          m.memories.push({ limits, imported: false, limitsStart, limitsEnd: s.pos });
        }
        break;
      }
      case SECTION.global: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const t = readValType(s);
          const mutAt = s.pos;
          if (s.u8() > 1) s.fail('malformed mutability', mutAt);
          skipConstExpr(s, importedGlobals, m.refFuncs);
          m.globalTypes.push(t);
        }
        break;
      }
      case SECTION.export: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const name = s.name();
          const at = s.pos;
          const kind = KINDS[s.u8()];
          if (kind === undefined) s.fail('malformed export kind', at);
          m.exports.push({ name, kind, index: s.u32() });
        }
        break;
      }
      case SECTION.start:
        m.start = s.u32();
        break;
      case SECTION.element: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const at = s.pos;
          const flags = s.u32();
          if (flags > 7) s.fail('malformed elements segment kind', at);
          if (flags === 2 || flags === 6) s.u32(); // table index, checked by V8's validator
          if ((flags & 1) === 0) skipConstExpr(s, importedGlobals);
          if (flags & 4) {
            if (flags & 3) readRefType(s);
            const count = s.u32();
            for (let j = 0; j < count; j++) skipConstExpr(s, importedGlobals, m.refFuncs);
          } else {
            if (flags & 3) {
              const ek = s.u8();
              if (ek !== 0) s.fail('malformed element kind', s.pos - 1);
            }
            const count = s.u32();
            if (count > s.end - s.pos) s.fail('unexpected end: element count');
            for (let j = 0; j < count; j++) m.refFuncs.add(s.u32());
          }
          m.elemCount++;
        }
        break;
      }
      case SECTION.dataCount:
        m.dataCount = s.u32();
        break;
      case SECTION.code: {
        const n = s.u32();
        if (n !== (declaredFuncs ?? 0)) s.fail('function and code section have inconsistent lengths', start);
        for (let i = 0; i < n; i++) {
          const bodyPos = s.pos;
          const bodySize = s.u32();
          const bodyStart = s.pos;
          if (bodySize > s.end - bodyStart) s.fail('section size mismatch: function body out of bounds', bodyPos);
          const b = new Reader(bytes, bodyStart, bodyStart + bodySize);
          b.section = 'code';
          const groups = b.u32();
          const localDecls: { count: number; type: number }[] = [];
          let localCount = 0;
          for (let j = 0; j < groups; j++) {
            const count = b.u32();
            const type = readValType(b);
            localCount += count;
            if (localCount > 0xffffffff) b.fail('too many locals');
            localDecls.push({ count, type });
          }
          if (bodyStart + bodySize === b.pos) b.fail('unexpected end of section or function: missing end');
          m.bodies.push({
            start: bodyPos,
            bodyStart,
            codeStart: b.pos,
            end: bodyStart + bodySize,
            localDecls,
            localCount,
          });
          s.pos = bodyStart + bodySize;
        }
        break;
      }
      case SECTION.data: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const at = s.pos;
          const flags = s.u32();
          if (flags > 2) s.fail('malformed data segment kind', at);
          if (flags === 2) {
            const memAt = s.pos;
            if (s.u32() !== 0)
              throw unsupported('multi-memory', 'data segment for a memory other than 0', memAt, 'data');
          }
          if (flags !== 1) skipConstExpr(s, importedGlobals);
          const len = s.u32();
          s.skip(len);
          m.dataBytes += len;
          m.dataSegmentCount++;
        }
        if (m.dataCount !== undefined && m.dataCount !== n)
          s.fail('data count and data section have inconsistent lengths', start);
        break;
      }
    }
    if (s.pos !== contentEnd) s.fail('section size mismatch', s.pos);
    m.sections.push(section);
    r.pos = contentEnd;
  }
  if ((declaredFuncs ?? 0) !== m.bodies.length)
    throw malformed('function and code section have inconsistent lengths', bytes.length);
  if (m.memories.length > 1) throw unsupported('multi-memory', `${m.memories.length} memories declared`, 0, 'memory');
  for (const t of m.funcTypes) if (t >= m.types.length) throw malformed(`unknown type ${t}`, 0, 'function');
  return m;
}

/**
 * Validation of an untrusted module before anything runs: size limits against compile bombs,
 * docklock's feature set (decoder), V8's own validator (never hand V8 an invalid module and call
 * it ours), and imports against what the caller granted. Errors are `ValidationError`s with codes
 * `DL_ERR_LIMIT_*`, `DL_ERR_MODULE_*`, `DL_ERR_FEATURE_UNSUPPORTED`, `DL_ERR_IMPORT_NOT_GRANTED`.
 */
import { ValidationError } from './errors.ts';
import type { ErrorCode } from './errors.ts';
import { decodeModule } from './instrument/module.ts';
import { checkWithEngine } from './instrument/engine-check.ts';
import type { ParsedModule } from './instrument/module.ts';
import { analyzeBody } from './instrument/analyze-body.ts';
import { DEFAULT_COST_TABLE } from './instrument/cost-table.ts';

/** Limits against compile bombs. Every field documents its default. */
export interface ModuleLimits {
  /** Whole module, bytes. Default 64 MiB. */
  moduleBytes: number;
  /** Defined + imported functions. Default 100,000. */
  functions: number;
  /** Locals per function (excluding params). Default 50,000 (V8's own maximum). */
  localsPerFunction: number;
  /** One function body, bytes. Default 4 MiB. */
  bodyBytes: number;
  /** Initial size of any table, elements. Default 1,000,000. */
  tableElements: number;
  /** All data segments together, bytes. Default 64 MiB. */
  dataBytes: number;
  /** Types, imports, exports, globals: each. Default 100,000. */
  entries: number;
}

export const DEFAULT_MODULE_LIMITS: Readonly<ModuleLimits> = Object.freeze({
  moduleBytes: 64 * 1024 * 1024,
  functions: 100_000,
  localsPerFunction: 50_000,
  bodyBytes: 4 * 1024 * 1024,
  tableElements: 1_000_000,
  dataBytes: 64 * 1024 * 1024,
  entries: 100_000,
});

/**
 * Which imports a module may declare: a list of `module.name` patterns where `*` alone matches
 * anything and `module.*` matches every name in a module. Default: none (fail closed).
 */
export type ImportGrants = readonly string[];

export interface ValidateOptions {
  imports?: ImportGrants;
  limits?: Partial<ModuleLimits>;
}

/** Each structural limit's name in messages, and its code. */
const LIMIT_CODES = {
  'module size': 'DL_ERR_LIMIT_MODULE_SIZE',
  'function count': 'DL_ERR_LIMIT_FUNCTION_COUNT',
  'type count': 'DL_ERR_LIMIT_TYPE_COUNT',
  'import count': 'DL_ERR_LIMIT_IMPORT_COUNT',
  'export count': 'DL_ERR_LIMIT_EXPORT_COUNT',
  'global count': 'DL_ERR_LIMIT_GLOBAL_COUNT',
  'locals per function': 'DL_ERR_LIMIT_LOCALS_PER_FUNCTION',
  'function body size': 'DL_ERR_LIMIT_FUNCTION_BODY_SIZE',
  'table size': 'DL_ERR_LIMIT_TABLE_SIZE',
  'data size': 'DL_ERR_LIMIT_DATA_SIZE',
} as const satisfies Record<string, ErrorCode>;

function limitError(
  what: keyof typeof LIMIT_CODES,
  value: number,
  max: number,
  where: Record<string, string | number>,
): ValidationError {
  return new ValidationError(LIMIT_CODES[what], `${what}: ${value} is over the limit of ${max}`, where);
}

/** Whether an import is covered by a grant list. */
export function isGranted(grants: ImportGrants, module: string, name: string): boolean {
  for (const g of grants) {
    if (g === '*') return true;
    const dot = g.lastIndexOf('.');
    if (dot < 0) continue;
    const gm = g.slice(0, dot);
    const gn = g.slice(dot + 1);
    if (gm === module && (gn === '*' || gn === name)) return true;
  }
  return false;
}

/** Size limits that can be checked before decoding anything. */
export function checkModuleSize(wasm: Uint8Array, limits: ModuleLimits): void {
  if (!(wasm instanceof Uint8Array)) throw new TypeError(`module bytes must be a Uint8Array, got ${typeof wasm}`);
  if (wasm.length > limits.moduleBytes) throw limitError('module size', wasm.length, limits.moduleBytes, {});
}

/** Limits on the decoded structure (function count, locals, body, table and data sizes). */
export function checkLimits(m: ParsedModule, limits: ModuleLimits): void {
  if (m.funcTypes.length > limits.functions)
    throw limitError('function count', m.funcTypes.length, limits.functions, { section: 'function' });
  for (const [what, n] of [
    ['type count', m.types.length],
    ['import count', m.imports.length],
    ['export count', m.exports.length],
    ['global count', m.globalTypes.length],
  ] as const) {
    if (n > limits.entries) throw limitError(what, n, limits.entries, {});
  }
  m.bodies.forEach((b, i) => {
    const func = m.importedFuncCount + i;
    if (b.localCount > limits.localsPerFunction)
      throw limitError('locals per function', b.localCount, limits.localsPerFunction, {
        section: 'code',
        func,
        offset: b.bodyStart,
      });
    if (b.end - b.bodyStart > limits.bodyBytes)
      throw limitError('function body size', b.end - b.bodyStart, limits.bodyBytes, {
        section: 'code',
        func,
        offset: b.start,
      });
  });
  for (const t of m.tables)
    if (t.min > limits.tableElements) throw limitError('table size', t.min, limits.tableElements, { section: 'table' });
  if (m.dataBytes > limits.dataBytes) throw limitError('data size', m.dataBytes, limits.dataBytes, { section: 'data' });
}

export { checkWithEngine };

/** Every import must be granted (fail closed: no grants, no imports). */
export function checkImports(m: ParsedModule, grants: ImportGrants): void {
  for (const imp of m.imports) {
    if (!isGranted(grants, imp.module, imp.name)) {
      throw new ValidationError(
        'DL_ERR_IMPORT_NOT_GRANTED',
        `import "${imp.module}"."${imp.name}" (${imp.kind}) is not granted; grant it in the manifest or remove it from the module`,
        { section: 'import', import: `${imp.module}.${imp.name}` },
      );
    }
  }
}

/**
 * Validates an untrusted module without running or rewriting it: size limits, docklock's feature
 * set (every function body is scanned), V8's validator, and imports against the grants.
 * @returns the decoded structure
 * @throws {ValidationError} with a stable `code` and `where` (section, function, offset).
 */
export function validateModule(wasm: Uint8Array, options: ValidateOptions = {}): ParsedModule {
  const limits: ModuleLimits = { ...DEFAULT_MODULE_LIMITS, ...options.limits };
  checkModuleSize(wasm, limits);
  const m = decodeModule(wasm);
  checkLimits(m, limits);
  scanFeatures(m);
  checkWithEngine(wasm);
  checkImports(m, options.imports ?? []);
  return m;
}

/** Decodes every body once with the analysis pass, which rejects unsupported instructions. */
function scanFeatures(m: ParsedModule): void {
  m.bodies.forEach((b, i) => {
    const func = m.importedFuncCount + i;
    const type = m.types[m.funcTypes[func]!]!;
    analyzeBody(m, DEFAULT_COST_TABLE, func, b.codeStart, b.end, type.params.length + b.localCount);
  });
}

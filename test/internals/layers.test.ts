/**
 * The layer test: every import in the source tree goes the way DESIGN.md's arrows point
 * (docs/layers.md draws them). Imports are read with TypeScript's own pre-processor (static
 * imports, re-exports and `import()` with a literal), resolved to repository paths, and each file
 * is checked against the rules of the layer it sits in. A forbidden import fails the test with the
 * file, the import and the rule it breaks.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), '..', '..'));
/** Source folders the rules cover (tests, benchmarks and scripts may reach anything). */
const SOURCES = [
  'errors',
  'auth',
  'audit',
  'state',
  'runtime',
  'host-functions',
  'broker',
  'p2p',
  'escrow',
  'cli',
  'index.ts',
];

/** One layer rule: files under `from` may import only paths `allowed` accepts. */
export interface Rule {
  name: string;
  from: (file: string) => boolean;
  allowed: (target: string, file: string) => boolean;
}

const under =
  (dir: string) =>
  (p: string): boolean =>
    p === dir || p.startsWith(`${dir}/`);
const ERRORS = (p: string): boolean => under('errors')(p) || p === 'runtime/errors.ts';
/** What the package exports (package.json `exports`): the only doors into it from p2p and the CLI. */
const PUBLIC = new Set([
  'index.ts',
  'broker/index.ts',
  'errors/index.ts',
  'runtime/api/cage.ts',
  'runtime/api/bundle.ts',
  'runtime/api/evaluate.ts',
  'runtime/api/profile.ts',
  'p2p/index.ts',
  'escrow/index.ts',
]);

/** The user's cache folders: a leaf, which the CLI's first module may import. */
const USER_CACHE = 'runtime/user-cache.ts';
const READ_BOUNDED = 'runtime/read-bounded.ts';

export const RULES: Rule[] = [
  { name: 'errors/ imports nothing of docklock', from: under('errors'), allowed: (t) => under('errors')(t) },
  {
    name: 'instrument → errors only',
    from: under('runtime/instrument'),
    allowed: (t) => under('runtime/instrument')(t) || ERRORS(t),
  },
  {
    name: 'host-functions → store, witness entry types, errors only',
    from: under('host-functions'),
    allowed: (t) =>
      under('host-functions')(t) || t === 'runtime/store.ts' || t === 'runtime/witness/entry.ts' || ERRORS(t),
  },
  {
    name: 'only runtime/cage/ imports host-functions/',
    from: (f) => under('runtime')(f) && !under('runtime/cage')(f),
    allowed: (t) => !under('host-functions')(t),
  },
  {
    name: 'broker ↛ runtime (both use errors/)',
    from: under('broker'),
    allowed: (t) => !under('runtime')(t) && !under('host-functions')(t) && !under('p2p')(t),
  },
  { name: 'runtime ↛ broker', from: under('runtime'), allowed: (t) => !under('broker')(t) && !under('p2p')(t) },
  { name: 'nothing ↛ cli', from: (f) => !under('cli')(f), allowed: (t) => !under('cli')(t) },
  { name: 'p2p → public entry points only', from: under('p2p'), allowed: (t) => under('p2p')(t) || PUBLIC.has(t) },
  { name: 'audit/ → nothing of docklock', from: under('audit'), allowed: (t) => under('audit')(t) },
  { name: 'auth/ → nothing of docklock', from: under('auth'), allowed: (t) => under('auth')(t) },
  { name: 'state/ → errors only', from: under('state'), allowed: (t) => under('state')(t) || ERRORS(t) },
  {
    name: 'escrow → public entry points, audit/, auth/ and state/ only',
    from: under('escrow'),
    allowed: (t) => under('escrow')(t) || under('audit')(t) || under('auth')(t) || under('state')(t) || PUBLIC.has(t),
  },
  {
    // The command's first module finds its caches before loading anything else (cli/script-bundle.ts);
    // every command reads its files through the one bounded reader.
    name: 'cli → public entry points, runtime/user-cache.ts and runtime/read-bounded.ts only',
    from: under('cli'),
    allowed: (t) => under('cli')(t) || PUBLIC.has(t) || t === USER_CACHE || t === READ_BOUNDED,
  },
  { name: 'runtime/user-cache.ts imports nothing of docklock', from: (f) => f === USER_CACHE, allowed: () => false },
  { name: 'runtime/read-bounded.ts → errors only', from: (f) => f === READ_BOUNDED, allowed: ERRORS },
];

function sourceFiles(path: string): string[] {
  const abs = join(ROOT, path);
  if (!statSync(abs).isDirectory()) return path.endsWith('.ts') ? [path] : [];
  return readdirSync(abs).flatMap((n) => sourceFiles(`${path}/${n}`));
}

/** The repository paths a file imports (relative specifiers only; packages are not layers). */
export function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(ROOT, join(ROOT, dirname(file), s)));
}

/** Every `file → import` pair that breaks a rule. */
export function violations(files: ReadonlyMap<string, string>, rules: readonly Rule[] = RULES): string[] {
  const out: string[] = [];
  for (const [file, text] of files) {
    for (const target of importsOf(file, text)) {
      for (const r of rules) if (r.from(file) && !r.allowed(target, file)) out.push(`${file} → ${target} (${r.name})`);
    }
  }
  return out.sort();
}

describe('layers', () => {
  const files = new Map(SOURCES.flatMap(sourceFiles).map((f) => [f, readFileSync(join(ROOT, f), 'utf8')] as const));

  it('reads the whole source tree', () => {
    expect(files.size).toBeGreaterThan(100);
    expect([...files.keys()].some((f) => f.startsWith('host-functions/'))).toBe(true);
  });

  it('has no import against the arrows', () => {
    expect(violations(files)).toEqual([]);
  });

  // The checker itself must catch what it is for: one forbidden import of each kind, added to a
  // real file of the tree, is reported.
  it.each([
    ['runtime/instrument/emit-body.ts', "import { runGuest } from '../cage/run.ts';", 'instrument → errors only'],
    [
      'host-functions/log.ts',
      "import { Engine } from '../runtime/engine.ts';",
      'host-functions → store, witness entry types, errors only',
    ],
    [
      'runtime/replay.ts',
      "export { createWasi } from '../host-functions/wasi/preview1.ts';",
      'only runtime/cage/ imports host-functions/',
    ],
    ['broker/errors.ts', "import type { Trap } from '../runtime/errors.ts';", 'broker ↛ runtime (both use errors/)'],
    ['runtime/engine.ts', "const b = await import('../broker/app.ts');", 'runtime ↛ broker'],
    ['runtime/bundle.ts', "import { EXIT } from '../cli/io.ts';", 'nothing ↛ cli'],
    ['p2p/wire.ts', "import { encodeBundle } from '../runtime/bundle.ts';", 'p2p → public entry points only'],
    ['errors/codes.ts', "import { toHex } from '../runtime/hash.ts';", 'errors/ imports nothing of docklock'],
    ['audit/chain-log.ts', "import { Errors } from '../broker/errors.ts';", 'audit/ → nothing of docklock'],
    [
      'escrow/book.ts',
      "import { runGuest } from '../runtime/cage/run.ts';",
      'escrow → public entry points, audit/, auth/ and state/ only',
    ],
    [
      'cli/cmd/run.ts',
      "import { runGuest } from '../../runtime/cage/run.ts';",
      'cli → public entry points, runtime/user-cache.ts and runtime/read-bounded.ts only',
    ],
    [
      'runtime/user-cache.ts',
      "import { blake3 } from './hash.ts';",
      'runtime/user-cache.ts imports nothing of docklock',
    ],
    ['runtime/read-bounded.ts', "import { blake3 } from './hash.ts';", 'runtime/read-bounded.ts → errors only'],
  ])('reports a forbidden import added to %s', (file, line, rule) => {
    expect(files.has(file)).toBe(true);
    const changed = new Map(files);
    changed.set(file, `${line}\n${files.get(file)!}`);
    expect(violations(changed).filter((v) => v.startsWith(`${file} → `))).toEqual([
      expect.stringContaining(`(${rule})`),
    ]);
  });

  // One worker pool (issue 11): every thread docklock starts is a WorkerPool's.
  it('starts worker threads in runtime/cage/worker-pool.ts only', () => {
    expect(threadStarters(files)).toEqual(['runtime/cage/worker-pool.ts']);
    const changed = new Map(files);
    changed.set(
      'p2p/node.ts',
      `${files.get('p2p/node.ts')!}\nconst w = new Worker(new URL('./x.js', import.meta.url));\n`,
    );
    expect(threadStarters(changed)).toEqual(['p2p/node.ts', 'runtime/cage/worker-pool.ts']);
  });
});

/** The source files that construct a `Worker` (node:worker_threads). */
function threadStarters(files: ReadonlyMap<string, string>): string[] {
  return [...files]
    .filter(([, text]) => /\bnew\s+Worker\s*\(/.test(text))
    .map(([f]) => f)
    .sort();
}

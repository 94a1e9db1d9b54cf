/**
 * `import()` of a module outside the code that asks for it (a package left out of a bundle, a
 * file written at run time).
 *
 * The CLI's bundles run as scripts (cli/script-bundle.ts), where V8 has no module loader for an
 * `import()`: Node offers one only behind an experimental flag or with a warning on stderr. The
 * script loader passes its own `import` as `__import`, which this module uses when it is defined;
 * everywhere else (the library, the workers) `import()` is the module's own.
 */
declare const __import: ((specifier: string) => Promise<unknown>) | undefined;

/**
 * Imports `specifier`: a package name or an absolute `file:` URL (a relative one would resolve
 * against a different file in a bundle than in the sources).
 *
 * @param specifier - what to import.
 * @returns the module's namespace.
 * @example
 * ```ts
 * const { transpile } = (await importModule('jco-1.13')) as typeof import('jco-1.13');
 * ```
 */
export function importModule(specifier: string): Promise<unknown> {
  return typeof __import === 'function' ? __import(specifier) : import(specifier);
}

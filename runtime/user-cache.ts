/**
 * docklock's folders in the user's cache (instrumented modules, transpiled components, V8's code
 * caches of the command), and the one test every such folder must pass before anything is read
 * from it: what is read there decides the code a run executes (instrumented bytes, a component's
 * core modules and the glue it imports, compiled JavaScript).
 */
import { createRequire } from 'node:module';

// Built-ins through `require`, because cli/main.ts imports this module before anything else: an
// ES import of node:fs builds a facade that reads every export, a cost every start would pay.
const require = createRequire(import.meta.url);
const { lstatSync, mkdirSync } = require('node:fs') as typeof import('node:fs');
const { homedir, tmpdir } = require('node:os') as typeof import('node:os');
const { join } = require('node:path') as typeof import('node:path');

/** `$XDG_CACHE_HOME/docklock/<name>`, else `~/.cache/docklock/<name>`. */
export function userCacheDir(name: string): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' ? xdg : join(homedir() || tmpdir(), '.cache');
  return join(base, 'docklock', name);
}

/**
 * Creates `dir` if missing (mode 0700) and tells whether it is a real folder (not a symbolic
 * link) of this user's that no other user may write.
 */
export function isPrivateDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const s = lstatSync(dir);
    const uid = process.getuid?.();
    return s.isDirectory() && (uid === undefined || s.uid === uid) && (s.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

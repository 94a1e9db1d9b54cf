#!/usr/bin/env node
/**
 * The `docklock` command. This file runs on any Node: it checks the version before anything that
 * needs a newer one is loaded, hands over to a newer Node it can find (the checkout's own Node 24,
 * the `node` devDependency, for `npm link` users whose system Node is older), then to program.ts.
 */
import module from 'node:module';
import { isPrivateDir, userCacheDir } from '../runtime/user-cache.ts';
import { loadScriptBundle } from './script-bundle.ts';

// Built-ins through `require`: an ES import of node:fs builds a facade that reads every export,
// and reading `fs.ReadStream` loads the fs streams (tens of ms of every start: bench:cli).
const require = module.createRequire(import.meta.url);
const { existsSync } = require('node:fs') as typeof import('node:fs');
const { fileURLToPath } = require('node:url') as typeof import('node:url');

const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
if (major < 22 || (major === 22 && minor < 12)) {
  // dist/cli/main.js → <package>/node_modules/node/bin/node (present in a checkout after `npm ci`).
  const own = fileURLToPath(new URL('../../node_modules/node/bin/node', import.meta.url));
  if (existsSync(own) && process.env.DOCKLOCK_RELAUNCHED === undefined) {
    // Loaded only here: every start on a current Node would pay for node:child_process.
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const { constants } = require('node:os') as typeof import('node:os');
    const r = spawnSync(own, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, DOCKLOCK_RELAUNCHED: '1' },
    });
    process.exit(r.status ?? (r.signal ? 128 + constants.signals[r.signal] : 2));
  }
  process.stderr.write(
    `docklock: DL_ERR_CLI_NODE_VERSION: docklock needs Node.js 22.12 or newer (Node 24 LTS recommended); this is ${process.version}. ` +
      'Put a newer node first on PATH (check with `node --version`), or run docklock from its checkout with `npm run docklock -- …`.\n',
  );
  process.exit(2);
}

/** program.ts in one file, with `docklock run` (scripts/bundle-workers.ts); only in the built package. */
const RUN_BUNDLE = new URL('./program.run.bundle.cjs', import.meta.url);
/** program.ts in one file with the cage's other commands (those in {@link CAGE_COMMANDS}). */
const CAGE_BUNDLE = new URL('./program.cage.bundle.cjs', import.meta.url);
/** program.ts in one file without the runtime: `docklock` without a command (help, version). */
const HELP_BUNDLE = new URL('./program.help.bundle.cjs', import.meta.url);
const CAGE_COMMANDS = new Set([
  'replay',
  'verify',
  'proof',
  'verify-proof',
  'inspect',
  'extract',
  'profile',
  'evaluate',
]);

/**
 * The bundle to load and the command it is for (its code cache is the command's own), and only
 * if the build wrote it: the run bundle for `docklock run …`, the cage bundle for the cage's other
 * commands, the help bundle for `docklock` without a command. The broker, escrow and node commands
 * load program.ts's modules as they are, and so does `evaluate --publish`, which reaches the P2P
 * node: a bundle holds its own copy of the error classes, which their errors are not.
 */
function bundleFor(argv: readonly string[]): { file: string; command: string } | undefined {
  const args = argv.slice(2);
  const command = args.find((a) => !a.startsWith('-'));
  const publishes = args.some((a) => a === '--publish' || a.startsWith('--publish='));
  const bundle =
    command === 'run'
      ? RUN_BUNDLE
      : command === undefined
        ? HELP_BUNDLE
        : CAGE_COMMANDS.has(command) && !publishes
          ? CAGE_BUNDLE
          : undefined;
  const file = bundle === undefined ? undefined : fileURLToPath(bundle);
  return file !== undefined && existsSync(file) ? { file, command: command ?? 'help' } : undefined;
}

// V8's code cache on disk for the modules outside the bundles (the bundles have their own,
// cli/script-bundle.ts), in the user's private cache folder: Node's default is a shared folder
// under /tmp, where another user could leave the code this process runs. NODE_COMPILE_CACHE, if
// set, is the user's own choice. A worker thread does not inherit the call, only the variable.
if (process.env.NODE_COMPILE_CACHE === undefined) {
  const dir = userCacheDir('node-compile-cache');
  if (isPrivateDir(dir)) process.env.NODE_COMPILE_CACHE = dir;
}
if (process.env.NODE_COMPILE_CACHE !== undefined) module.enableCompileCache?.(process.env.NODE_COMPILE_CACHE);
const bundle = bundleFor(process.argv);
const { main } = bundle !== undefined ? loadScriptBundle(bundle.file, bundle.command) : await import('./program.ts');
await main(process.argv);

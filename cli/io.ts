/** Small I/O helpers shared by the CLI commands: reading inputs, printing, coded failures. */
import { readFileSync } from 'node:fs';
import { DocklockError, InputError } from '../runtime/errors.ts';

/** Exit codes of the cage commands (README, "Exit codes"). */
export const EXIT = { ok: 0, mismatch: 1, usage: 2, trap: 125 } as const;

/** Reads a file, or stdin for `-`; a missing file is a coded usage error. */
export function readInput(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path === '-' ? 0 : path));
  } catch (e) {
    throw new InputError('DL_ERR_CLI_READ', `cannot read ${what} "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { field: what });
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

/**
 * Runs a command body; a `DocklockError` becomes a one-line message (or a JSON error object) and
 * exit code 2. Anything else is our bug and keeps its stack.
 */
export async function guarded(json: boolean, body: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await body();
  } catch (e) {
    if (!(e instanceof DocklockError)) throw e;
    if (json) printJson({ error: e.toJSON() });
    else process.stderr.write(`docklock: ${e.code}: ${e.message}${e.where?.field ? ` (${e.where.field})` : ''}\n`);
    const exit = (e as { exitCode?: unknown }).exitCode;
    code = typeof exit === 'number' ? exit : EXIT.usage;
  }
  process.exitCode = code;
  // Let stdout drain; the process exits when the event loop is empty.
  return undefined as never;
}

/** Commander reducer for repeatable options. */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** `--env K=V` flags as a map; a flag without `=` (or with an empty name) is a coded usage error. */
export function parseEnvFlags(flags: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of flags) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new InputError('DL_ERR_CLI_ENV', `--env takes K=V, got "${kv}"`, { field: '--env' });
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

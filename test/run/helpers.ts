/** Helpers for the cage's end-to-end tests: fixtures, the CLI in a child process, temp dirs. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'cli', 'main.ts');

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', 'wasm', `${name}.wasm`)));
}

export function fixturePath(name: string): string {
  return join(ROOT, 'test', 'fixtures', 'wasm', `${name}.wasm`);
}

export function tempDir(prefix = 'docklock-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs `docklock …` in a fresh Node process; returns exit code, stdout and stderr. */
export function cli(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `docklock … --json`, parsed. */
export function cliJson<T = Record<string, unknown>>(args: string[]): { code: number; json: T } {
  const r = cli([...args, '--json']);
  try {
    return { code: r.code, json: JSON.parse(r.stdout) as T };
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

export { execFileSync };

/** `docklock … --json` without blocking this process's event loop (for servers the test itself runs). */
export function cliJsonAsync<T = Record<string, unknown>>(args: string[]): Promise<{ code: number; json: T }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code: code ?? -1, json: JSON.parse(out) as T });
      } catch {
        reject(new Error(`not JSON (exit ${code}): ${out}\n${err}`));
      }
    });
  });
}

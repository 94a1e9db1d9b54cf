/** `docklock run <module.wasm>`: run a module in the cage, optionally writing a replay bundle. */
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../../runtime/errors.ts';
import { parseManifest } from '../../runtime/manifest.ts';
import { readManifestInputs } from '../../runtime/inputs.ts';
import { runCage } from '../../runtime/cage.ts';
import { resultHash, resultToJson } from '../../runtime/result.ts';
import { encodeBundle } from '../../runtime/bundle.ts';
import { writeFileAtomic } from '../../runtime/write-atomic.ts';
import { EXIT, assertWritableFile, collect, defaultStdin, guarded, parseEnvFlags, printJson, readInput } from '../io.ts';

interface RunFlags {
  manifest?: string;
  stdin?: string;
  input: string[];
  fuel?: string;
  memory?: string;
  seed?: string;
  clockStart?: string;
  env: string[];
  arg: string[];
  net?: string;
  allowHost: string[];
  bundle?: string;
  json?: boolean;
}

type Obj = Record<string, unknown>;

function sub(o: Obj, key: string): Obj {
  const v = o[key];
  if (v === undefined) {
    const fresh: Obj = {};
    o[key] = fresh;
    return fresh;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputError('DL_ERR_MANIFEST_TYPE', `${key} must be a mapping`, { field: key });
  return v as Obj;
}

/** The manifest object from --manifest (or a minimal one), with the command-line flags applied on top. */
function manifestObject(modulePath: string, f: RunFlags): { raw: Obj; baseDir: string } {
  let raw: Obj = { apiVersion: 'docklock/v1', kind: 'Cage' };
  let baseDir = process.cwd();
  if (f.manifest !== undefined) {
    const text = new TextDecoder().decode(readInput(f.manifest, 'manifest'));
    let parsed: unknown;
    try {
      parsed = parseYaml(text, { intAsBigInt: true });
    } catch (e) {
      throw new InputError('DL_ERR_MANIFEST_SYNTAX', `manifest ${f.manifest} is not valid YAML/JSON: ${(e as Error).message}`, { field: 'manifest' });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InputError('DL_ERR_MANIFEST_TYPE', 'the manifest must be a mapping', {});
    raw = parsed as Obj;
    baseDir = dirname(resolve(f.manifest));
  }
  raw.module = modulePath;
  if (f.fuel !== undefined) sub(raw, 'limits').fuel = f.fuel;
  if (f.memory !== undefined) sub(raw, 'limits').memory = f.memory;
  if (f.seed !== undefined) sub(raw, 'determinism').seed = f.seed;
  if (f.clockStart !== undefined) sub(sub(raw, 'determinism'), 'clock').start = f.clockStart;
  if (f.env.length > 0) Object.assign(sub(raw, 'env'), parseEnvFlags(f.env));
  if (f.arg.length > 0) raw.args = [...((raw.args as unknown[] | undefined) ?? []), ...f.arg];
  if (f.net !== undefined) {
    if (f.net !== 'deny' && f.net !== 'record') throw new InputError('DL_ERR_CLI_NET', `--net is deny or record, got "${f.net}"`, { field: '--net' });
    sub(raw, 'network').mode = f.net;
    const grants = new Set<string>(Array.isArray(raw.grants) ? (raw.grants as string[]) : ['wasi', 'random', 'clock', 'log']);
    if (f.net === 'record') grants.add('net');
    else grants.delete('net');
    raw.grants = [...grants];
  }
  if (f.allowHost.length > 0) {
    const net = sub(raw, 'network');
    net.allow = [...((net.allow as unknown[] | undefined) ?? []), ...f.allowHost];
  }
  if (f.input.length > 0) {
    const files = sub(raw, 'files');
    const inputs = [...((files.inputs as unknown[] | undefined) ?? [])];
    for (const spec of f.input) {
      const colon = spec.indexOf(':');
      const host = colon < 0 ? spec : spec.slice(0, colon);
      const guest = colon < 0 ? `/input/${basename(spec)}` : spec.slice(colon + 1);
      inputs.push({ host: resolve(host), guest });
    }
    files.inputs = inputs;
  }
  return { raw, baseDir };
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a WebAssembly module deterministically in the cage')
    .argument('<module.wasm>', 'the module (a WASI preview1 command unless the manifest names another entry)')
    .option('--manifest <file>', 'cage manifest (YAML or JSON); flags below override its fields')
    .option('--stdin <file|->', 'bytes for the guest\'s stdin (- reads ours); default: ours when it is a pipe or a file, else empty')
    .option('--input <host[:guest]>', 'read-only input file (default guest path /input/<name>); repeatable', collect, [])
    .option('--fuel <n>', 'fuel budget')
    .option('--memory <size>', 'memory limit: bytes, or with KiB/MiB/GiB (e.g. 64MiB)')
    .option('--seed <hex64>', '32-byte seed for the guest\'s randomness, as 64 hex digits')
    .option('--clock-start <ns>', 'virtual clock start, ns since the Unix epoch')
    .option('--env <K=V>', 'environment variable; repeatable', collect, [])
    .option('--arg <a>', 'argument after the program name; repeatable', collect, [])
    .option('--net <mode>', 'deny (default) or record')
    .option('--allow-host <host:port>', 'host the guest may reach in record mode; repeatable', collect, [])
    .option('--bundle <out>', 'write a replay bundle of the run')
    .option('--json', 'print one JSON object instead of the guest\'s output')
    .addHelpText('after', '\nExit codes: the guest\'s exit code; 125 for a trap, out of fuel, stack or memory exhaustion or an output limit; 2 for a rejected module or bad usage. With --json: 0 whenever a result was produced.')
    .action(async (modulePath: string, f: RunFlags) =>
      guarded(f.json === true, async () => {
        const module = readInput(modulePath, 'module');
        const { raw, baseDir } = manifestObject(modulePath, f);
        const manifest = parseManifest(raw);
        const inputs = readManifestInputs(manifest, baseDir);
        if (f.bundle !== undefined) assertWritableFile(f.bundle, '--bundle');
        const stdin = f.stdin !== undefined ? readInput(f.stdin, 'stdin') : defaultStdin();
        const tee = f.json ? undefined : { stdout: (b: Uint8Array) => process.stdout.write(b), stderr: (b: Uint8Array) => process.stderr.write(b) };
        const out = await runCage({ manifest, module, stdin, inputs, mode: 'record', tee });
        if (f.bundle !== undefined) {
          writeFileAtomic(f.bundle, encodeBundle({ manifest, module, stdin, inputs, witness: out.witnessBytes, result: out.result }));
        }
        const r = out.result;
        if (f.json) {
          const json: Record<string, unknown> = { ...resultToJson(r) };
          if (out.error) json.error = out.error;
          printJson(json);
          return EXIT.ok;
        }
        if (r.status === 'rejected') {
          process.stderr.write(`docklock: ${out.error?.code}: ${out.error?.message}\n`);
          return EXIT.usage;
        }
        if (r.status === 'exited') return r.exitCode ?? 0;
        process.stderr.write(`docklock: ${r.status}${r.trap ? ` (${r.trap})` : ''}; fuel used ${r.fuelUsed} of ${r.fuelLimit}; result ${Buffer.from(resultHash(r)).toString('hex')}\n`);
        return EXIT.trap;
      }),
    );
}

/** `docklock run <module.wasm>`: run a module in the cage, optionally writing a replay bundle. */
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  DocklockError,
  InputError,
  encodeBundle,
  loadManifest,
  readManifestInputs,
  resultHash,
  resultToJson,
  Engine,
  instrumentCacheDir,
  prepareRunOnce,
  runOnce,
  writeFileAtomic,
  writeOutputs,
} from '../../runtime/api/cage.ts';
import type { ManifestOverrides, RunResult } from '../../runtime/api/cage.ts';
import {
  EXIT,
  assertOutputRoots,
  assertWritableDir,
  assertWritableFile,
  collect,
  defaultStdin,
  guarded,
  parseEnvFlags,
  printJson,
  readInput,
  writeError,
} from '../io.ts';

export interface RunFlags {
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
  dir: string[];
  outputDir?: string;
  force?: boolean;
  state?: string;
  stateDb?: string;
  stateVersion?: string;
}

/** `--state NAME [--state-db FILE] [--state-version V]`: the challenge state a run reads (docs/escrow.md). */
function stateSourceFrom(
  f: RunFlags,
  grants: readonly string[],
): { db?: string; name: string; version?: number } | undefined {
  if (f.state === undefined) {
    if (f.stateDb !== undefined || f.stateVersion !== undefined)
      throw new InputError('DL_ERR_CLI_USAGE', '--state-db and --state-version need --state NAME', {
        field: '--state',
      });
    return undefined;
  }
  if (!grants.includes('state'))
    throw new InputError('DL_ERR_CLI_USAGE', '--state needs a manifest that grants state (grants: [..., state])', {
      field: '--state',
    });
  if (f.stateVersion !== undefined && !/^\d{1,15}$/.test(f.stateVersion))
    throw new InputError('DL_ERR_CLI_USAGE', `--state-version must be a whole number, got "${f.stateVersion}"`, {
      field: '--state-version',
    });
  return {
    name: f.state,
    ...(f.stateDb === undefined ? {} : { db: resolve(f.stateDb) }),
    ...(f.stateVersion === undefined ? {} : { version: Number(f.stateVersion) }),
  };
}

/** The command-line flags as manifest overrides (the loader applies them over --manifest). */
export function overridesFrom(modulePath: string, f: RunFlags, trailing: readonly string[]): ManifestOverrides {
  if (f.net !== undefined && f.net !== 'deny' && f.net !== 'record')
    throw new InputError('DL_ERR_CLI_NET', `--net is deny or record, got "${f.net}"`, { field: '--net' });
  return {
    module: modulePath,
    fuel: f.fuel,
    memory: f.memory,
    seed: f.seed,
    clockStart: f.clockStart,
    env: parseEnvFlags(f.env),
    // `--arg` values first, then whatever follows the module (after `--`), as every runtime takes them.
    args: [...f.arg, ...trailing],
    network: f.net,
    allowHosts: f.allowHost,
    inputs: f.input.map((spec) => {
      const colon = spec.indexOf(':');
      const host = colon < 0 ? spec : spec.slice(0, colon);
      const guest = colon < 0 ? `/input/${basename(spec)}` : spec.slice(colon + 1);
      return { host: resolve(host), guest };
    }),
    writable: f.dir.map((spec) => {
      const colon = spec.indexOf(':');
      return colon < 0
        ? { host: resolve(spec), guest: '/' }
        : { host: resolve(spec.slice(0, colon)), guest: spec.slice(colon + 1) };
    }),
  };
}

/** One line that identifies a run's result: status, exit code, fuel and the result hash. */
function summary(r: RunResult): string {
  const how =
    r.status === 'exited' ? ` with exit code ${r.exitCode}` : r.trap && r.trap !== r.status ? ` (${r.trap})` : '';
  return `${r.status}${how}; fuel used ${r.fuelUsed} of ${r.fuelLimit}; result ${Buffer.from(resultHash(r)).toString('hex')}`;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a WebAssembly module deterministically in the cage')
    .argument('<module.wasm>', 'the module (a WASI preview1 command unless the manifest names another entry)')
    .argument('[args...]', 'arguments for the guest, after the --arg ones (put them after -- when they start with -)')
    .option('--manifest <file>', 'cage manifest (YAML or JSON); flags below override its fields')
    .option(
      '--stdin <file|->',
      "bytes for the guest's stdin (- reads ours); default: ours when it is a pipe or a file, else empty",
    )
    .option(
      '--input <host[:guest]>',
      'read-only input file or directory tree (default guest path /input/<name>); repeatable',
      collect,
      [],
    )
    .option(
      '--dir <host[:guest]>',
      "writable directory starting with a host directory's content (default guest path /, the root); its final content is an output, never written back; repeatable",
      collect,
      [],
    )
    .option(
      '--output-dir <dir>',
      'write the outputs (/output and writable directories) into dir after the run, mirroring guest paths (dir/output/…)',
    )
    .option('--force', '--output-dir may overwrite existing files')
    .option('--fuel <n>', 'fuel budget')
    .option('--memory <size>', 'memory limit: bytes, or with KiB/MiB/GiB (e.g. 64MiB)')
    .option('--seed <hex64>', "32-byte seed for the guest's randomness, as 64 hex digits")
    .option('--clock-start <ns>', 'virtual clock start, ns since the Unix epoch')
    .option('--env <K=V>', 'environment variable; repeatable', collect, [])
    .option('--arg <a>', 'argument after the program name; repeatable', collect, [])
    .option('--net <mode>', 'deny (default) or record')
    .option('--allow-host <host:port>', 'host the guest may reach in record mode; repeatable', collect, [])
    .option('--bundle <out>', 'write a replay bundle of the run')
    .option('--json', "print one JSON object instead of the guest's output")
    .option(
      '--state <name>',
      'the challenge state the run reads (manifest grants state; default: an empty state "default")',
    )
    .option('--state-db <file>', "where the state is kept: the escrow's <data dir>/escrow.db (default: an empty state)")
    .option('--state-version <n>', "the snapshot to read (default: the state's newest version)")
    .addHelpText(
      'after',
      "\nExit codes: the guest's exit code; 125 for a trap, out of fuel, stack or memory exhaustion or an output limit; 2 for a rejected module, bad usage, or a --bundle/--output-dir file not written after the run (the result is printed first). With --json: 0 whenever a result was produced and written.",
    )
    .action(async (modulePath: string, trailing: string[], f: RunFlags) =>
      guarded(f.json === true, async () => {
        const module = readInput(modulePath, 'module');
        const { manifest, baseDir } = loadManifest(f.manifest, overridesFrom(modulePath, f, trailing));
        // A run that needs a cage thread starts it while the inputs are read (bench:cli); most
        // runs happen on this thread (runtime/cage/inline.ts).
        // Instrumented modules are kept between runs (runtime/instrument-cache.ts), on either thread.
        const engine = new Engine({ cacheDir: instrumentCacheDir() });
        prepareRunOnce({ manifest, module }, { engine });
        const inputs = readManifestInputs(manifest, baseDir);
        const state = stateSourceFrom(f, manifest.grants);
        if (f.bundle !== undefined) assertWritableFile(f.bundle, '--bundle');
        if (f.outputDir !== undefined) {
          assertWritableDir(f.outputDir, '--output-dir');
          const roots = [manifest.files.output, ...manifest.files.writable.map((w) => w.guest)];
          assertOutputRoots(f.outputDir, roots, '--output-dir');
        }
        const stdin = f.stdin !== undefined ? readInput(f.stdin, 'stdin') : defaultStdin();
        const tee = f.json
          ? undefined
          : { stdout: (b: Uint8Array) => process.stdout.write(b), stderr: (b: Uint8Array) => process.stderr.write(b) };
        const out = await runOnce(
          {
            manifest,
            module,
            stdin,
            inputs,
            mode: 'record',
            tee,
            ...(state === undefined ? {} : { state }),
          },
          { engine },
        );
        // The run is done: a file that cannot be written now must not take the result with it
        // (nothing recorded is ever lost). Each write is tried; the result is printed whatever
        // failed, and the failures after it, with exit status 2.
        const failures: DocklockError[] = [];
        const attempt = (write: () => void): void => {
          try {
            write();
          } catch (e) {
            if (!(e instanceof DocklockError)) throw e;
            failures.push(e);
          }
        };
        if (f.bundle !== undefined) {
          const bundle = f.bundle;
          attempt(() =>
            writeFileAtomic(
              bundle,
              encodeBundle({ manifest, module, stdin, inputs, witness: out.witnessBytes, result: out.result }),
            ),
          );
        }
        if (f.outputDir !== undefined) {
          const dir = f.outputDir;
          attempt(() => writeOutputs(out.result.outputs, dir, { force: f.force === true, field: '--output-dir' }));
        }
        const r = out.result;
        if (f.json) {
          const json: Record<string, unknown> = { ...resultToJson(r) };
          if (out.error) json.error = out.error;
          // `error` is the command's error, as for any command; `writeErrors` lists every file not written.
          if (failures.length > 0) {
            json.error ??= failures[0]!.toJSON();
            json.writeErrors = failures.map((e) => e.toJSON());
          }
          if (manifest.grants.includes('state') && r.status !== 'rejected') {
            const { stateChangeOf, writeSetHashOf } = await import('../../runtime/api/bundle.ts');
            const c = stateChangeOf(out.witness);
            if (c !== null)
              json.state = {
                name: c.state,
                version: c.version,
                reads: c.reads.length,
                writes: c.writes.length,
                writeSetHash: writeSetHashOf(c.writes),
              };
          }
          printJson(json);
          return failures.length > 0 ? EXIT.usage : EXIT.ok;
        }
        if (r.status === 'rejected') process.stderr.write(`docklock: ${out.error?.code}: ${out.error?.message}\n`);
        // The result line is what a failed write would otherwise lose: printed for those too.
        else if (r.status !== 'exited' || failures.length > 0) process.stderr.write(`docklock: ${summary(r)}\n`);
        for (const e of failures) writeError(e, false);
        if (failures.length > 0 || r.status === 'rejected') return EXIT.usage;
        return r.status === 'exited' ? (r.exitCode ?? 0) : EXIT.trap;
      }),
    );
}

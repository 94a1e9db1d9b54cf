/** `docklock profile <bundle|module.wasm>`: a deterministic fuel profile of a run (docs/profile.md). */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { loadManifest, readManifestInputs, writeFileAtomic } from '../../runtime/api/cage.ts';
import { profileBundle, profileFormatOf, profileModule, renderProfile } from '../../runtime/api/profile.ts';
import type { ProfileReport } from '../../runtime/api/profile.ts';
import { InputError } from '../../errors/index.ts';
import { EXIT, assertWritableFile, collect, guarded, printJson, readInput } from '../io.ts';
import { overridesFrom } from './run.ts';
import type { RunFlags } from './run.ts';

interface ProfileFlags extends RunFlags {
  out: string;
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** The run flags, which only a module takes. */
const MODULE_ONLY: readonly [keyof ProfileFlags, string][] = [
  ['manifest', '--manifest'],
  ['stdin', '--stdin'],
  ['input', '--input'],
  ['dir', '--dir'],
  ['fuel', '--fuel'],
  ['memory', '--memory'],
  ['seed', '--seed'],
  ['clockStart', '--clock-start'],
  ['env', '--env'],
  ['arg', '--arg'],
];

export function registerProfile(program: Command): void {
  program
    .command('profile')
    .description('re-execute a bundle (offline) or run a module, and write a deterministic fuel profile')
    .argument('<bundle|module.wasm>', 'a replay bundle, or a module to run with the flags below')
    .argument('[args...]', 'module only: arguments for the guest, after the --arg ones')
    .requiredOption(
      '--out <file>',
      'where to write the profile; its extension picks the format: .svg or .html (interactive flame graph), .speedscope.json, .pb.gz (pprof)',
    )
    .option('--manifest <file>', 'module only: cage manifest (YAML or JSON); flags below override its fields')
    .option('--stdin <file>', "module only: bytes for the guest's stdin (default empty)")
    .option('--input <host[:guest]>', 'module only: read-only input file or directory tree; repeatable', collect, [])
    .option('--dir <host[:guest]>', 'module only: writable directory; repeatable', collect, [])
    .option('--fuel <n>', 'module only: fuel budget')
    .option('--memory <size>', 'module only: memory limit')
    .option('--seed <hex64>', "module only: 32-byte seed for the guest's randomness")
    .option('--clock-start <ns>', 'module only: virtual clock start, ns since the Unix epoch')
    .option('--env <K=V>', 'module only: environment variable; repeatable', collect, [])
    .option('--arg <a>', 'module only: argument after the program name; repeatable', collect, [])
    .option('--json', 'print one JSON object (status, fuel, result hash, profile file) instead of a line')
    .addHelpText(
      'after',
      "\nThe same bundle gives the same profile, byte for byte, on every machine. The profiled run's result hash is the plain run's, and the profile's total is its fuelUsed.\nExit codes: 0 profile written; 2 bad usage, an unusable bundle or a replay that does not reproduce it.",
    )
    .action(async (input: string, trailing: string[], f: ProfileFlags) =>
      guarded(f.json === true, async () => {
        const format = profileFormatOf(f.out);
        assertWritableFile(f.out, '--out');
        const bytes = readInput(input, 'input');
        const isModule = WASM_MAGIC.every((b, i) => bytes[i] === b);
        let report: ProfileReport;
        if (isModule) {
          const { manifest, baseDir } = loadManifest(
            f.manifest,
            overridesFrom(input, { ...f, net: undefined, allowHost: [] }, trailing),
          );
          const inputs = readManifestInputs(manifest, baseDir);
          const stdin = f.stdin !== undefined ? readInput(f.stdin, 'stdin') : new Uint8Array(0);
          report = await profileModule({ manifest, module: bytes, stdin, inputs }, { name: basename(input) });
        } else {
          // A bundle replays exactly what it recorded: a run flag would be silently ignored.
          const given = MODULE_ONLY.filter(([key]) => {
            const v = f[key];
            return Array.isArray(v) ? v.length > 0 : v !== undefined;
          }).map(([, flag]) => flag);
          if (trailing.length > 0) given.push('guest arguments');
          if (given.length > 0)
            throw new InputError(
              'DL_ERR_CLI_USAGE',
              `${given.join(', ')} apply to a module, not to a bundle, which replays the run it recorded`,
              { field: given[0]! },
            );
          report = await profileBundle(bytes, { name: basename(input) });
        }
        writeFileAtomic(f.out, renderProfile(report.profile, format));
        const r = report.result;
        if (f.json) {
          printJson({
            out: f.out,
            format,
            status: r.status,
            fuelUsed: r.fuelUsed.toString(),
            profileTotal: report.profile.root.total.toString(),
            resultHash: report.resultHash,
            truncated: report.profile.truncated,
          });
        } else {
          process.stdout.write(
            `profile ${f.out} (${format}): ${r.status}, fuel ${r.fuelUsed}, result ${report.resultHash}${report.profile.truncated ? ' (truncated)' : ''}\n`,
          );
        }
        return EXIT.ok;
      }),
    );
}

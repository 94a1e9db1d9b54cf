/** `docklock extract <bundle> <dir>`: write a bundle's outputs into a directory, as `run --output-dir` does. */
import type { Command } from 'commander';
import { decodeBundle } from '../../runtime/api/bundle.ts';
import { writeOutputs } from '../../runtime/api/cage.ts';
import { EXIT, guarded, printJson, readInput } from '../io.ts';

export function registerExtract(program: Command): void {
  program
    .command('extract')
    .description("write a bundle's outputs (/output and writable directories) into a directory")
    .argument('<bundle>', 'a bundle written by run --bundle')
    .argument('<dir>', 'where to write; mirrors guest paths (dir/output/…); created if missing')
    .option('--force', 'overwrite existing files')
    .option('--json', 'print the files written as JSON')
    .addHelpText(
      'after',
      '\nExit codes: 0 written; 2 unusable bundle, or a file exists (without --force) or cannot be written: then nothing is written.',
    )
    .action(async (bundlePath: string, dir: string, f: { force?: boolean; json?: boolean }) =>
      guarded(f.json === true, async () => {
        const b = decodeBundle(readInput(bundlePath, 'bundle'), { lazyWitness: true });
        const written = writeOutputs(b.result.outputs, dir, { force: f.force === true, field: 'dir' });
        if (f.json) printJson({ written });
        else for (const w of written) process.stdout.write(`${w}\n`);
        return EXIT.ok;
      }),
    );
}

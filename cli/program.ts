/** Declares the `docklock` commands; each lives in cli/cmd/ and calls the library. */
import { Command, CommanderError } from 'commander';
import { registerRun } from './cmd/run.ts';
import { registerBundleCommands } from './cmd/bundle.ts';
import { registerEvaluate } from './cmd/evaluate.ts';
import { registerBrokerCommands } from './broker/index.ts';

export function buildProgram(): Command {
  const program = new Command('docklock')
    .description('Deterministic WebAssembly cage with witnesses and replay bundles, and a policy-enforcing Docker broker')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerRun(program);
  registerBundleCommands(program);
  registerEvaluate(program);
  registerBrokerCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; bad usage exits 2, as every cage command documents.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    throw e;
  }
}

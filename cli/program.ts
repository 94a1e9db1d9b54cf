/**
 * Declares the `docklock` commands. Only the module of the command being run is loaded: a script
 * that calls `docklock run` per file must not pay for the broker's Docker client, fastify or the
 * evaluation pool (bench:cli measures it; test/e2e/cli-start.test.ts holds it).
 */
import { Command, CommanderError } from 'commander';
import { DocklockError } from '../errors/index.ts';
import { quietOnClosedPipes, usageError, writeError } from './io.ts';

type Register = (program: Command) => void;

interface CommandEntry {
  description: string;
  load: () => Promise<Register>;
}

/** Every top-level command: its one-line description and the module that declares it fully. */
const COMMANDS: Record<string, CommandEntry> = {
  run: {
    description: 'run a WebAssembly module deterministically in the cage',
    load: async () => (await import('./cmd/run.ts')).registerRun,
  },
  replay: { description: 're-execute a bundle offline and compare with its recorded result', load: bundleCommands },
  verify: { description: "check a bundle's integrity without executing it", load: bundleCommands },
  proof: { description: 'print the Merkle inclusion proof of one witness entry', load: bundleCommands },
  'verify-proof': {
    description: 'check an inclusion proof (the JSON printed by `docklock proof --json`)',
    load: bundleCommands,
  },
  inspect: {
    description: 'a readable listing of a bundle: manifest, result and witness entries',
    load: bundleCommands,
  },
  extract: {
    description: "write a bundle's outputs into a directory",
    load: async () => (await import('./cmd/extract.ts')).registerExtract,
  },
  evaluate: {
    description: "score miners' submissions with a challenge",
    load: async () => (await import('./cmd/evaluate.ts')).registerEvaluate,
  },
  profile: {
    description: 'write a deterministic fuel profile (flame graph, speedscope, pprof) of a bundle or a run',
    load: async () => (await import('./cmd/profile.ts')).registerProfile,
  },
  broker: {
    description: 'policy-enforcing Docker broker (daemon, client, audit)',
    load: async () => (await import('./broker/index.ts')).registerBrokerCommands,
  },
  escrow: {
    description: 'speculative results held until independent replays agree (open, jury, commit, revert)',
    load: async () => (await import('./cmd/escrow.ts')).registerEscrowCommands,
  },
  node: {
    description: 'P2P validator node: claims, bundle exchange, replay quorum, disputes',
    load: async () => (await import('./cmd/node.ts')).registerNodeCommands,
  },
};

async function bundleCommands(): Promise<Register> {
  return (await import('./cmd/bundle.ts')).registerBundleCommands;
}

/** The name of the command `argv` asks for (`docklock help X` included), if it is one of ours. */
function requestedCommand(argv: readonly string[]): string | undefined {
  const args = argv.slice(2);
  const first = args.find((a) => !a.startsWith('-'));
  const name = first === 'help' ? args[args.indexOf('help') + 1] : first;
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? name : undefined;
}

/**
 * The commander program for `argv`: the requested command declared in full, every other one as a
 * name and description (enough for `docklock --help`), so nothing else is loaded.
 */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('docklock')
    .description(
      'Deterministic WebAssembly cage with witnesses and replay bundles, and a policy-enforcing Docker broker',
    )
    .version('0.1.0')
    .exitOverride()
    // Usage errors are one coded line (main() prints them); commander's own text would be a second.
    .configureOutput({ outputError: () => {} });
  const wanted = requestedCommand(argv);
  // One module can declare several commands (bundle.ts): declare the wanted one's module first,
  // then a stub for every name it did not declare.
  if (wanted !== undefined) (await COMMANDS[wanted]!.load())(program);
  for (const [name, entry] of Object.entries(COMMANDS)) {
    if (!program.commands.some((c) => c.name() === name)) {
      program
        .command(name)
        .description(entry.description)
        .helpOption(false)
        .allowUnknownOption()
        .allowExcessArguments();
    }
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  quietOnClosedPipes();
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; bad usage is a coded line and exit 2, as every command documents.
      // A command group run without a subcommand has already printed its help.
      if (e.exitCode === 0 || e.code === 'commander.help' || e.code === 'commander.helpDisplayed') {
        process.exitCode = e.exitCode === 0 ? 0 : 2;
        return;
      }
      writeError(usageError(e), json);
      process.exitCode = 2;
      return;
    }
    if (e instanceof DocklockError) {
      writeError(e, json);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}

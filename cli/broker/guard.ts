/**
 * The broker commands' exit codes, on top of the cage commands' guard (cli/io.ts `guarded`): every
 * failure is one coded line (`docklock: DL_ERR_…: message`), never a stack. Exit 2 means the
 * command itself was wrong (usage, flags, config, an unreadable local file); exit 1 means the
 * operation was refused or failed (the broker answered with an error, or could not be reached).
 */
import { DocklockError } from '../../errors/index.ts';
import type { ErrorCode } from '../../errors/index.ts';
import { guarded } from '../io.ts';

/** Codes that mean "fix the command or its files", exit 2. Everything else is exit 1. */
const USAGE_CODES = new Set([
  'DL_ERR_BROKER_USAGE',
  'DL_ERR_BROKER_NO_TOKEN',
  'DL_ERR_BROKER_CONFIG',
  'DL_ERR_BREAKER_RULE',
  'DL_ERR_AUDIT_READ',
  'DL_ERR_CLI_READ',
]);

/** A coded error carrying the exit code `guarded` uses. */
class CliFailure extends DocklockError {
  readonly exitCode: number;
  constructor(e: DocklockError, exitCode: number) {
    super(e.code as ErrorCode, e.message, e.where, { cause: e });
    this.exitCode = exitCode;
  }
}

/** Any thrown value as a coded error with its exit code; an uncoded one is our bug, still one line. */
export function classify(e: unknown): CliFailure {
  if (e instanceof CliFailure) return e;
  if (e instanceof DocklockError) return new CliFailure(e, USAGE_CODES.has(e.code) ? 2 : 1);
  const msg = e instanceof Error ? e.message : String(e);
  return new CliFailure(new DocklockError('DL_ERR_INTERNAL', `unexpected failure: ${msg.split('\n')[0]}`), 1);
}

/**
 * Runs a broker command body under the shared guard.
 * @param json - print failures as a JSON error object on stdout instead of a line on stderr
 * @param body - the command; resolves to its exit code (0 unless it says otherwise)
 */
export async function brokerGuarded(json: boolean, body: () => Promise<number | void>): Promise<void> {
  await guarded(json, async () => {
    try {
      return (await body()) ?? 0;
    } catch (e) {
      throw classify(e);
    }
  });
}

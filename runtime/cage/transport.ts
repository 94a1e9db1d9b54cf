/**
 * The one error transport between a cage worker (a single run, or a job of the evaluation pool)
 * and the thread that started it: `{code, message, where}`, never a stack. A stack names our
 * files and line numbers, differs between builds and would reach a CLI user or a result; an
 * error that is not a `DocklockError` is our bug and crosses as `DL_ERR_INTERNAL` with its message.
 */
import { DocklockError } from '../errors.ts';
import type { ErrorJson } from '../errors.ts';

/** What a worker posts for an error. */
export function errorToWire(e: unknown): ErrorJson {
  if (e instanceof DocklockError) return e.toJSON();
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return {
    code: 'DL_ERR_INTERNAL',
    message: `internal error in a cage worker (a docklock bug; please report it): ${what}`,
  };
}

/** The error the starting thread throws for what a worker posted. */
export function errorFromWire(json: ErrorJson): DocklockError {
  return DocklockError.fromJSON(json);
}

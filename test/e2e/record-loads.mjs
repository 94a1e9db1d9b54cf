// Preloaded with --import: appends every module URL the process (and its workers) resolves to the
// file named by DOCKLOCK_LOAD_LOG, so a test can check what a command loads.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const log = process.env.DOCKLOCK_LOAD_LOG;
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    if (log) appendFileSync(log, `${r.url}\n`);
    return r;
  },
});

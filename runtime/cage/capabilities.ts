/**
 * The capability table: each grant a manifest can list, the imports it allows and how its host
 * functions are made for a run. Adding a capability touches this table only; runtime/cage/ is the
 * only runtime code that imports host-functions/ (test/internals/layers.test.ts).
 */
import { GRANTS } from '../manifest/parse.ts';
import type { Grant } from '../manifest/parse.ts';
import type { HostValue, Store } from '../store.ts';
import { createWasi, wasiImportNames } from '../../host-functions/wasi/preview1.ts';
import type { WasiHost } from '../../host-functions/wasi/preview1.ts';
import { createNet, NET_IMPORTS } from '../../host-functions/net/http.ts';
import type { NetTransport } from '../../host-functions/net/http.ts';
import { createLog, LOG_IMPORTS } from '../../host-functions/log.ts';
import { createNested } from '../../host-functions/nested/submission.ts';
import { NESTED_IMPORTS } from '../../host-functions/nested/abi.ts';
import { STATE_IMPORTS } from '../../host-functions/state/abi.ts';
import { createState } from '../../host-functions/state/state.ts';
import type { StateSession, StateSnapshot } from '../../host-functions/state/session.ts';

/** A host function as the recorder wraps it. */
export type HostFunction = (...a: HostValue[]) => HostValue | undefined;

/** What a run shares between its capabilities: one WASI host (files, clock, stdout) and the network. */
export interface RunHost {
  wasi: WasiHost;
  net: NetTransport | undefined;
  /** With `state` granted: the run's session, and in record mode the snapshot it reads. */
  state?: { session: StateSession; snapshot: StateSnapshot | undefined };
}

/** One grant: the import module, the names it allows, and its host functions for a run. */
export interface Capability {
  readonly module: 'wasi_snapshot_preview1' | 'docklock';
  readonly names: readonly string[];
  create(store: Store, run: RunHost): Record<string, HostFunction>;
}

/** The WASI groups share the run's one WASI host, which already holds just the granted functions. */
function wasiGroup(group: 'wasi' | 'random' | 'clock'): Capability {
  const names = wasiImportNames(new Set([group])).map((n) => n.slice('wasi_snapshot_preview1.'.length));
  return {
    module: 'wasi_snapshot_preview1',
    names,
    create: (_store, run) =>
      Object.fromEntries(names.filter((n) => run.wasi.imports[n] !== undefined).map((n) => [n, run.wasi.imports[n]!])),
  };
}

const utf8 = new TextEncoder();

/** Grant → capability. */
export const CAPABILITIES: Readonly<Record<Grant, Capability>> = {
  wasi: wasiGroup('wasi'),
  random: wasiGroup('random'),
  clock: wasiGroup('clock'),
  net: {
    module: 'docklock',
    names: NET_IMPORTS,
    create: (store, run) => createNet(store, run.net),
  },
  log: { module: 'docklock', names: LOG_IMPORTS, create: (store, run) => createLog(store, run.wasi.stderr) },
  // From level 1 a refused submission is explained on the challenge's stderr (its evaluation log).
  nested: {
    module: 'docklock',
    names: NESTED_IMPORTS,
    create: (store, run) =>
      createNested(
        store,
        run.wasi.level >= 1 ? (line) => run.wasi.stderr.push(utf8.encode(`${line}\n`)) : undefined,
        run.wasi.level,
      ),
  },
  state: {
    module: 'docklock',
    names: STATE_IMPORTS,
    create: (store, run) => createState(store, run.state!.session, run.state!.snapshot),
  },
};

/** The imports a manifest's grants allow, as `module.name` patterns for `compile`. */
export function grantedImports(m: { grants: readonly Grant[] }): string[] {
  return m.grants.flatMap((g) => CAPABILITIES[g].names.map((n) => `${CAPABILITIES[g].module}.${n}`));
}

/**
 * Builds the run's import object: every granted capability's functions, made in `GRANTS` order.
 * The order is fixed because each function's name is interned in the witness log as it is made.
 */
export function hostImports(store: Store, run: RunHost): Record<string, Record<string, HostFunction>> {
  const out: Record<string, Record<string, HostFunction>> = { wasi_snapshot_preview1: {}, docklock: {} };
  const granted = new Set<Grant>(store.manifest.grants);
  for (const g of GRANTS)
    if (granted.has(g)) Object.assign(out[CAPABILITIES[g].module]!, CAPABILITIES[g].create(store, run));
  return out;
}

export { createWasi };
export { WASI_LEVEL } from '../../host-functions/wasi/files.ts';
export type { NetTransport, WasiHost };

/** Client subcommands: thin wrappers over `BrokerClient` that print JSON or a short table. */
import { BrokerClient, Errors } from '../../broker/index.ts';
import { readInput, renderTable } from '../io.ts';
import type { BreakerEvent, ServiceSpec, ServiceView } from '../../broker/index.ts';

/** Connection flags shared by every client command. */
export interface ConnectionFlags {
  socket?: string;
  tokenFile?: string;
}

/** Default socket path; `DOCKLOCK_BROKER_SOCKET` overrides it. */
export const DEFAULT_SOCKET = '/run/docklock/broker.sock';

/**
 * Builds a client from flags and the environment. The token comes from `--token-file` or
 * `DOCKLOCK_TOKEN`, never a flag value (it would show in `ps`).
 */
export function clientFrom(flags: ConnectionFlags): BrokerClient {
  const socketPath = flags.socket ?? process.env.DOCKLOCK_BROKER_SOCKET ?? DEFAULT_SOCKET;
  const token =
    flags.tokenFile !== undefined
      ? new TextDecoder().decode(readInput(flags.tokenFile, 'token file')).trim()
      : process.env.DOCKLOCK_TOKEN?.trim();
  if (token === undefined || token.length === 0)
    throw Errors.noToken('no token: set DOCKLOCK_TOKEN or pass --token-file <file>', '--token-file');
  return new BrokerClient({ socketPath, token });
}

/** Flags of `deploy`. */
export interface DeployFlags {
  file?: string;
  name?: string;
  image?: string;
  network?: string;
  memory?: string;
  cpus?: string;
  pids?: string;
  user?: string;
  env?: string[];
  port?: string[];
  mount?: string[];
}

function intFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(v)) throw Errors.usage(`--${name}: expected a whole number, received "${v}"`, `--${name}`);
  return Number(v);
}

/**
 * Turns deploy flags into a request body (or reads it from `--file`).
 * @throws {BrokerError} `DL_ERR_BROKER_USAGE` on a malformed flag, `DL_ERR_CLI_READ` for an unreadable --file
 */
export function specFromFlags(flags: DeployFlags, command: string[]): ServiceSpec {
  if (flags.file !== undefined) {
    const text = new TextDecoder().decode(readInput(flags.file, 'spec file'));
    try {
      return JSON.parse(text) as ServiceSpec;
    } catch (e) {
      throw Errors.usage(`--file ${flags.file} is not JSON: ${(e as Error).message}`, '--file');
    }
  }
  if (flags.name === undefined || flags.image === undefined)
    throw Errors.usage('deploy needs --name and --image (or --file spec.json)', '--name');
  const spec: ServiceSpec = { name: flags.name, image: flags.image };
  if (command.length > 0) spec.command = command;
  if (flags.network !== undefined) spec.network = flags.network as ServiceSpec['network'];
  const memory = intFlag(flags.memory, 'memory');
  if (memory !== undefined) spec.memory = memory;
  if (flags.cpus !== undefined) {
    if (!/^[0-9]{1,4}(\.[0-9]{1,6})?$/.test(flags.cpus))
      throw Errors.usage(`--cpus: expected a number such as 0.5, received "${flags.cpus}"`, '--cpus');
    spec.cpus = Number(flags.cpus);
  }
  const pids = intFlag(flags.pids, 'pids');
  if (pids !== undefined) spec.pids = pids;
  if (flags.user !== undefined) spec.user = flags.user;
  if (flags.env && flags.env.length > 0) {
    spec.env = {};
    for (const e of flags.env) {
      const eq = e.indexOf('=');
      if (eq <= 0) throw Errors.usage(`--env: expected KEY=VALUE, received "${e}"`, '--env');
      spec.env[e.slice(0, eq)] = e.slice(eq + 1);
    }
  }
  if (flags.port && flags.port.length > 0) {
    spec.ports = flags.port.map((p) => {
      const m = /^([0-9]+):([0-9]+)$/.exec(p);
      if (m === null) throw Errors.usage(`--port: expected HOST:CONTAINER, received "${p}"`, '--port');
      return { host: Number(m[1]), container: Number(m[2]) };
    });
  }
  if (flags.mount && flags.mount.length > 0) {
    spec.mounts = flags.mount.map((m) => {
      const [source, target, mode] = m.split(':');
      if (!source || !target || (mode !== undefined && mode !== 'ro' && mode !== 'rw'))
        throw Errors.usage(`--mount: expected SOURCE:TARGET[:ro|rw], received "${m}"`, '--mount');
      return { source, target, readOnly: mode !== 'rw' };
    });
  }
  return spec;
}

/** Formats services as a fixed-width table. */
export function formatTable(services: ServiceView[]): string {
  const rows = [['ID', 'NAME', 'STATE', 'IMAGE', 'NETWORK', 'PORTS']];
  for (const s of services)
    rows.push([
      s.id.slice(0, 12),
      s.name,
      s.state,
      s.image,
      s.network,
      s.ports.map((p) => `127.0.0.1:${p.host}->${p.container}`).join(','),
    ]);
  return renderTable(rows);
}

/** Formats circuit-breaker events as a fixed-width table, oldest first. */
export function formatHistory(events: BreakerEvent[]): string {
  const rows = [['TIME', 'SERVICE', 'RULE', 'ACTION', 'OUTCOME', 'REASON', 'SIGNALS']];
  for (const e of events) {
    rows.push([
      e.time,
      `${e.owner}/${e.service}`,
      e.rule,
      e.action,
      e.outcome,
      e.reason + (e.repeats > 0 ? ` (+${e.repeats})` : ''),
      Object.entries(e.signals)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    ]);
  }
  return renderTable(rows);
}

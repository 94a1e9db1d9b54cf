/**
 * The `docklock broker` command group. cli/main.ts calls `registerBrokerCommands(program)`; the
 * commands stay thin and call broker/ (DESIGN.md: cli/ holds no logic a library user needs).
 */
import type { Command } from 'commander';
import { Errors, buildOpenApiDocument, hashToken } from '../../broker/index.ts';
import { auditVerifyCommand } from './audit.ts';
import { clientFrom, formatHistory, formatTable, specFromFlags } from './client-commands.ts';
import type { ConnectionFlags, DeployFlags } from './client-commands.ts';
import { brokerGuarded } from './guard.ts';
import { serveCommand } from './serve.ts';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Adds the `broker` command group to a commander program.
 * @param program - the root `docklock` command
 * @example
 * const program = new Command('docklock'); registerBrokerCommands(program); await program.parseAsync();
 */
export function registerBrokerCommands(program: Command): void {
  const broker = program.command('broker').description('policy-enforcing Docker broker (daemon, client, audit)');

  broker
    .command('serve')
    .description('run the broker daemon on its Unix socket')
    .requiredOption('-c, --config <file>', 'broker.yaml')
    .action(async (opts: { config: string }) => brokerGuarded(false, () => serveCommand(opts.config)));

  broker
    .command('openapi')
    .description('print the OpenAPI document of the broker API')
    .action(() => print(buildOpenApiDocument()));

  broker
    .command('hash-token')
    .description('print the sha256 of a token read from stdin, for the config file')
    .action(async () =>
      brokerGuarded(false, async () => {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        const token = Buffer.concat(chunks).toString('utf8').trim();
        if (token.length === 0)
          throw Errors.noToken(
            'no token on stdin: pipe the token in, e.g. `openssl rand -hex 24 | tee token | docklock broker hash-token`',
          );
        process.stdout.write(hashToken(token) + '\n');
      }),
    );

  const audit = broker.command('audit').description('audit log tools');
  audit
    .command('verify <file>')
    .description('check the hash chain; exits 1 at the first edited, deleted or reordered line')
    .option('--expect-head <hash>', 'head hash recorded elsewhere, to also detect truncation')
    .action(async (file: string, opts: { expectHead?: string }) =>
      brokerGuarded(false, async () => auditVerifyCommand(file, opts.expectHead)),
    );

  const withConn = (c: Command): Command =>
    c
      .option('-s, --socket <path>', 'broker socket (default $DOCKLOCK_BROKER_SOCKET or /run/docklock/broker.sock)')
      .option('--token-file <file>', 'file holding the token (default $DOCKLOCK_TOKEN)');

  withConn(broker.command('deploy [command...]'))
    .description('deploy a service (flags, or --file spec.json)')
    .option('-f, --file <file>', 'request body as JSON')
    .option('--name <name>')
    .option('--image <ref>')
    .option('--network <mode>', 'none | isolated | bridge')
    .option('--memory <bytes>')
    .option('--cpus <n>')
    .option('--pids <n>')
    .option('--user <uid:gid>')
    .option('-e, --env <KEY=VALUE>', 'repeatable', collect)
    .option('-p, --port <HOST:CONTAINER>', 'repeatable; published on 127.0.0.1', collect)
    .option('-m, --mount <SRC:DST[:ro|rw]>', 'repeatable', collect)
    .action(async (command: string[], opts: DeployFlags & ConnectionFlags) =>
      brokerGuarded(false, async () => print(await clientFrom(opts).deploy(specFromFlags(opts, command)))),
    );

  withConn(broker.command('ps'))
    .description('list your services')
    .option('--json', 'print JSON')
    .action(async (opts: ConnectionFlags & { json?: boolean }) =>
      brokerGuarded(opts.json === true, async () => {
        const list = await clientFrom(opts).list();
        if (opts.json) print(list);
        else process.stdout.write(formatTable(list));
      }),
    );

  withConn(broker.command('inspect <service>'))
    .description('show one service')
    .action(async (id: string, opts: ConnectionFlags) =>
      brokerGuarded(false, async () => print(await clientFrom(opts).inspect(id))),
    );

  withConn(broker.command('logs <service>'))
    .description('print recent output')
    .option('-n, --tail <lines>', 'lines from the end', '100')
    .action(async (id: string, opts: ConnectionFlags & { tail: string }) =>
      brokerGuarded(false, async () => {
        if (!/^[0-9]{1,5}$/.test(opts.tail))
          throw Errors.usage(`--tail: expected a whole number up to 10000, received "${opts.tail}"`, '--tail');
        const logs = await clientFrom(opts).logs(id, Number(opts.tail));
        process.stdout.write(logs.stdout);
        process.stderr.write(logs.stderr);
      }),
    );

  for (const action of ['start', 'stop'] as const) {
    withConn(broker.command(`${action} <service>`))
      .description(`${action} a service`)
      .action(async (id: string, opts: ConnectionFlags) =>
        brokerGuarded(false, async () => print(await clientFrom(opts).act(id, action))),
      );
  }

  withConn(broker.command('history'))
    .description('circuit-breaker trips and actions on your services (admins: all services)')
    .option('--service <service>', 'only this service (name or full ID)')
    .option('-n, --limit <events>', 'newest events', '100')
    .option('--json', 'print JSON')
    .action(async (opts: ConnectionFlags & { service?: string; limit: string; json?: boolean }) =>
      brokerGuarded(opts.json === true, async () => {
        if (!/^[0-9]{1,5}$/.test(opts.limit))
          throw Errors.usage(`--limit: expected a whole number, received "${opts.limit}"`, '--limit');
        const h = await clientFrom(opts).breakerHistory({
          limit: Number(opts.limit),
          ...(opts.service !== undefined ? { service: opts.service } : {}),
        });
        if (opts.json) print(h);
        else {
          if (!h.enabled) process.stderr.write('the circuit breaker is not enabled on this broker\n');
          process.stdout.write(formatHistory(h.events));
        }
      }),
    );

  withConn(broker.command('rm <service>'))
    .description('remove a service')
    .action(async (id: string, opts: ConnectionFlags) =>
      brokerGuarded(false, async () => print(await clientFrom(opts).remove(id))),
    );
}

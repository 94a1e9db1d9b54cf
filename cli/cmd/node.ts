/**
 * `docklock node …`: the P2P validator node (p2p/, docs/p2p.md). Every action loads its modules
 * lazily, so declaring these commands costs nothing to `docklock run`.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DocklockError } from '../../errors/index.ts';
import { EXIT, assertWritableFile, guarded, printJson, readInput, writeError } from '../io.ts';

interface ConfigFlag {
  config: string;
  json?: boolean;
}

async function client(configPath: string): Promise<import('../../p2p/index.ts').NodeClient> {
  const { loadNodeConfig } = await import('../../p2p/index.ts');
  const { apiToken } = await import('../../p2p/index.ts');
  const { NodeClient } = await import('../../p2p/index.ts');
  const config = loadNodeConfig(configPath);
  return new NodeClient({ socketPath: config.socket, token: apiToken(config.dataDir, false) });
}

function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** `evaluate --publish`: one claim per bundle through the node's API; prints `claim <id> <submission>` (or JSON lines). */
export async function publishBundles(
  configPath: string,
  items: { submission: string; bundle: string }[],
  json: boolean,
): Promise<void> {
  const c = await client(configPath);
  for (const it of items) {
    const r = await c.json<{ id: string }>('POST', '/v1/claims', readInput(it.bundle, 'bundle'));
    process.stdout.write(
      json ? `${JSON.stringify({ submission: it.submission, claim: r.id })}\n` : `claim ${r.id} ${it.submission}\n`,
    );
  }
}

export function registerNodeCommands(program: Command): void {
  const node = program
    .command('node')
    .description('P2P validator node: claims, bundle exchange, replay quorum, disputes (docs/p2p.md)');
  const withConfig = (c: Command): Command =>
    c.option('--config <file>', 'the node config (node.yaml)', 'node.yaml').option('--json', 'print JSON');

  node
    .command('keygen')
    .description('write a new Ed25519 node key file (mode 0600; never overwrites)')
    .argument('<file>')
    .option('--json', 'print JSON')
    .action(async (file: string, f: { json?: boolean }) =>
      guarded(f.json === true, async () => {
        const { generateKeyFile } = await import('../../p2p/index.ts');
        const key = await generateKeyFile(file);
        if (f.json) printJson({ peerId: key.peerId, file });
        else process.stdout.write(`${key.peerId}\n`);
        return EXIT.ok;
      }),
    );

  withConfig(
    node
      .command('start')
      .description('run the node in the foreground until SIGINT/SIGTERM; prints one JSON line when ready'),
  ).action(async (f: ConfigFlag) =>
    guarded(true, async () => {
      const { loadNodeConfig } = await import('../../p2p/index.ts');
      const { startDaemon } = await import('../../p2p/index.ts');
      let running: Awaited<ReturnType<typeof startDaemon>>;
      try {
        running = await startDaemon(loadNodeConfig(f.config));
      } catch (e) {
        // stdout is the machine's (the JSON error follows there), and is often a log file
        // (`> start.log &`): the person who started the node sees the coded line on stderr.
        if (e instanceof DocklockError) writeError(e, false);
        throw e;
      }
      process.stdout.write(`${readFileSync(join(running.node.config.dataDir, 'node.json'), 'utf8')}`);
      await new Promise<void>((resolve) => {
        const stop = (): void => void running.close().finally(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      return EXIT.ok;
    }),
  );

  withConfig(node.command('status').description('identity, addresses, peers, claim counts')).action(
    async (f: ConfigFlag) =>
      guarded(f.json === true, async () => {
        const s = await (await client(f.config)).json('GET', '/v1/status');
        if (f.json) printJson(s);
        else
          process.stdout.write(
            `peer ${String(s.peerId)}\npeers ${String(s.peers)}\nclaims ${JSON.stringify(s.claims)}\nreplays ${JSON.stringify(s.replays)}\n${(s.addresses as string[]).map((a) => `listen ${a}`).join('\n')}\n`,
          );
        return EXIT.ok;
      }),
  );

  withConfig(node.command('peers').description('peers with their scores')).action(async (f: ConfigFlag) =>
    guarded(f.json === true, async () => {
      const s = await (await client(f.config)).json<{ peers: { peerId: string; connected: boolean; score: number }[] }>(
        'GET',
        '/v1/peers',
      );
      if (f.json) printJson(s);
      else
        process.stdout.write(
          table([
            ['peer', 'connected', 'score'],
            ...s.peers.map((p) => [p.peerId, String(p.connected), p.score.toFixed(1)]),
          ]),
        );
      return EXIT.ok;
    }),
  );

  withConfig(node.command('claims').description('claims, newest first'))
    .option('--state <state>', 'pending, confirmed, disputed or expired')
    .option('--limit <n>', 'at most n', '100')
    .action(async (f: ConfigFlag & { state?: string; limit: string }) =>
      guarded(f.json === true, async () => {
        const q = `?limit=${encodeURIComponent(f.limit)}${f.state !== undefined ? `&state=${encodeURIComponent(f.state)}` : ''}`;
        const s = await (await client(f.config)).json<{
          claims: { id: string; state: string; claim: { score: number; status: string } }[];
        }>('GET', `/v1/claims${q}`);
        if (f.json) printJson(s);
        else
          process.stdout.write(
            table([
              ['claim', 'state', 'score', 'status'],
              ...s.claims.map((c) => [c.id, c.state, String(c.claim.score), c.claim.status]),
            ]),
          );
        return EXIT.ok;
      }),
    );

  withConfig(node.command('claim').description('one claim with its verdicts; --dispute writes its dispute file'))
    .argument('<id>')
    .option('--dispute <file>', 'write the dispute file of a disputed claim')
    .action(async (id: string, f: ConfigFlag & { dispute?: string }) =>
      guarded(f.json === true, async () => {
        if (f.dispute !== undefined) assertWritableFile(f.dispute, '--dispute');
        const c = await client(f.config);
        if (f.dispute !== undefined) {
          const r = await c.call('GET', `/v1/claims/${encodeURIComponent(id)}/dispute`);
          const { writeFileAtomic } = await import('../../runtime/api/cage.ts');
          writeFileAtomic(f.dispute, r.bytes);
        }
        printJson(await c.json('GET', `/v1/claims/${encodeURIComponent(id)}`));
        return EXIT.ok;
      }),
    );

  withConfig(
    node
      .command('publish')
      .description('publish a signed claim for a bundle (docklock evaluate --bundles writes them)'),
  )
    .argument('<bundle>')
    .action(async (bundle: string, f: ConfigFlag) =>
      guarded(f.json === true, async () => {
        const r = await (await client(f.config)).json<{ id: string }>(
          'POST',
          '/v1/claims',
          readInput(bundle, 'bundle'),
        );
        if (f.json) printJson(r);
        else process.stdout.write(`${r.id}\n`);
        return EXIT.ok;
      }),
    );

  withConfig(node.command('verdicts').description('verdicts, most recently received first'))
    .option('--limit <n>', 'at most n', '100')
    .action(async (f: ConfigFlag & { limit: string }) =>
      guarded(f.json === true, async () => {
        const s = await (await client(f.config)).json<{
          verdicts: { id: string; claimId: string; outcome: string; replayer: string }[];
        }>('GET', `/v1/verdicts?limit=${encodeURIComponent(f.limit)}`);
        if (f.json) printJson(s);
        else
          process.stdout.write(
            table([['verdict', 'claim', 'outcome'], ...s.verdicts.map((v) => [v.id, v.claimId, v.outcome])]),
          );
        return EXIT.ok;
      }),
    );

  node
    .command('verify-dispute')
    .description('check a dispute file offline, without replaying (exit 0 valid, 1 invalid)')
    .argument('<file>')
    .option('--json', 'print JSON')
    .action(async (file: string, f: { json?: boolean }) =>
      guarded(f.json === true, async () => {
        const { verifyDispute } = await import('../../p2p/index.ts');
        const { DocklockError } = await import('../../errors/index.ts');
        try {
          const r = await verifyDispute(readInput(file, 'dispute'));
          if (f.json) printJson({ valid: true, ...r });
          else process.stdout.write(`valid ${r.kind} dispute (${r.strength}) of claim ${r.claimId}: ${r.finding}\n`);
          return EXIT.ok;
        } catch (e) {
          // A file that cannot be read is no verdict on a dispute: exit 2, like every unreadable input.
          if (!(e instanceof DocklockError) || e.code === 'DL_ERR_CLI_READ' || e.code === 'DL_ERR_CLI_TOO_LARGE')
            throw e;
          if (f.json) printJson({ valid: false, error: e.toJSON() });
          else process.stderr.write(`docklock: invalid dispute: ${e.code}: ${e.message}\n`);
          return EXIT.mismatch;
        }
      }),
    );
}

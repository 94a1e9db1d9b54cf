/**
 * `docklock escrow …`: speculative results held until independent replays agree (escrow/,
 * docs/escrow.md). Each command opens the escrow's data directory, acts, and closes it; the
 * directory's lock keeps two processes from writing at once.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import type { Escrow, EscrowRecord, GateDecision, LoadedEscrowConfig } from '../../escrow/index.ts';
import { InputError } from '../../errors/index.ts';
import { EXIT, guarded, printJson, readInput, renderTable } from '../io.ts';

/** A bad flag value: one coded line naming the flag. */
const usageError = (message: string, flag: string): InputError =>
  new InputError('DL_ERR_CLI_USAGE', message, { field: flag });

interface Common {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

async function config(f: Common): Promise<LoadedEscrowConfig> {
  const { ESCROW_API_DEFAULTS, ESCROW_DEFAULTS, loadEscrowConfig } = await import('../../escrow/index.ts');
  const path = f.config ?? (existsSync('escrow.yaml') ? 'escrow.yaml' : undefined);
  const loaded =
    path === undefined
      ? { ...ESCROW_DEFAULTS, dataDir: 'escrow-data', api: ESCROW_API_DEFAULTS }
      : loadEscrowConfig(path);
  return f.dataDir === undefined ? loaded : { ...loaded, dataDir: f.dataDir };
}

/**
 * The escrow's JSON rendering (the HTTP API's), loaded with the escrow by {@link withEscrow}, inside
 * which every subcommand that prints records runs.
 */
let asJson: Pick<typeof import('../../escrow/index.ts'), 'bytesJson' | 'recordJson'>;

async function withEscrow<T>(f: Common, body: (e: Escrow) => Promise<T>): Promise<T> {
  const mod = await import('../../escrow/index.ts');
  const { Escrow } = mod;
  asJson = mod;
  const c = await config(f);
  const escrow = await Escrow.open(c.dataDir, c);
  try {
    return await body(escrow);
  } finally {
    await escrow.close();
  }
}

/** For the tables: printable text as is, text with line breaks or tabs JSON-escaped, anything else as 0x hex. */
const text = (b: Uint8Array): string => {
  const s = new TextDecoder('utf-8', { fatal: false }).decode(b);
  if (/^[\x20-\x7e]*$/.test(s)) return s;
  if (/^[\x20-\x7e\n\r\t]*$/.test(s)) return JSON.stringify(s);
  return `0x${Buffer.from(b).toString('hex')}`;
};

function printDecision(d: GateDecision, json: boolean, record: EscrowRecord): void {
  if (json) printJson({ escrow: asJson.recordJson(record), decision: d });
  else
    process.stdout.write(
      `${record.id}  ${record.status}  (gate: ${d.outcome})\n${d.reasons.map((r) => `  - ${r}\n`).join('')}`,
    );
}

export function registerEscrowCommands(program: Command): void {
  const escrow = program
    .command('escrow')
    .description('speculative results held until independent replays agree (docs/escrow.md)');
  const common = (c: Command): Command =>
    c
      .option('--config <file>', 'escrow.yaml (default: ./escrow.yaml if present)')
      .option('--data-dir <dir>', 'the escrow data directory (overrides the config; default ./escrow-data)')
      .option('--json', 'print JSON');

  common(
    escrow
      .command('open')
      .description(
        'escrow a recorded run (`docklock run --state … --bundle`): its state change waits for jurors; prints the id and the revert token once',
      )
      .requiredOption('--bundle <file>', "the run's bundle: jurors replay it, the change comes from it")
      .requiredOption('--miner <id>', 'who submitted it (reputation is kept per miner)')
      .option('--submission <file>', "the submission bytes (entropy, hash); default the bundle's /input/submission")
      .option('--ttl-ms <ms>', 'time to live (default from the config)'),
  ).action(async (f: Common & { bundle: string; miner: string; submission?: string; ttlMs?: string }) =>
    guarded(f.json === true, async () => {
      const bundle = readInput(f.bundle, 'bundle');
      if (f.ttlMs !== undefined && !/^\d{1,12}$/.test(f.ttlMs))
        throw usageError(`--ttl-ms must be a whole number, got ${JSON.stringify(f.ttlMs)}`, '--ttl-ms');
      return withEscrow(f, async (e) => {
        const { record, revertToken } = await e.escrowRun({
          bundle,
          miner: f.miner,
          ...(f.submission === undefined ? {} : { submission: readInput(f.submission, 'submission') }),
          ...(f.ttlMs === undefined ? {} : { ttlMs: Number(f.ttlMs) }),
        });
        if (f.json) printJson({ escrow: asJson.recordJson(record), revertToken });
        else
          process.stdout.write(
            `${record.id}  ${record.status}  state ${record.state} at version ${record.base}, ${record.writes.length} writes\nrevert token (shown once): ${revertToken}\n`,
          );
        return EXIT.ok;
      });
    }),
  );

  common(
    escrow
      .command('state')
      .description("a challenge state's committed keys and values (newest version, or --at)")
      .argument('<name>')
      .option('--at <version>', 'read this version instead of the newest')
      .option('--from <key>', 'start at this key', '')
      .option('--limit <n>', 'at most this many keys (1 to 1024)', '100'),
  ).action(async (name: string, f: Common & { at?: string; from: string; limit: string }) =>
    guarded(f.json === true, () =>
      withEscrow(f, async (e) => {
        if (f.at !== undefined && !/^\d{1,15}$/.test(f.at)) throw usageError('--at must be a version number', '--at');
        if (!/^\d{1,4}$/.test(f.limit) || Number(f.limit) < 1 || Number(f.limit) > 1024)
          throw usageError('--limit must be 1 to 1024', '--limit');
        const head = e.state.head(name);
        const at = f.at === undefined ? head : Number(f.at);
        if (at > head) throw usageError(`state "${name}" has versions 0 to ${head}`, '--at');
        const rows = e.state.scan(name, new TextEncoder().encode(f.from), Number(f.limit), at);
        if (f.json)
          printJson({
            state: name,
            version: at,
            head,
            entries: rows.map((r) => ({
              key: asJson.bytesJson(r.key),
              value: asJson.bytesJson(r.value),
              version: r.version,
            })),
          });
        else
          process.stdout.write(
            `${name} at version ${at} (head ${head})\n` +
              (rows.length === 0
                ? '(no keys)\n'
                : renderTable([
                    ['KEY', 'VALUE', 'VERSION'],
                    ...rows.map((r) => [text(r.key), text(r.value), String(r.version)]),
                  ])),
          );
        return EXIT.ok;
      }),
    ),
  );

  common(
    escrow
      .command('ls')
      .description('list escrows')
      .option('--status <status>', 'pending, held, committed, reverted or expired'),
  ).action(async (f: Common & { status?: string }) =>
    guarded(f.json === true, async () => {
      const statuses = ['pending', 'held', 'committed', 'reverted', 'expired'];
      if (f.status !== undefined && !statuses.includes(f.status))
        throw usageError(`--status must be one of ${statuses.join(', ')}`, '--status');
      return withEscrow(f, async (e) => {
        const rows = e.book.list(f.status === undefined ? {} : { status: f.status as EscrowRecord['status'] });
        if (f.json) printJson(rows.map((r) => asJson.recordJson(r)));
        else if (rows.length === 0) process.stdout.write('no escrows\n');
        else
          process.stdout.write(
            renderTable([
              ['ID', 'STATUS', 'STATE', 'MINER', 'BASE', 'WRITES', 'CREATED'],
              ...rows.map((r) => [
                r.id,
                r.status,
                r.state,
                r.miner,
                String(r.base),
                String(r.writes.length),
                new Date(r.createdAt).toISOString(),
              ]),
            ]),
          );
        return EXIT.ok;
      });
    }),
  );

  common(
    escrow.command('show').description('one escrow: record, verdicts and what the gate says now').argument('<id>'),
  ).action(async (id: string, f: Common) =>
    guarded(f.json === true, () =>
      withEscrow(f, async (e) => {
        const r = e.book.get(id);
        const d = e.gateDecision(r);
        if (f.json) printJson({ escrow: asJson.recordJson(r), verdicts: e.verdicts(id), gate: d });
        else {
          const j = asJson.recordJson(r);
          process.stdout.write(
            `${r.id}  ${r.status}${r.reason === null ? '' : ` (${r.reason})`}\n` +
              `  state ${r.state} at version ${r.base}, miner ${r.miner}, attempts ${r.attempts}\n` +
              `  result ${r.resultHash}\n  bundle ${r.bundleHash ?? '(none)'}\n` +
              `  writes ${JSON.stringify(j.writes)}\n` +
              `  verdicts: ${
                e
                  .verdicts(id)
                  .map((v) => `${v.juror}=${v.resultHash === r.resultHash ? 'match' : 'MISMATCH'}`)
                  .join(', ') || 'none'
              }\n` +
              `  gate now: ${d.outcome}; ${d.reasons.join('; ')}\n`,
          );
        }
        return EXIT.ok;
      }),
    ),
  );

  common(
    escrow
      .command('jury')
      .description("have local jurors (separate processes) replay an escrow's bundle, then let the gate decide")
      .argument('<id>')
      .option('--jurors <k>', 'how many local jurors (default: the gate requires for this miner)'),
  ).action(async (id: string, f: Common & { jurors?: string }) =>
    guarded(f.json === true, () =>
      withEscrow(f, async (e) => {
        const { judgeLocally } = await import('../../escrow/index.ts');
        if (f.jurors !== undefined && !/^[1-9]\d?$/.test(f.jurors))
          throw usageError('--jurors must be 1 to 99', '--jurors');
        const d = await judgeLocally(e, id, f.jurors === undefined ? undefined : Number(f.jurors));
        printDecision(d, f.json === true, e.book.get(id));
        return EXIT.ok;
      }),
    ),
  );

  const operator = (
    name: string,
    description: string,
    act: (e: Escrow, id: string, by: string, reason: string) => Promise<unknown>,
  ): void => {
    common(
      escrow
        .command(name)
        .description(description)
        .argument('<id>')
        .requiredOption('--reason <text>', 'why (goes to the audit log)')
        .option('--as <name>', 'who is acting', process.env.USER ?? 'operator'),
    ).action(async (id: string, f: Common & { reason: string; as: string }) =>
      guarded(f.json === true, () =>
        withEscrow(f, async (e) => {
          await act(e, id, f.as, f.reason);
          const r = e.book.get(id);
          if (f.json) printJson(asJson.recordJson(r));
          else process.stdout.write(`${r.id}  ${r.status}\n`);
          return EXIT.ok;
        }),
      ),
    );
  };
  operator('commit', 'apply a held or pending escrow now (a person overriding the gate)', (e, id, by, reason) =>
    e.commitByOperator(id, by, reason),
  );
  operator('hold', 'move a pending escrow to review', (e, id, by, reason) => e.hold(id, `operator:${by}`, reason));
  common(
    escrow
      .command('revert')
      .description('discard an open escrow: as an operator, or as the miner with the revert token from `open`')
      .argument('<id>')
      .requiredOption('--reason <text>', 'why (goes to the audit log)')
      .option('--token <token>', 'the revert token printed once by `escrow open` (acts as the miner)')
      .option('--as <name>', 'who is acting, when no token is given', process.env.USER ?? 'operator'),
  ).action(async (id: string, f: Common & { reason: string; as: string; token?: string }) =>
    guarded(f.json === true, () =>
      withEscrow(f, async (e) => {
        await e.revert(id, f.token === undefined ? { by: `operator:${f.as}` } : { token: f.token }, f.reason);
        const r = e.book.get(id);
        if (f.json) printJson(asJson.recordJson(r));
        else process.stdout.write(`${r.id}  ${r.status}\n`);
        return EXIT.ok;
      }),
    ),
  );

  common(
    escrow
      .command('serve')
      .description('the escrow HTTP API and /metrics (docs/escrow.md); tokens from api.tokens in escrow.yaml')
      .option('--listen <host:port>', 'address to listen on (default api.listen, 127.0.0.1:7717)'),
  ).action(async (f: Common & { listen?: string }) =>
    guarded(f.json === true, async () => {
      const c = await config(f);
      const listen = f.listen ?? c.api.listen;
      const m = /^(.+):(\d{1,5})$/.exec(listen);
      if (m === null) throw usageError('--listen must be host:port', '--listen');
      if (c.api.tokens.length === 0)
        throw new InputError(
          'DL_ERR_ESCROW_CONFIG',
          'api.tokens in escrow.yaml is empty: add at least one { name, sha256, role } (printf %s TOKEN | sha256sum)',
          { field: 'api.tokens' },
        );
      const { Escrow, buildEscrowApp } = await import('../../escrow/index.ts');
      const e = await Escrow.open(c.dataDir, c);
      const app = buildEscrowApp(e, { tokens: c.api.tokens });
      try {
        await app.listen({ host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) });
      } catch (err) {
        await e.close();
        throw new InputError('DL_ERR_CLI_USAGE', `cannot listen on ${listen}: ${(err as Error).message}`, {
          field: '--listen',
        });
      }
      const addr = app.server.address();
      const where = typeof addr === 'object' && addr !== null ? `${addr.address}:${addr.port}` : listen;
      if (f.json) printJson({ listening: where, dataDir: c.dataDir });
      else process.stderr.write(`docklock escrow: API on http://${where} (data ${c.dataDir})\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await app.close();
      await e.close();
      return EXIT.ok;
    }),
  );

  common(escrow.command('expire').description('end pending escrows whose time to live ran out')).action(
    async (f: Common) =>
      guarded(f.json === true, () =>
        withEscrow(f, async (e) => {
          const ids = await e.expire();
          if (f.json) printJson(ids);
          else process.stdout.write(ids.length === 0 ? 'nothing expired\n' : `${ids.join('\n')}\n`);
          return EXIT.ok;
        }),
      ),
  );

  common(escrow.command('verify-audit').description("check the escrow's hash-chained audit log")).action(
    async (f: Common) =>
      guarded(f.json === true, async () => {
        const { verifyAuditFile } = await import('../../escrow/index.ts');
        const c = await config(f);
        const { join } = await import('node:path');
        const path = join(c.dataDir, 'audit.jsonl');
        if (!existsSync(path))
          throw new InputError(
            'DL_ERR_ESCROW_AUDIT',
            `no escrow audit log at ${path}: is --data-dir the escrow's data directory?`,
            { path },
          );
        const r = verifyAuditFile(path);
        if (f.json) printJson(r);
        else
          process.stdout.write(
            r.ok ? `ok: ${r.entries} entries, head ${r.head}\n` : `BROKEN at line ${r.line}: ${r.problem}\n`,
          );
        return r.ok ? EXIT.ok : EXIT.mismatch;
      }),
  );
}

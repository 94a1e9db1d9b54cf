/**
 * The README's leaderboard walk-through through the real CLI: three miners' runs of the example
 * challenge read the board, are escrowed, judged by local jurors and committed; a run recorded at
 * an old snapshot is re-run at the new one; a bad revert token and bad flags are coded errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exampleDir } from '../challenges/helpers.ts';
import { cli, cliJson } from '../run/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'docklock-leaderboard-'));
const data = join(dir, 'escrow-data');
const lb = exampleDir('leaderboard');

function run(miner: string, submission: string): { code: number; json: Record<string, unknown> } {
  return cliJson([
    'run',
    join(lb, 'challenge.wasm'),
    '--manifest',
    join(lb, 'challenge.yaml'),
    '--input',
    `${join(lb, 'submissions', `${submission}.wasm`)}:/input/submission`,
    '--env',
    `MINER=${miner}`,
    '--state',
    'board',
    '--state-db',
    join(data, 'escrow.db'),
    '--bundle',
    join(dir, `${miner}.dlb`),
  ]);
}

const escrow = (...args: string[]) => cliJson<Record<string, unknown>>(['escrow', ...args, '--data-dir', data]);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the leaderboard example from the README', () => {
  it('runs, escrows, judges and commits; a stale run is re-run at the new snapshot', () => {
    expect(escrow('state', 'board').json).toMatchObject({ version: 0, entries: [] });
    const alice = run('alice', 'loop');
    const bob = run('bob', 'slow');
    expect(alice.code).toBe(0);
    expect(alice.json.state).toMatchObject({ name: 'board', version: 0, writes: 3 });
    const a = escrow('open', '--bundle', join(dir, 'alice.dlb'), '--miner', 'alice');
    expect(a.code).toBe(0);
    const aId = (a.json.escrow as { id: string }).id;
    expect(escrow('jury', aId).json).toMatchObject({
      escrow: { status: 'committed' },
      decision: { outcome: 'commit' },
    });
    // Bob's run read version 0; alice's commit moved the board on, so his is re-run at version 1.
    const b = escrow('open', '--bundle', join(dir, 'bob.dlb'), '--miner', 'bob');
    const bId = (b.json.escrow as { id: string }).id;
    expect(escrow('jury', bId).json).toMatchObject({ escrow: { status: 'committed', attempts: 1, base: 1 } });
    const board = escrow('state', 'board').json as { version: number; entries: { key: string; value: string }[] };
    expect(board.version).toBe(2);
    // Values are the text itself (as the HTTP API gives them), parsed once with the JSON.
    expect(board.entries.find((e) => e.key === 'board')!.value).toMatch(/^alice 1\.000000\nbob 0\.\d{6}\n$/);
    expect(board.entries.find((e) => e.key === 'runs')!.value).toBe('2');
    expect(cli(['escrow', 'verify-audit', '--data-dir', data]).code).toBe(0);
  });

  it('refuses a wrong revert token and bad flags with coded errors', () => {
    const carol = run('carol', 'wrong');
    expect(carol.code).toBe(0);
    const c = escrow('open', '--bundle', join(dir, 'carol.dlb'), '--miner', 'carol');
    const id = (c.json.escrow as { id: string }).id;
    const bad = cli(['escrow', 'revert', id, '--token', 'nope', '--reason', 'x', '--data-dir', data]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('DL_ERR_ESCROW_TOKEN');
    const ok = cli([
      'escrow',
      'revert',
      id,
      '--token',
      c.json.revertToken as string,
      '--reason',
      'withdrawn',
      '--data-dir',
      data,
    ]);
    expect(ok.code).toBe(0);
    const again = cli([
      'escrow',
      'revert',
      id,
      '--token',
      c.json.revertToken as string,
      '--reason',
      'x',
      '--data-dir',
      data,
    ]);
    expect(again.stderr).toMatch(/DL_ERR_ESCROW_(DECIDED|TOKEN)/);
    const noGrant = cli(['run', join(lb, 'challenge.wasm'), '--state', 'board']);
    expect(noGrant.code).toBe(2);
    expect(noGrant.stderr).toContain('DL_ERR_CLI_USAGE');
    expect(cli(['escrow', 'state', 'board', '--limit', '0', '--data-dir', data]).stderr).toContain('DL_ERR_CLI_USAGE');
  });

  it('a data directory that cannot be made is one coded line, exit 2, not a stack trace', () => {
    const base = mkdtempSync(join(tmpdir(), 'docklock-escrow-dir-'));
    const file = join(base, 'a-file');
    writeFileSync(file, 'x');
    const asFile = cli(['escrow', 'state', 'board', '--data-dir', file]);
    expect(asFile.code).toBe(2);
    expect(asFile.stderr).toMatch(
      /^docklock: DL_ERR_ESCROW_STORE: the escrow data directory .*a-file is a file, not a directory \(dataDir\)\n$/,
    );
    const below = cli(['escrow', 'state', 'board', '--data-dir', join(file, 'below')]);
    expect(below.code).toBe(2);
    expect(below.stderr).toMatch(
      /^docklock: DL_ERR_ESCROW_STORE: cannot create the escrow data directory .*a-file\/below: ENOTDIR \(dataDir\)\n$/,
    );
    rmSync(base, { recursive: true, force: true });
  });
});

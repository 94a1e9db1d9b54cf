/**
 * `docklock node start` that cannot start: its stdout is often a log file (the README's
 * `> n1/start.log &`), so the coded error is also one line on stderr, where the person who started
 * it sees it; stdout keeps the JSON error for programs that read it. `node verify-dispute` tells an
 * unreadable file (exit 2) from an invalid dispute (exit 1).
 */
import { spawnSync } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, tempDir } from '../run/helpers.ts';

describe('node start with a bad config', () => {
  it('says what is wrong on stderr in one coded line, and as JSON on stdout, exit 2', () => {
    const dir = tempDir();
    const config = join(dir, 'node.yaml');
    writeFileSync(config, 'key: node.key\ndataDir: data\nbogus: 1\n');
    const r = spawnSync(process.execPath, [CLI, 'node', 'start', '--config', config], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^docklock: DL_ERR_P2P_CONFIG: config\.bogus: unknown key .*\n$/);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'DL_ERR_P2P_CONFIG', where: { field: 'config.bogus' } });
    const missing = spawnSync(process.execPath, [CLI, 'node', 'start', '--config', join(dir, 'none.yaml')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^docklock: DL_ERR_P2P_CONFIG: config: cannot read .*none\.yaml: ENOENT\n$/);
    // A dataDir that is a file: the store cannot be opened, said in one line.
    spawnSync(process.execPath, [CLI, 'node', 'keygen', join(dir, 'node.key')], { encoding: 'utf8' });
    writeFileSync(join(dir, 'datafile'), 'x');
    writeFileSync(config, 'key: node.key\ndataDir: datafile\nlisten: [/ip4/127.0.0.1/tcp/0]\n');
    const asFile = spawnSync(process.execPath, [CLI, 'node', 'start', '--config', config], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(asFile.status).toBe(2);
    expect(asFile.stderr).toMatch(/^docklock: DL_ERR_P2P_STORE: the dataDir .*datafile is a file, not a directory\n$/);
  });
});

describe('node verify-dispute with a file it cannot read', () => {
  it('exits 2 (unreadable), not 1 (an invalid dispute), for a missing or oversized file', () => {
    const dir = tempDir();
    const big = join(dir, 'big.dld');
    writeFileSync(big, '');
    truncateSync(big, 2 ** 31);
    for (const [file, code] of [
      [join(dir, 'none.dld'), 'DL_ERR_CLI_READ'],
      [big, 'DL_ERR_CLI_TOO_LARGE'],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI, 'node', 'verify-dispute', file], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^docklock: ${code}: `));
    }
  });
});

describe('node claim --dispute', () => {
  it('refuses a path that cannot be written before asking the node, in one coded line', () => {
    const dir = tempDir();
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'node',
        'claim',
        '00'.repeat(32),
        '--config',
        join(dir, 'none.yaml'),
        '--dispute',
        join(dir, 'no', 'd.dld'),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^docklock: DL_ERR_CLI_OUTPUT_PATH: --dispute .*d\.dld cannot be written \(ENOENT on .*\)\n$/,
    );
  });
});

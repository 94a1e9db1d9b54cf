/**
 * `docklock profile` and `docklock evaluate --report` in fresh processes: the same bundle gives the
 * same profile bytes in another process as in this one, a module's profile keeps `docklock run`'s
 * result hash, and bad input gets a coded error and exit code 2.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { profileBundle, renderProfile } from '../../runtime/api/profile.ts';
import { cli, cliJson, fixturePath, tempDir } from '../run/helpers.ts';
import { CHALLENGES } from './helpers.ts';

interface ProfileJson {
  out: string;
  format: string;
  status: string;
  fuelUsed: string;
  profileTotal: string;
  resultHash: string;
  truncated: boolean;
}

const sub = (name: string): string => join(CHALLENGES, 'sort', 'submissions', name);

let dir: string;
beforeAll(() => {
  dir = tempDir('docklock-profile-cli-');
  const r = cli([
    'evaluate',
    join(CHALLENGES, 'sort'),
    sub('quicksort.wasm'),
    sub('insertion.wasm'),
    sub('endless-loop.wasm'),
    '--bundles',
    join(dir, 'bundles'),
    '--report',
    join(dir, 'report.html'),
    '--jobs',
    '1',
  ]);
  if (r.code !== 0) throw new Error(`evaluate failed (${r.code}): ${r.stderr}`);
}, 180_000);

describe('docklock profile', () => {
  it('the same bundle gives the same bytes in two processes and in this one, in every format', async () => {
    const bundle = join(dir, 'bundles', 'quicksort.wasm.dlb');
    const inProcess = await profileBundle(readFileSync(bundle), { name: 'quicksort.wasm.dlb' });
    for (const [ext, format] of [
      ['svg', 'svg'],
      ['html', 'html'],
      ['speedscope.json', 'speedscope'],
      ['pb.gz', 'pprof'],
    ] as const) {
      const outs = ['a', 'b'].map((k) => join(dir, k, `quicksort.wasm.dlb.${ext}`));
      for (const out of outs) {
        mkdirSync(dirname(out), { recursive: true });
        const r = cliJson<ProfileJson>(['profile', bundle, '--out', out]);
        expect(r.code, out).toBe(0);
        expect(r.json).toMatchObject({ format, status: 'exited', profileTotal: r.json.fuelUsed, truncated: false });
      }
      const [a, b] = outs.map((o) => new Uint8Array(readFileSync(o)));
      expect(b, ext).toEqual(a);
      expect(a, ext).toEqual(renderProfile(inProcess.profile, format));
    }
  });

  it('a module: the run flags apply, and the result hash is `docklock run`’s', () => {
    const out = join(dir, 'hello.svg');
    const p = cliJson<ProfileJson>([
      'profile',
      fixturePath('hello'),
      '--out',
      out,
      '--arg',
      'x',
      '--seed',
      '07'.repeat(32),
    ]);
    const r = cliJson<{ resultHash: string; fuelUsed: string }>([
      'run',
      fixturePath('hello'),
      '--arg',
      'x',
      '--seed',
      '07'.repeat(32),
    ]);
    expect(p.code).toBe(0);
    expect(p.json.resultHash).toBe(r.json.resultHash);
    expect(p.json.fuelUsed).toBe(r.json.fuelUsed);
    expect(p.json.profileTotal).toBe(r.json.fuelUsed);
    expect(readFileSync(out, 'utf8')).toContain('__main_void');
  });

  it('coded errors, exit 2: an unknown output extension, bytes that are not a bundle, an edited bundle', () => {
    const bundle = join(dir, 'bundles', 'quicksort.wasm.dlb');
    const ext = cliJson<{ error: { code: string } }>(['profile', bundle, '--out', join(dir, 'p.txt')]);
    expect(ext.code).toBe(2);
    expect(ext.json.error.code).toBe('DL_ERR_PROFILE_FORMAT');
    expect(existsSync(join(dir, 'p.txt'))).toBe(false);

    const junk = join(dir, 'junk.dlb');
    writeFileSync(junk, 'not a bundle');
    const bad = cliJson<{ error: { code: string } }>(['profile', junk, '--out', join(dir, 'junk.svg')]);
    expect(bad.code).toBe(2);
    expect(bad.json.error.code).toMatch(/^DL_ERR_BUNDLE_/);

    // One byte flipped in the bundle's last section: decoding or the replay must notice.
    const bytes = new Uint8Array(readFileSync(bundle));
    bytes[bytes.length - 40] ^= 0xff;
    const edited = join(dir, 'edited.dlb');
    writeFileSync(edited, bytes);
    const e = cliJson<{ error: { code: string } }>(['profile', edited, '--out', join(dir, 'edited.svg')]);
    expect(e.code).toBe(2);
    expect(e.json.error.code).toMatch(/^DL_ERR_(BUNDLE_|PROFILE_DIVERGED)/);
    expect(existsSync(join(dir, 'edited.svg'))).toBe(false);

    // Run flags with a bundle would be silently ignored: a usage error instead.
    const flags = cli(['profile', bundle, '--out', join(dir, 'flags.svg'), '--fuel', '5', '--arg', 'x', 'trailing']);
    expect(flags.code).toBe(2);
    expect(flags.stderr).toBe(
      'docklock: DL_ERR_CLI_USAGE: --fuel, --arg, guest arguments apply to a module, not to a bundle, which replays the run it recorded\n',
    );
    expect(existsSync(join(dir, 'flags.svg'))).toBe(false);
  });
});

describe('docklock evaluate --report', () => {
  it('one self-contained page naming every submission, linking profiles that exist', () => {
    const report = join(dir, 'report.html');
    const html = readFileSync(report, 'utf8');
    for (const s of ['quicksort.wasm', 'insertion.wasm', 'endless-loop.wasm']) expect(html).toContain(s);
    expect(html).toContain('out_of_fuel');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const links = [...html.matchAll(/href="([^"#]+)"/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(0);
    for (const l of links) expect(existsSync(resolve(dirname(report), decodeURIComponent(l))), l).toBe(true);
  });
});

/**
 * The `state` host group end to end: real C challenges read a named state from the escrow's
 * store at a snapshot and stage writes; the change is the run's last witness entry, replays from
 * the bundle alone, is escrowed only if its reads match the store, and commits through real jurors.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Escrow, type ProcessJuror, localJury, summonJury } from '../../escrow/index.ts';
import { encodeBundle, parseManifest, runCage } from '../../index.ts';
import { STATE_CHANGE_ENTRY, decodeBundle, replayBundle, stateChangeOf } from '../../runtime/api/bundle.ts';
import { fixturePath } from '../run/helpers.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const k = (s: string): Uint8Array => enc.encode(s);
const text = (b: Uint8Array | null | undefined): string | null => (b == null ? null : dec.decode(b));

async function record(
  fixture: string,
  state: { db?: string; name: string; version?: number },
  args: string[] = [],
): Promise<{ bundle: Uint8Array; stdout: string; status: string; exitCode: number | null }> {
  const module = new Uint8Array(readFileSync(fixturePath(fixture)));
  const manifest = parseManifest({
    apiVersion: 'docklock/v1',
    kind: 'Cage',
    module: `./${fixture}.wasm`,
    args,
    grants: ['wasi', 'state'],
  });
  const inputs = new Map<string, Uint8Array>();
  const stdin = new Uint8Array(0);
  const out = await runCage({ manifest, module, stdin, inputs, mode: 'record', state });
  return {
    bundle: encodeBundle({ manifest, module, stdin, inputs, witness: out.witnessBytes, result: out.result }),
    stdout: dec.decode(out.result.stdout),
    status: out.result.status,
    exitCode: out.result.exitCode,
  };
}

describe('challenge state in the cage', () => {
  let dir: string;
  let other: string;
  let jury: ProcessJuror[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'docklock-state-'));
    other = mkdtempSync(join(tmpdir(), 'docklock-state-other-'));
    for (const [d, runs] of [
      [dir, '4'],
      [other, '100'],
    ] as const) {
      const e = await Escrow.open(d);
      e.state.apply({
        state: 'board',
        base: 0,
        reads: [],
        writes: [
          { key: k('apple'), value: k('A') },
          { key: k('log'), value: k('x') },
          { key: k('runs'), value: k(runs) },
          { key: k('tmp'), value: k('1') },
        ],
      });
      await e.close();
    }
    jury = localJury(3);
  });

  afterAll(async () => {
    await Promise.all(jury.map((j) => j.close()));
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });

  it('with no store a run sees an empty state at version 0', async () => {
    const r = await record('state_counter', { name: 'board' }, ['bob']);
    expect(r.stdout).toBe('runs=1 log=bob scan=2: log runs\n');
    const change = stateChangeOf(decodeBundle(r.bundle).witness)!;
    expect(change.version).toBe(0);
    expect(change.reads.map((x) => [text(x.key), x.version, x.valueHash])).toEqual([
      ['log', 0, null],
      ['runs', 0, null],
      ['tmp', 0, null],
    ]);
  });

  it('reads the snapshot, sees its own writes, and ends its witness with the change', async () => {
    const r = await record('state_counter', { db: join(dir, 'escrow.db'), name: 'board' }, ['alice']);
    expect(r.status).toBe('exited');
    // "tmp" was deleted by the run itself, so the scan does not show it.
    expect(r.stdout).toBe('runs=5 log=x,alice scan=3: apple log runs\n');
    const b = decodeBundle(r.bundle);
    expect(b.witness.at(-1)!.name).toBe(STATE_CHANGE_ENTRY);
    const change = stateChangeOf(b.witness)!;
    expect(change.state).toBe('board');
    expect(change.version).toBe(1);
    expect(change.writes.map((w) => [text(w.key), text(w.value)])).toEqual([
      ['log', 'x,alice'],
      ['runs', '5'],
      ['tmp', null],
    ]);
    expect(change.reads.map((x) => [text(x.key), x.version])).toEqual([
      ['apple', 1],
      ['log', 1],
      ['runs', 1],
      ['tmp', 1],
    ]);
    expect(change.scans.map((s) => [text(s.start), s.keys.map(text)])).toEqual([
      ['a', ['apple', 'log', 'runs', 'tmp']],
    ]);
  });

  it('replays from the bundle alone, with the store gone', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'docklock-state-gone-'));
    const e = await Escrow.open(scratch);
    e.state.apply({ state: 'board', base: 0, reads: [], writes: [{ key: k('runs'), value: k('41') }] });
    await e.close();
    const r = await record('state_counter', { db: join(scratch, 'escrow.db'), name: 'board' });
    rmSync(scratch, { recursive: true, force: true });
    const report = await replayBundle(r.bundle);
    expect(report.divergence).toBeNull();
    expect(report.match).toBe(true);
  });

  it('escrows a run only when its reads are what the store held, and commits it through real jurors', async () => {
    const elsewhere = await record('state_counter', { db: join(other, 'escrow.db'), name: 'board' }, ['mallory']);
    const here = await record('state_counter', { db: join(dir, 'escrow.db'), name: 'board' }, ['alice']);
    const e = await Escrow.open(dir);
    try {
      await expect(e.escrowRun({ bundle: elsewhere.bundle, miner: 'mallory' })).rejects.toMatchObject({
        code: 'DL_ERR_ESCROW_RUN',
        message: expect.stringContaining('not this store'),
      });
      expect(e.book.list({})).toEqual([]);
      const { record: opened } = await e.escrowRun({ bundle: here.bundle, miner: 'alice' });
      expect(opened.base).toBe(1);
      const d = await summonJury(e, opened.id, jury);
      expect(d.outcome).toBe('commit');
      expect(e.book.get(opened.id).status).toBe('committed');
      expect(e.state.head('board')).toBe(2);
      expect(text(e.state.get('board', k('runs'), 2).entry?.value)).toBe('5');
      expect(e.state.get('board', k('tmp'), 2).entry).toBeUndefined();
    } finally {
      await e.close();
    }
  });

  it('refuses a run that read a version the store has not reached, or one without the grant', async () => {
    const e = await Escrow.open(dir);
    try {
      const module = new Uint8Array(readFileSync(fixturePath('hello')));
      const manifest = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: './hello.wasm' });
      const out = await runCage({ manifest, module, stdin: new Uint8Array(0), inputs: new Map(), mode: 'record' });
      const bundle = encodeBundle({
        manifest,
        module,
        stdin: new Uint8Array(0),
        inputs: new Map(),
        witness: out.witnessBytes,
        result: out.result,
      });
      await expect(e.escrowRun({ bundle, miner: 'm' })).rejects.toMatchObject({
        code: 'DL_ERR_ESCROW_RUN',
        message: expect.stringContaining('does not grant `state`'),
      });
    } finally {
      await e.close();
    }
    await expect(
      record('state_counter', { db: join(dir, 'escrow.db'), name: 'board', version: 99 }),
    ).rejects.toMatchObject({
      code: 'DL_ERR_STATE_SNAPSHOT',
    });
    await expect(record('state_counter', { db: join(dir, 'missing.db'), name: 'board' })).rejects.toMatchObject({
      code: 'DL_ERR_STATE_SOURCE',
    });
    await expect(record('state_counter', { name: '../board' })).rejects.toMatchObject({ code: 'DL_ERR_STATE_SOURCE' });
  });

  it('answers every overreach with a code and stages nothing past the caps', async () => {
    const r = await record('state_hostile', { name: 'h' });
    expect(r.stdout).toBe(
      [
        'long_key=-2',
        'empty_key=-2',
        'big_value=-2',
        'bad_pointer=-5',
        'scan_limit=-2',
        'puts_before_limit=4096 code=-2',
        'tiny_buffer=-3',
        '',
      ].join('\n'),
    );
    const change = stateChangeOf(decodeBundle(r.bundle).witness)!;
    expect(change.writes.length).toBe(4096);
    expect((await replayBundle(r.bundle)).match).toBe(true);
  });
});

/**
 * Escrow benchmark (issue 15), three measurements, each a ratio or a distribution from this run:
 *
 * 1. Snapshot cost, 1 k keys against 1 M keys (target ratio ≤ 1.2×): opening the read-only
 *    snapshot a run reads (as the cage does: open, read the head) and a read at the snapshot, on two
 *    stores built here, measured in alternating rounds; medians of the per-round ratio.
 * 2. Gate decisions per second: three verdicts recorded, the gate's decision, the commit (write set
 *    and record in one transaction) and the audit entries, for escrows of one small write each
 *    (target ≥ 2,000/s), and the same with a real local jury of three replaying processes on a
 *    small evaluation's bundle (the state_counter fixture), where the replays dominate.
 * 3. Commit latency of a 100-key write set: the store's atomic apply + record (`book.commit`), and
 *    the whole operator commit with its fsync'd audit entry; p50 / p99 (target p99 ≤ 5 ms).
 *
 * Run: npm run bench:escrow   (DOCKLOCK_BENCH_QUICK=1 for a short run)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ESCROW_DEFAULTS, Escrow, type JurorVerdict, localJury, summonJury } from '../escrow/index.ts';
import { openSnapshot } from '../state/snapshot.ts';
import { STATE_SCHEMA } from '../state/store.ts';
import { encodeBundle, parseManifest, resultHash, runCage, toHex } from '../index.ts';

const QUICK = process.env.DOCKLOCK_BENCH_QUICK === '1';
const enc = new TextEncoder();
const dir = mkdtempSync(join(tmpdir(), 'docklock-bench-escrow-'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const ms = (ns: bigint): number => Number(ns) / 1e6;
const key = (i: number): Uint8Array => enc.encode(`key/${String(i).padStart(8, '0')}`);

console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model}, node ${process.version}, load ${loadavg()[0]!.toFixed(2)}`,
);

// ---- 1. snapshot cost, flat in the number of keys ----
function buildStore(path: string, n: number): void {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;');
  db.exec(STATE_SCHEMA);
  const put = db.prepare('INSERT INTO state_kv VALUES (?, ?, ?, ?)');
  db.exec('BEGIN');
  for (let i = 0; i < n; i++) put.run('s', key(i), 1, enc.encode(`value ${i}`));
  // A tenth of the keys rewritten at version 2: reads must pick the newest version ≤ V.
  for (let i = 0; i < n; i += 10) put.run('s', key(i), 2, enc.encode(`value ${i} v2`));
  db.prepare('INSERT INTO state_heads VALUES (?, ?)').run('s', 2);
  db.exec('COMMIT');
  db.close();
}

const sizes = [1_000, QUICK ? 100_000 : 1_000_000];
const paths = sizes.map((n) => join(dir, `state-${n}.db`));
let t = process.hrtime.bigint();
sizes.forEach((n, i) => buildStore(paths[i]!, n));
console.log(`built stores of ${sizes.join(' and ')} keys in ${ms(process.hrtime.bigint() - t).toFixed(0)} ms`);

const ROUNDS = QUICK ? 9 : 21;
const OPENS = 200;
const READS = 2000;
const openRatio: number[] = [];
const readRatio: number[] = [];
const perOpen: number[][] = [[], []];
const perRead: number[][] = [[], []];
for (let r = 0; r < ROUNDS; r++) {
  const open: number[] = [];
  const read: number[] = [];
  for (let s = 0; s < 2; s++) {
    const db = paths[s]!;
    t = process.hrtime.bigint();
    for (let i = 0; i < OPENS; i++) openSnapshot({ db, name: 's' }).close();
    open.push(ms(process.hrtime.bigint() - t) / OPENS);
    const snap = openSnapshot({ db, name: 's', version: 2 });
    let x = 12345;
    t = process.hrtime.bigint();
    for (let i = 0; i < READS; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      snap.get(key(x % sizes[s]!));
    }
    read.push(ms(process.hrtime.bigint() - t) / READS);
    snap.close();
    perOpen[s]!.push(open[s]!);
    perRead[s]!.push(read[s]!);
  }
  openRatio.push(open[1]! / open[0]!);
  readRatio.push(read[1]! / read[0]!);
}
console.log('\n1. snapshot cost (medians over rounds; ratio = median of per-round large/small)');
console.log(
  `   open a snapshot (as a run does): ${median(perOpen[0]!).toFixed(3)} ms at ${sizes[0]} keys, ${median(perOpen[1]!).toFixed(3)} ms at ${sizes[1]} keys, ratio ${median(openRatio).toFixed(2)}×`,
);
console.log(
  `   a read at the snapshot:          ${(median(perRead[0]!) * 1000).toFixed(1)} µs, ${(median(perRead[1]!) * 1000).toFixed(1)} µs, ratio ${median(readRatio).toFixed(2)}×`,
);

// ---- 2. gate decisions per second ----
async function fixture(): Promise<{ bundle: Uint8Array; hash: string }> {
  const module = new Uint8Array(readFileSync(new URL('../test/fixtures/wasm/state_counter.wasm', import.meta.url)));
  const manifest = parseManifest({
    apiVersion: 'docklock/v1',
    kind: 'Cage',
    module: './s.wasm',
    grants: ['wasi', 'state'],
  });
  const inputs = new Map<string, Uint8Array>();
  const stdin = new Uint8Array(0);
  const out = await runCage({ manifest, module, stdin, inputs, mode: 'record', state: { name: 'small' } });
  const bundle = encodeBundle({ manifest, module, stdin, inputs, witness: out.witnessBytes, result: out.result });
  return { bundle, hash: toHex(resultHash(out.result)) };
}
const small = await fixture();
const DECISIONS = QUICK ? 300 : 2000;
console.log('\n2. gate decisions');
for (const durability of ['full', 'process'] as const) {
  const gateDir = join(dir, `gate-${durability}`);
  const e = await Escrow.open(gateDir, { ...ESCROW_DEFAULTS, durability });
  const ids: string[] = [];
  for (let i = 0; i < DECISIONS; i++) {
    const { record } = await e.escrow({
      state: 'g',
      miner: `m${i % 50}`,
      submission: enc.encode(`submission ${i}`),
      resultHash: small.hash,
      base: 0,
      reads: [],
      writes: [{ key: key(i), value: enc.encode('1') }],
    });
    ids.push(record.id);
  }
  // Reputations start at 0.5 (above the raised-quorum threshold): three verdicts are enough.
  // As summonJury does: the three verdicts recorded together (one transaction, one audit write),
  // then one decision (logged before it is carried out, so two fsync'd writes a decision).
  const judge = async (id: string): Promise<void> => {
    const verdicts: JurorVerdict[] = ['j1', 'j2', 'j3'].map((juror) => ({ juror, resultHash: small.hash }));
    await e.addVerdicts(id, verdicts);
    await e.decide(id);
  };
  // Escrows are judged side by side, as verdicts arrive from many jurors: the audit log's group
  // commit then shares one fsync among the decisions in flight.
  const IN_FLIGHT = 64;
  t = process.hrtime.bigint();
  for (let i = 0; i < ids.length; i += IN_FLIGHT) await Promise.all(ids.slice(i, i + IN_FLIGHT).map(judge));
  const gateMs = ms(process.hrtime.bigint() - t);
  const committed = e.book.countByStatus().committed;
  console.log(
    `   durability ${durability}, verdicts in hand, ${IN_FLIGHT} escrows in flight: ${DECISIONS} decisions (3 verdicts, decide, commit, audit) in ${gateMs.toFixed(0)} ms = ${((DECISIONS / gateMs) * 1000).toFixed(0)}/s; ${committed} committed`,
  );
  await e.close();
}

const juryDir = join(dir, 'jury');
const ej = await Escrow.open(juryDir);
const JURY_DECISIONS = QUICK ? 10 : 40;
const jury = localJury(3);
const juryIds: string[] = [];
for (let i = 0; i < JURY_DECISIONS; i++) {
  const { record } = await ej.escrow({
    state: 'g',
    miner: `m${i}`,
    submission: enc.encode(`submission ${i}`),
    resultHash: small.hash,
    bundle: small.bundle,
    base: 0,
    reads: [],
    writes: [{ key: key(i), value: enc.encode('1') }],
  });
  juryIds.push(record.id);
}
await summonJury(ej, juryIds[0]!, jury); // warm the juror processes
t = process.hrtime.bigint();
for (const id of juryIds.slice(1)) await summonJury(ej, id, jury);
const juryMs = ms(process.hrtime.bigint() - t);
console.log(
  `   local jury of 3 processes replaying a ${small.bundle.length}-byte bundle: ${JURY_DECISIONS - 1} decisions in ${juryMs.toFixed(0)} ms = ${(((JURY_DECISIONS - 1) / juryMs) * 1000).toFixed(0)}/s`,
);
await Promise.all(jury.map((j) => j.close()));
await ej.close();

// ---- 3. commit latency of a 100-key write set ----
const commitDir = join(dir, 'commit');
const ec = await Escrow.open(commitDir);
const COMMITS = QUICK ? 100 : 400;
const bookMs: number[] = [];
const operatorMs: number[] = [];
for (let i = 0; i < COMMITS; i++) {
  const writes = Array.from({ length: 100 }, (_, k) => ({ key: key(i * 100 + k), value: enc.encode(`v${i}`) }));
  const { record } = await ec.escrow({
    state: 'c',
    miner: 'm',
    submission: enc.encode('s'),
    resultHash: small.hash,
    base: ec.state.head('c'),
    reads: [],
    writes,
  });
  t = process.hrtime.bigint();
  if (i % 2 === 0) {
    ec.book.commit(record.id, 'bench');
    bookMs.push(ms(process.hrtime.bigint() - t));
  } else {
    await ec.commitByOperator(record.id, 'bench', 'bench');
    operatorMs.push(ms(process.hrtime.bigint() - t));
  }
}
console.log('\n3. commit latency, 100-key write set');
console.log(
  `   apply + record (one transaction, synchronous=FULL): p50 ${pct(bookMs, 50).toFixed(2)} ms, p99 ${pct(bookMs, 99).toFixed(2)} ms (n=${bookMs.length})`,
);
console.log(
  `   operator commit with its audit entry (fsync'd):    p50 ${pct(operatorMs, 50).toFixed(2)} ms, p99 ${pct(operatorMs, 99).toFixed(2)} ms (n=${operatorMs.length})`,
);
await ec.close();
console.log(`\nload at the end ${loadavg()[0]!.toFixed(2)}`);
rmSync(dir, { recursive: true, force: true });

/**
 * Witness benchmarks: how much recording costs a run, and how fast a witness is committed.
 *
 * Every figure is printed with a baseline measured in the same process, so ratios survive a noisy
 * machine. Sections are independent entries of `SECTIONS`; add one by appending to the list.
 *
 *   npm run bench:witness                 all sections, N = 1_000_000, each in its own process
 *   npm run bench:witness -- finalize     only sections whose name contains "finalize"
 *   BENCH_N=200000 npm run bench:witness  smaller N
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ChaCha20Stream } from '../host-functions/random/chacha20.ts';
import { blake3SmallInto } from '../runtime/blake3-small.ts';
import { blake3, blake3Reference, HASH_BYTES } from '../runtime/hash.ts';
import type { WitnessEntry } from '../runtime/witness/entry.ts';
import { EntryEncoder } from '../runtime/witness/encoding.ts';
import { commitEntries, WitnessLog } from '../runtime/witness/log.ts';
import { decodeBundle, encodeBundle, verifyBundle, type BundleContents } from '../runtime/bundle.ts';
import { parseManifest } from '../runtime/manifest/parse.ts';
import { manifestHash } from '../runtime/manifest/canonical.ts';
import { inputHash } from '../runtime/result.ts';
import { GUEST_SECTIONS } from './witness-guest.sections.ts';

/** One printed measurement. `baseline` marks the row the others are compared with. */
export interface Row {
  label: string;
  /** Operations measured. */
  ops: number;
  /** Best wall time over the repetitions, ms. */
  ms: number;
  unit: string;
  baseline?: boolean;
  /** A target on this row's time ÷ the baseline's time (e.g. 1.5 for "at most 1.5× slower"). */
  maxTimeRatio?: number;
  /** That ratio as the section measured it (e.g. a median of paired runs); else the ratio of the rows' times. */
  timeRatio?: number;
}

/** A named group of rows measured side by side. */
export interface Section {
  name: string;
  run(n: number): Row[] | Promise<Row[]>;
}

const N = Number(process.env.BENCH_N ?? 1_000_000);
const REPS = Number(process.env.BENCH_REPS ?? 3);

/** Best of `reps` runs of `fn` (after `fn` ran once to warm up), in ms. */
function best(fn: () => void, reps = REPS): number {
  fn();
  let t = Infinity;
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    fn();
    t = Math.min(t, performance.now() - s);
  }
  return t;
}

/** The shape of a random_get loop: each call writes 8 bytes of guest memory. */
function recordRandomGets(n: number): WitnessLog {
  const memory = new Uint8Array(65536);
  const rng = new ChaCha20Stream(new Uint8Array(32));
  const log = new WitnessLog();
  const buf = memory.subarray(1024, 1032);
  for (let i = 0; i < n; i++) {
    rng.fill(buf);
    log.append({
      name: 'wasi_snapshot_preview1.random_get',
      args: [1024, 8],
      result: 0,
      writes: [{ ptr: 1024, bytes: buf }],
      fuel: BigInt(i) * 17n,
    });
  }
  return log;
}

type Hash64 = (bytes: Uint8Array) => Uint8Array;

/** Finalisation written naively with a digest-returning hasher: the baseline shape. */
function finalizeWith(hash: Hash64, entries: readonly WitnessEntry[]): Uint8Array {
  const enc = new EntryEncoder();
  let level: Uint8Array[] = entries.map((e) => hash(enc.encode(e, true)));
  const node = new Uint8Array(1 + 2 * HASH_BYTES);
  node[0] = 0x01;
  if (level.length === 0) return hash(new Uint8Array(0));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      node.set(level[i], 1);
      node.set(level[i + 1], 1 + HASH_BYTES);
      next.push(hash(node));
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

export const SECTIONS: Section[] = [
  {
    name: 'blake3 per hash (65-byte Merkle node input)',
    run(n) {
      const input = new Uint8Array(65).fill(7);
      const out = new Uint8Array(32);
      const m = Math.max(1, n >> 2);
      return [
        {
          label: '@noble/hashes blake3',
          ops: m,
          ms: best(() => {
            for (let i = 0; i < m; i++) blake3Reference(input);
          }),
          unit: 'hash',
          baseline: true,
        },
        {
          label: 'runtime blake3() (fresh digest)',
          ops: m,
          ms: best(() => {
            for (let i = 0; i < m; i++) blake3(input);
          }),
          unit: 'hash',
        },
        {
          label: 'single-chunk JS into slab (no alloc)',
          ops: m,
          ms: best(() => {
            for (let i = 0; i < m; i++) blake3SmallInto(input, out, 0);
          }),
          unit: 'hash',
        },
      ];
    },
  },
  {
    name: 'chacha20 random_get fills (8 bytes each)',
    run(n) {
      const buf = new Uint8Array(8);
      const big = new Uint8Array(8 * n);
      return [
        {
          label: 'one fill of 8·N bytes',
          ops: n,
          ms: best(() => new ChaCha20Stream(new Uint8Array(32)).fill(big)),
          unit: 'fill',
          baseline: true,
        },
        {
          label: 'N fills of 8 bytes',
          ops: n,
          ms: best(() => {
            const s = new ChaCha20Stream(new Uint8Array(32));
            for (let i = 0; i < n; i++) s.fill(buf);
          }),
          unit: 'fill',
        },
      ];
    },
  },
  {
    name: 'witness append (random_get writing 8 bytes)',
    run(n) {
      const memory = new Uint8Array(65536);
      const rng = new ChaCha20Stream(new Uint8Array(32));
      const buf = memory.subarray(1024, 1032);
      return [
        {
          label: 'guest loop without recording (RNG fill only)',
          ops: n,
          ms: best(() => {
            for (let i = 0; i < n; i++) rng.fill(buf);
          }),
          unit: 'call',
          baseline: true,
        },
        { label: 'fill + WitnessLog.append', ops: n, ms: best(() => void recordRandomGets(n)), unit: 'call' },
      ];
    },
  },
  {
    name: 'witness finalize (encode + BLAKE3 leaves + RFC 9162 Merkle root)',
    run(n) {
      const log = recordRandomGets(n);
      const entries = log.entries();
      const root = toHexShort(log.finalize().root);
      if (toHexShort(commitEntries(entries).root) !== root)
        throw new Error('commitEntries root differs from WitnessLog root');
      if (toHexShort(finalizeWith(blake3Reference, entries)) !== root)
        throw new Error('noble baseline root differs from WitnessLog root');
      return [
        {
          label: 'entry objects, @noble/hashes digests',
          ops: n,
          ms: best(() => void finalizeWith(blake3Reference, entries), 1),
          unit: 'entry',
          baseline: true,
        },
        {
          label: 'entry objects, runtime blake3() digests',
          ops: n,
          ms: best(() => void finalizeWith(blake3, entries)),
          unit: 'entry',
        },
        {
          label: 'commitEntries (objects, JS BLAKE3 into slabs)',
          ops: n,
          ms: best(() => void commitEntries(entries)),
          unit: 'entry',
        },
        {
          label: 'WitnessLog.finalize (raw records, JS BLAKE3)',
          ops: n,
          ms: best(() => void log.finalize()),
          unit: 'entry',
        },
      ];
    },
  },
  {
    name: 'bundle of a random_get run (encode, decode, verify)',
    run(n) {
      const log = recordRandomGets(n);
      const root = log.finalize().root;
      const manifest = parseManifest('apiVersion: docklock/v1\nkind: Cage\nmodule: m.wasm\n');
      const module = new Uint8Array(4096);
      const stdin = new Uint8Array(0);
      const inputs = new Map<string, Uint8Array>();
      const contents: BundleContents = {
        manifest,
        module,
        stdin,
        inputs,
        witness: log.entries(),
        result: {
          formatVersion: 1,
          status: 'exited',
          exitCode: 0,
          trap: null,
          fuelUsed: 1n,
          fuelLimit: manifest.limits.fuel,
          stdout: new Uint8Array(0),
          stderr: new Uint8Array(0),
          outputs: new Map(),
          witnessEntries: n,
          witnessRoot: root,
          moduleHash: blake3(module),
          manifestHash: manifestHash(manifest),
          inputHash: inputHash(stdin, inputs),
          instrumenterVersion: 'bench',
          costTableVersion: 'bench',
        },
      };
      const bytes = encodeBundle(contents);
      const decoded = decodeBundle(bytes);
      if (!verifyBundle(decoded).ok) throw new Error('bench bundle does not verify');
      console.log(`  (bundle: ${bytes.length} bytes for ${n} entries)`);
      return [
        { label: 'WitnessLog.finalize', ops: n, ms: best(() => void log.finalize(), 1), unit: 'entry', baseline: true },
        { label: 'encodeBundle (Brotli q5)', ops: n, ms: best(() => void encodeBundle(contents), 1), unit: 'entry' },
        { label: 'decodeBundle', ops: n, ms: best(() => void decodeBundle(bytes), 1), unit: 'entry' },
        {
          label: 'verifyBundle (re-encode, re-hash)',
          ops: n,
          ms: best(() => void verifyBundle(decoded), 1),
          unit: 'entry',
        },
      ];
    },
  },
];

function toHexShort(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function fmtRate(r: Row): string {
  const perSec = (r.ops / r.ms) * 1000;
  const ns = (r.ms * 1e6) / r.ops;
  return `${(perSec / 1e6).toFixed(2).padStart(7)} M ${r.unit}/s  ${ns.toFixed(0).padStart(6)} ns/${r.unit}`;
}

function machine(): string {
  return `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${process.platform}/${process.arch}`;
}

async function main(): Promise<void> {
  const filter = process.argv[2];
  const child = process.argv[3] === '--child';
  if (!child) console.log(`# witness bench — N=${N}, best of ${REPS}; ${machine()}`);
  for (const s of SECTIONS) {
    if (filter !== undefined && !s.name.includes(filter)) continue;
    if (!child) {
      // Each section in a fresh process: a heap left full by one section made the next one's
      // recording ratio ~0.1 worse (1.53× after the others against 1.44× alone).
      const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), s.name, '--child'], {
        stdio: 'inherit',
      });
      if (r.status !== 0) throw new Error(`section "${s.name}" failed (exit ${r.status ?? r.signal})`);
      continue;
    }
    const rows = await s.run(N);
    const base = rows.find((r) => r.baseline) ?? rows[0];
    const baseRate = base.ops / base.ms;
    console.log(`\n## ${s.name}`);
    for (const r of rows) {
      const ratio = r.ops / r.ms / baseRate;
      console.log(
        `  ${r.label.padEnd(48)} ${fmtRate(r)}  ${r === base ? 'baseline' : `×${ratio.toFixed(2)} vs baseline`}`,
      );
    }
    for (const r of rows) {
      if (r.maxTimeRatio === undefined) continue;
      const paired = r.timeRatio !== undefined;
      const timeRatio = r.timeRatio ?? r.ms / r.ops / (base.ms / base.ops);
      const how = paired
        ? "median over rounds of its time ÷ the baseline's in the same round"
        : "its best time ÷ the baseline's best";
      console.log(
        `  → ${r.label}: ${timeRatio.toFixed(3)}× (${how}; target ≤ ${r.maxTimeRatio}×: ${timeRatio <= r.maxTimeRatio ? 'met' : 'MISSED'})`,
      );
    }
  }
}

SECTIONS.push(...GUEST_SECTIONS);
await main();

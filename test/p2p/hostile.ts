/**
 * Bundles of really recorded runs of test/fixtures/c/replay_hostile.c for the replay-pool tests:
 * honest ones, and ones a hostile claimer edits into a replay that never ends or asks for absurd
 * limits (each re-hashed, so it passes every check that runs nothing).
 */
import { readFileSync } from 'node:fs';
import { brotliCompressSync } from 'node:zlib';
import { join } from 'node:path';
import { runGuest } from '../../runtime/cage/run.ts';
import { BUNDLE_HEADER_BYTES, BUNDLE_MAGIC, encodeBundle, decodeBundle } from '../../runtime/bundle.ts';
import { blake3Parts } from '../../runtime/hash.ts';
import { encodeEntries } from '../../runtime/witness/encoding.ts';
import type { WitnessEntry } from '../../runtime/witness/entry.ts';
import { manifestHash } from '../../runtime/manifest/canonical.ts';
import { MAX_FUEL, parseManifest } from '../../runtime/manifest/parse.ts';
import type { CageManifest } from '../../runtime/manifest/parse.ts';
import { claimFieldsOf } from '../../p2p/audit.ts';
import { keyFromSeed } from '../../p2p/keys.ts';
import type { Claim } from '../../p2p/messages.ts';
import { ROOT } from './helpers.ts';

const MODULE = new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', 'wasm', 'replay_hostile.wasm')));

export function hostileManifest(args: string[], limits: Record<string, unknown> = {}): CageManifest {
  return parseManifest({
    apiVersion: 'docklock/v1',
    kind: 'Cage',
    module: 'replay_hostile.wasm',
    args,
    limits: { fuel: 2_000_000, memory: '2MiB', wallClockMs: 20_000, ...limits },
  });
}

/** Runs the fixture in record mode and returns its bundle's bytes. */
export async function recordBundle(manifest: CageManifest): Promise<Uint8Array> {
  const stdin = new Uint8Array(0);
  const inputs = new Map<string, Uint8Array>();
  const out = await runGuest({ manifest, module: MODULE, stdin, inputs, mode: 'record' });
  return encodeBundle({ manifest, module: MODULE, stdin, inputs, witness: out.witnessBytes, result: out.result });
}

/**
 * The bundle with its manifest's limits changed (and the result's fuel limit and manifest hash
 * with them): a consistent bundle whose replay does not do what the recording did.
 */
export function editLimits(bytes: Uint8Array, limits: Partial<CageManifest['limits']>): Uint8Array {
  const b = decodeBundle(bytes);
  const manifest = { ...b.manifest, limits: { ...b.manifest.limits, ...limits } };
  return encodeBundle({
    manifest,
    module: b.module,
    stdin: b.stdin,
    inputs: b.inputs,
    witness: b.witnessBytes,
    result: { ...b.result, fuelLimit: manifest.limits.fuel, manifestHash: manifestHash(manifest) },
    wasiLevel: b.wasiLevel,
  });
}

/** A recorded spin loop edited to fuel without end: its replay runs until something stops it. */
export async function endlessBundle(wallClockMs: number): Promise<Uint8Array> {
  return editLimits(await recordBundle(hostileManifest(['spin'])), { fuel: MAX_FUEL, wallClockMs });
}

/** The claim a bundle's own facts make (as its claimer, the key of seed `claimer`, would publish it). */
export async function claimOf(bytes: Uint8Array, claimer = 5): Promise<Claim> {
  return {
    ...claimFieldsOf(bytes),
    claimer: (await keyFromSeed(new Uint8Array(32).fill(claimer))).publicKey,
    issuedAt: 1,
  };
}

/**
 * A bundle file around any payload, with a valid header hash: what passes the first checks of a
 * decoder. `declared` is the payload length the header states (default the true one).
 */
export function craftedBundle(payload: Uint8Array, declared = BigInt(payload.length)): Uint8Array {
  const compressed = brotliCompressSync(payload);
  const out = new Uint8Array(BUNDLE_HEADER_BYTES + compressed.length);
  const view = new DataView(out.buffer);
  out.set(BUNDLE_MAGIC, 0);
  view.setUint32(8, 2);
  view.setBigUint64(12, declared);
  out.set(compressed, BUNDLE_HEADER_BYTES);
  out.set(blake3Parts([out.subarray(8, 20), out.subarray(BUNDLE_HEADER_BYTES)]), 20);
  return out;
}

/** MessagePack of `depth` arrays nested in one another: a decoder that recurses runs out of stack. */
export function nestedArrays(depth: number): Uint8Array {
  const b = new Uint8Array(depth + 1).fill(0x91);
  b[depth] = 0xc0;
  return b;
}

/**
 * The bundle with its witness replaced by `entries` host calls of the smallest kind: a few
 * megabytes of file whose entries, decoded, take hundreds of bytes of heap each.
 */
export function witnessBomb(bytes: Uint8Array, entries: number): Uint8Array {
  const b = decodeBundle(bytes);
  const chunks: Uint8Array[] = [];
  for (let from = 0; from < entries; from += 1_000_000) {
    const n = Math.min(1_000_000, entries - from);
    const chunk = Array.from(
      { length: n },
      (_, i): WitnessEntry => ({ index: from + i, name: 'a', args: [], result: null, writes: [], fuel: 0n }),
    );
    chunks.push(encodeEntries(chunk));
  }
  const witness = Buffer.concat(chunks);
  return encodeBundle(
    { ...b, witness: new Uint8Array(witness.buffer, witness.byteOffset, witness.length) },
    { quality: 1 },
  );
}

/** Commands on bundles: replay, verify, proof, verify-proof, inspect. */
import type { Command } from 'commander';
import {
  InputError,
  bytesEqual,
  canonicalManifestBytes,
  commitEntries,
  decodeBundle,
  decodeEntry,
  encodeEntry,
  inclusionProof,
  leafHash,
  replayDecoded,
  resultToJson,
  summarizeEntry,
  toHex,
  verifyBundleBytes,
  verifyInclusion,
} from '../../runtime/api/bundle.ts';
import { instrumentCacheDir } from '../../runtime/api/cage.ts';
import { EXIT, guarded, printJson, readInput } from '../io.ts';

interface ProofJson {
  index: number;
  treeSize: number;
  leafHash: string;
  path: string[];
  root: string;
  /** The entry's canonical encoding (the leaf data), hex: what verify-proof re-hashes. */
  entryBytes?: string;
  /** A readable summary of the entry; verify-proof checks it against `entryBytes`. */
  entry?: unknown;
}

function fromHex(s: unknown, field: string): Uint8Array {
  if (typeof s !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(s))
    throw new InputError('DL_ERR_PROOF_FIELD', `${field} must be a hex string`, { field });
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

/** A hash given on the command line: exactly 64 hex digits, else a usage error (not a mismatch). */
function hashFlag(s: string, flag: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(s))
    throw new InputError(
      'DL_ERR_CLI_USAGE',
      `${flag} takes a BLAKE3 hash as 64 hex digits, got ${JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)} (${s.length} characters)`,
      { field: flag },
    );
  return s.toLowerCase();
}

function parseProof(bytes: Uint8Array): {
  proof: Parameters<typeof verifyInclusion>[0];
  root: Uint8Array;
  entryBytes: Uint8Array | undefined;
  entry: unknown;
} {
  let raw: Partial<ProofJson>;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes)) as Partial<ProofJson>;
  } catch (e) {
    throw new InputError('DL_ERR_PROOF_SYNTAX', `the proof is not JSON: ${(e as Error).message}`, {});
  }
  if (typeof raw !== 'object' || raw === null)
    throw new InputError('DL_ERR_PROOF_SYNTAX', 'the proof must be a JSON object', {});
  if (
    !Number.isSafeInteger(raw.index) ||
    !Number.isSafeInteger(raw.treeSize) ||
    !Array.isArray(raw.path) ||
    raw.path.length > 64
  ) {
    throw new InputError(
      'DL_ERR_PROOF_FIELD',
      'a proof needs integer index and treeSize and a path of at most 64 hashes',
      {},
    );
  }
  return {
    proof: {
      index: raw.index!,
      treeSize: raw.treeSize!,
      leafHash: fromHex(raw.leafHash, 'leafHash'),
      path: raw.path.map((p, i) => fromHex(p, `path[${i}]`)),
    },
    root: fromHex(raw.root, 'root'),
    entryBytes: raw.entryBytes === undefined ? undefined : fromHex(raw.entryBytes, 'entryBytes'),
    entry: raw.entry,
  };
}

/**
 * Why a proof's entry does not match its leaf, or null when it does: the entry bytes must hash to
 * the leaf and decode to the summary the proof shows (an edited `entry.result` is caught here).
 */
function entryProblem(p: ReturnType<typeof parseProof>): string | null {
  if (p.entryBytes === undefined)
    return p.entry === undefined
      ? null
      : 'the proof shows an entry but not its bytes (entryBytes), so the entry cannot be checked';
  if (!bytesEqual(leafHash(p.entryBytes), p.proof.leafHash)) return 'entryBytes do not hash to leafHash';
  let decoded;
  try {
    decoded = decodeEntry(p.entryBytes);
  } catch (e) {
    return `entryBytes are not a witness entry (${(e as Error).message})`;
  }
  if (
    p.entry !== undefined &&
    JSON.stringify(summarizeEntry({ ...decoded, index: p.proof.index })) !== JSON.stringify(p.entry)
  )
    return 'the entry shown differs from the entry whose bytes are proven';
  return null;
}

/**
 * Text from a bundle, safe to print on a terminal: control characters (C0, DEL, C1) and the
 * zero-width and bidirectional marks that hide or reorder text are shown as `\u{…}`, so a crafted
 * bundle cannot move the cursor, overwrite a line (`\r`), recolour the listing or make one name
 * read as another.
 */
function shown(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return s.replace(
    /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
}

/**
 * Bytes the guest received, for a reader: printable UTF-8 as a quoted string (NULs, which end C
 * strings, as \\0), anything else as hex; long values are cut at 48 characters.
 */
export function showBytes(bytes: Uint8Array): string {
  const MAX = 48;
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined && /^[\x20-\x7e\u00a0-\uffff\t\n\r\0]*$/.test(text) && /[\x20-\x7e]/.test(text)) {
    const quoted = shown(JSON.stringify(text.length > MAX ? text.slice(0, MAX) : text).replaceAll('\\u0000', '\\0'));
    return text.length > MAX ? `${quoted}…` : quoted;
  }
  const hex = Buffer.from(bytes.subarray(0, MAX / 2)).toString('hex');
  return bytes.length > MAX / 2 ? `0x${hex}…` : `0x${hex}`;
}

export function registerBundleCommands(program: Command): void {
  program
    .command('replay')
    .description('re-execute a bundle offline and compare with its recorded result')
    .argument('<bundle>', 'bundle file')
    .option('--json', 'print {match, resultHash, expectedResultHash, divergence}')
    .addHelpText('after', '\nExit codes: 0 match, 1 divergence or different result, 2 unusable bundle.')
    .action(async (path: string, f: { json?: boolean }) =>
      guarded(f.json === true, async () => {
        // The worker checks the witness as it reads it; decoding it here too would double the work.
        const bundle = decodeBundle(readInput(path, 'bundle'), { lazyWitness: true });
        // Instrumented modules are kept between runs, as for `docklock run` (docs/cli.md).
        const cacheDir = instrumentCacheDir();
        const report = await replayDecoded(bundle, cacheDir === null ? {} : { cacheDir });
        if (f.json) printJson(report);
        else if (report.match) process.stdout.write(`match: result ${report.resultHash}\n`);
        else if (report.divergence) {
          const d = report.divergence;
          process.stdout.write(
            `DIVERGED at witness entry ${d.index} (${shown(d.import)}): ${d.field} differs\n  expected: ${shown(JSON.stringify(d.expected))}\n  actual:   ${shown(JSON.stringify(d.actual))}\n`,
          );
        } else
          process.stdout.write(`MISMATCH: result ${report.resultHash}, bundle says ${report.expectedResultHash}\n`);
        return report.match ? EXIT.ok : EXIT.mismatch;
      }),
    );

  program
    .command('verify')
    .description("check a bundle's integrity without executing it: witness root and result hash recomputed")
    .argument('<bundle>', 'bundle file')
    .option('--expected-hash <hex>', 'also require this result hash')
    .option('--json', 'print the verdict as JSON')
    .addHelpText('after', '\nExit codes: 0 intact, 1 inconsistent, 2 unusable bundle.')
    .action(async (path: string, f: { json?: boolean; expectedHash?: string }) =>
      guarded(f.json === true, async () => {
        const expected = f.expectedHash === undefined ? undefined : hashFlag(f.expectedHash, '--expected-hash');
        const v = verifyBundleBytes(readInput(path, 'bundle'), expected);
        if (f.json) {
          printJson({
            ok: v.ok,
            witnessRoot: toHex(v.witnessRoot),
            expectedWitnessRoot: toHex(v.expectedWitnessRoot),
            resultHash: toHex(v.resultHash),
            expectedResultHash: toHex(v.expectedResultHash),
            problems: v.problems,
          });
        } else if (v.ok) {
          process.stdout.write(
            `ok: result ${toHex(v.resultHash)}, witness root ${toHex(v.witnessRoot)} (${v.bundle.witness.length} entries)\n`,
          );
        } else {
          for (const p of v.problems) process.stdout.write(`${p.code}: ${p.message}\n`);
        }
        return v.ok ? EXIT.ok : EXIT.mismatch;
      }),
    );

  program
    .command('proof')
    .description('print the Merkle inclusion proof of one witness entry')
    .argument('<bundle>', 'bundle file')
    .requiredOption('--entry <n>', 'witness entry index')
    .option('--json', 'print the proof as JSON (the input of verify-proof)')
    .action(async (path: string, f: { entry: string; json?: boolean }) =>
      guarded(f.json === true, async () => {
        const b = decodeBundle(readInput(path, 'bundle'));
        const n = Number(f.entry);
        if (!Number.isSafeInteger(n) || n < 0 || n >= b.witness.length) {
          throw new InputError(
            'DL_ERR_CLI_ENTRY',
            `--entry must be an index from 0 to ${b.witness.length - 1}, got "${f.entry}"`,
            { field: '--entry' },
          );
        }
        const { root, leaves } = commitEntries(b.witness);
        const p = inclusionProof(leaves, n);
        const json: ProofJson = {
          index: p.index,
          treeSize: p.treeSize,
          leafHash: toHex(p.leafHash),
          path: p.path.map(toHex),
          root: toHex(root),
        };
        if (f.json)
          printJson({ ...json, entryBytes: toHex(encodeEntry(b.witness[n]!)), entry: summarizeEntry(b.witness[n]!) });
        else
          process.stdout.write(
            `entry ${n} of ${p.treeSize} (${b.witness[n]!.name})\nleaf  ${json.leafHash}\n${json.path.map((h, i) => `path[${i}] ${h}`).join('\n')}\nroot  ${json.root}\n`,
          );
        return EXIT.ok;
      }),
    );

  program
    .command('verify-proof')
    .description('check an inclusion proof (the JSON printed by `docklock proof --json`)')
    .argument('<proof.json|->', 'proof file, or - for stdin')
    .option('--root <hex>', 'the root to check against')
    .option('--bundle <file>', "check against the witness root of this bundle's result")
    .option('--json', 'print {valid, root, rootSource, entryChecked, problem}')
    .addHelpText(
      'after',
      '\nWithout --root or --bundle the proof is checked against its own root field: that shows it is\nself-consistent, not that it belongs to any run ("root not pinned").\nExit codes: 0 valid, 1 invalid, 2 unreadable proof.',
    )
    .action(async (path: string, f: { root?: string; bundle?: string; json?: boolean }) =>
      guarded(f.json === true, async () => {
        const parsed = parseProof(readInput(path, 'proof'));
        let root = parsed.root;
        let rootSource: 'root' | 'bundle' | 'proof' = 'proof';
        if (f.root !== undefined && f.bundle !== undefined)
          throw new InputError('DL_ERR_CLI_USAGE', 'give --root or --bundle, not both', { field: '--root' });
        if (f.root !== undefined) {
          root = fromHex(hashFlag(f.root, '--root'), '--root');
          rootSource = 'root';
        } else if (f.bundle !== undefined) {
          root = decodeBundle(readInput(f.bundle, 'bundle'), { lazyWitness: true }).result.witnessRoot;
          rootSource = 'bundle';
        }
        const problem =
          entryProblem(parsed) ??
          (verifyInclusion(parsed.proof, root) ? null : 'the path does not lead from the leaf to the root');
        const valid = problem === null;
        const pinned =
          rootSource === 'root'
            ? `root ${toHex(root)} (--root)`
            : rootSource === 'bundle'
              ? `root ${toHex(root)} of ${f.bundle} (--bundle)`
              : `its own root ${toHex(root)}: self-consistent, root not pinned (give --root or --bundle)`;
        if (f.json)
          printJson({ valid, root: toHex(root), rootSource, entryChecked: parsed.entryBytes !== undefined, problem });
        else
          process.stdout.write(
            valid
              ? `valid against ${pinned}${parsed.entryBytes === undefined ? '; the proof carries no entry bytes, so only the leaf hash is proven' : ''}\n`
              : `INVALID: ${problem} (checked against ${pinned})\n`,
          );
        return valid ? EXIT.ok : EXIT.mismatch;
      }),
    );

  program
    .command('inspect')
    .description('a readable listing of a bundle: manifest, result and witness entries')
    .argument('<bundle>', 'bundle file')
    .option('--limit <n>', 'witness entries to list', '50')
    .action(async (path: string, f: { limit: string }) =>
      guarded(false, async () => {
        const limit = Number(f.limit);
        if (!/^\d+$/.test(f.limit) || !Number.isSafeInteger(limit))
          throw new InputError(
            'DL_ERR_CLI_LIMIT',
            `--limit takes a whole number of entries (0 or more), got "${f.limit}"`,
            { field: '--limit' },
          );
        const b = decodeBundle(readInput(path, 'bundle'));
        const r = resultToJson(b.result);
        const out = process.stdout;
        out.write(`bundle: ${path}\n`);
        out.write(`module: ${b.module.length} bytes, hash ${r.moduleHash}\n`);
        out.write(`manifest (canonical, ${canonicalManifestBytes(b.manifest).length} bytes):\n`);
        out.write(
          `  entry ${shown(b.manifest.entry)}; fuel ${b.manifest.limits.fuel}; memory ${b.manifest.limits.memory}; stack ${b.manifest.limits.stack}\n`,
        );
        out.write(
          `  grants ${b.manifest.grants.join(', ')}; network ${b.manifest.network.mode} [${b.manifest.network.allow.join(', ')}]\n`,
        );
        out.write(
          `  args [${b.manifest.args.map(shown).join(' ')}]; env [${Object.keys(b.manifest.env).map(shown).join(', ')}]; inputs [${[...b.inputs.keys()].map(shown).join(', ')}]; stdin ${b.stdin.length} bytes\n`,
        );
        out.write(
          `result: ${r.status}${r.exitCode !== null ? ` exit ${r.exitCode}` : ''}${r.trap ? ` trap ${shown(r.trap)}` : ''}; fuel ${r.fuelUsed}/${r.fuelLimit}\n`,
        );
        out.write(
          `  stdout ${b.result.stdout.length} bytes, stderr ${b.result.stderr.length} bytes, outputs [${Object.keys(r.outputs).map(shown).join(', ')}]\n`,
        );
        out.write(
          `  witness ${r.witnessEntries} entries, root ${r.witnessRoot}\n  result hash ${toHex(b.resultHash)}\n`,
        );
        for (const e of b.witness.slice(0, limit)) {
          const writes = e.writes.map((w) => `${w.ptr}+${w.bytes.length} ${showBytes(w.bytes)}`).join(', ');
          out.write(
            `  #${e.index} ${shown(e.name)}(${e.args.join(', ')}) = ${e.result ?? 'void'}  fuel ${e.fuel}${writes ? `  writes ${writes}` : ''}${e.data ? `  data ${e.data.length} bytes ${showBytes(e.data)}` : ''}\n`,
          );
        }
        if (b.witness.length > limit) out.write(`  … ${b.witness.length - limit} more (--limit)\n`);
        return EXIT.ok;
      }),
    );
}

/**
 * Claims and verdicts: the two signed messages of the P2P protocol (docs/p2p.md, "Messages").
 *
 * A message travels as an envelope `[kind, body, signature]`, where `body` is the canonical
 * MessagePack of a fixed-order array that starts with the kind tag, the format version and the
 * signer's 32-byte Ed25519 public key, and the signature is Ed25519 over
 * `"docklock/p2p/1\0" ‖ kind ‖ "\0" ‖ body`. A message's id is BLAKE3(body): the signer is inside
 * the body, so two signers never share an id, and Ed25519 signatures are deterministic, so an id
 * names one envelope. Anyone holding an envelope checks it offline with {@link openEnvelope}.
 */
import { blake3 } from '../index.ts';
import { P2PError } from './errors.ts';
import { leafHash, MAX_PROOF_DEPTH, rootFromProof, verifyBatchSignature } from './batch-proof.ts';
import { sign, verifySignature, type NodeKey } from './keys.ts';
import { equalBytes, Fields, hex, pack, unpackCanonical } from './wire.ts';

/** Version of every message layout below; bump, never reuse. */
export const P2P_MESSAGE_VERSION = 1;
/** Largest envelope a node accepts (gossip and sync): a witness proof of 2^31 leaves fits easily. */
export const MAX_MESSAGE_BYTES = 16 * 1024;
export const CLAIM_KIND = 'docklock/claim';
export const VERDICT_KIND = 'docklock/verdict';
export type MessageKind = typeof CLAIM_KIND | typeof VERDICT_KIND;

/** A validator's signed statement about one evaluation and the bundle that backs it. */
export interface Claim {
  claimer: Uint8Array;
  /** Milliseconds since the epoch, set by the claimer (used for sync windows and expiry). */
  issuedAt: number;
  moduleHash: Uint8Array;
  manifestHash: Uint8Array;
  /** BLAKE3 of the submission (the bundle's stdin). */
  submissionHash: Uint8Array;
  score: number;
  status: ClaimStatus;
  resultHash: Uint8Array;
  witnessRoot: Uint8Array;
  witnessEntries: number;
  /** BLAKE3 of the bundle file's bytes: what `/docklock/bundle/1` serves it by. */
  bundleHash: Uint8Array;
  bundleSize: number;
  instrumenterVersion: string;
  costTableVersion: string;
}

export const CLAIM_STATUSES = ['ok', 'submission_failed', 'evaluation_failed'] as const;
export type ClaimStatus = (typeof CLAIM_STATUSES)[number];

/** How a claim and its bundle disagree with a replay (docs/p2p.md, "What a dispute proves"). */
export type Divergence =
  /** Replay asked a different host call than recorded at `index`: the claimed leaf is proven in the claimed root. */
  | {
      kind: 'witness';
      index: number;
      treeSize: number;
      claimedLeaf: Uint8Array | null;
      actualLeaf: Uint8Array | null;
      path: Uint8Array[];
      field: string;
    }
  /** Every witness entry matched but the replayed result hash differs (an edited output, exit code, fuel…). */
  | { kind: 'result' }
  /** The claim does not describe its own bundle (`field` differs, or the bundle does not decode). */
  | { kind: 'bundle'; field: string; claimed: string; actual: string };

export interface Verdict {
  replayer: Uint8Array;
  issuedAt: number;
  /** Id of the claim judged (BLAKE3 of its body). */
  claimId: Uint8Array;
  outcome: 'match' | 'diverge';
  /** The replayed result hash; null when the bundle could not be replayed at all. */
  resultHash: Uint8Array | null;
  divergence: Divergence | null;
}

/** A decoded, signature-checked envelope. */
export type Opened =
  | {
      kind: typeof CLAIM_KIND;
      id: Uint8Array;
      idHex: string;
      signer: Uint8Array;
      body: Uint8Array;
      envelope: Uint8Array;
      claim: Claim;
    }
  | {
      kind: typeof VERDICT_KIND;
      id: Uint8Array;
      idHex: string;
      signer: Uint8Array;
      body: Uint8Array;
      envelope: Uint8Array;
      verdict: Verdict;
    };

const CLAIM_FIELDS = 16;
const VERDICT_FIELDS = 8;
const MAX_PROOF_PATH = 64;
const te = new TextEncoder();

function signingBytes(kind: string, body: Uint8Array): Uint8Array {
  const head = te.encode(`docklock/p2p/1\0${kind}\0`);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

function f64(score: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, score);
  return b;
}

export function claimBody(c: Claim): Uint8Array {
  return pack([
    CLAIM_KIND,
    P2P_MESSAGE_VERSION,
    c.claimer,
    c.issuedAt,
    c.moduleHash,
    c.manifestHash,
    c.submissionHash,
    f64(c.score),
    c.status,
    c.resultHash,
    c.witnessRoot,
    c.witnessEntries,
    c.bundleHash,
    c.bundleSize,
    c.instrumenterVersion,
    c.costTableVersion,
  ]);
}

function divergenceTuple(d: Divergence | null): unknown {
  if (d === null) return null;
  if (d.kind === 'witness') return ['witness', d.index, d.treeSize, d.claimedLeaf, d.actualLeaf, d.path, d.field];
  if (d.kind === 'result') return ['result'];
  return ['bundle', d.field, d.claimed, d.actual];
}

export function verdictBody(v: Verdict): Uint8Array {
  return pack([
    VERDICT_KIND,
    P2P_MESSAGE_VERSION,
    v.replayer,
    v.issuedAt,
    v.claimId,
    v.outcome,
    v.resultHash,
    divergenceTuple(v.divergence),
  ]);
}

/** Signs a body into an envelope. The signer must be the key named in the body. */
export async function seal(key: NodeKey, kind: MessageKind, body: Uint8Array): Promise<Uint8Array> {
  return pack([kind, body, await sign(key, signingBytes(kind, body))]);
}

export async function signClaim(key: NodeKey, c: Omit<Claim, 'claimer'>): Promise<Uint8Array> {
  return seal(key, CLAIM_KIND, claimBody({ ...c, claimer: key.publicKey }));
}

export async function signVerdict(key: NodeKey, v: Omit<Verdict, 'replayer'>): Promise<Uint8Array> {
  return seal(key, VERDICT_KIND, verdictBody({ ...v, replayer: key.publicKey }));
}

function decodeClaim(body: Uint8Array): Claim {
  const f = new Fields(unpackCanonical(body, 'claim'), 'claim', CLAIM_FIELDS);
  f.literal(CLAIM_KIND);
  f.literal(P2P_MESSAGE_VERSION);
  const claimer = f.bytes(32);
  const issuedAt = f.uint();
  const moduleHash = f.bytes(32);
  const manifestHash = f.bytes(32);
  const submissionHash = f.bytes(32);
  const sb = f.bytes(8);
  const score = new DataView(sb.buffer, sb.byteOffset, 8).getFloat64(0);
  if (!(score >= 0 && score <= 1))
    throw new P2PError('DL_ERR_P2P_SCHEMA', `claim score must be a number in [0, 1], got ${score}`, {
      field: 'claim.score',
    });
  const status = f.oneOf(CLAIM_STATUSES);
  return {
    claimer,
    issuedAt,
    moduleHash,
    manifestHash,
    submissionHash,
    score,
    status,
    resultHash: f.bytes(32),
    witnessRoot: f.bytes(32),
    witnessEntries: f.uint(0x7fffffff),
    bundleHash: f.bytes(32),
    bundleSize: f.uint(),
    instrumenterVersion: f.string(64),
    costTableVersion: f.string(64),
  };
}

function decodeDivergence(raw: unknown): Divergence | null {
  if (raw === null) return null;
  if (!Array.isArray(raw) || raw.length === 0)
    throw new P2PError('DL_ERR_P2P_SCHEMA', 'verdict divergence must be null or an array', {
      field: 'verdict.divergence',
    });
  if (raw[0] === 'witness') {
    const f = new Fields(raw, 'verdict.divergence', 7);
    f.literal('witness');
    const index = f.uint(0x7fffffff);
    const treeSize = f.uint(0x7fffffff);
    const claimedLeaf = f.bytesOrNull(32);
    const actualLeaf = f.bytesOrNull(32);
    const path = f.array(MAX_PROOF_PATH).map((p, i) => {
      if (!(p instanceof Uint8Array) || p.length !== 32)
        throw new P2PError('DL_ERR_P2P_SCHEMA', `proof path item ${i} must be 32 bytes`, {
          field: 'verdict.divergence.path',
        });
      return p;
    });
    return { kind: 'witness', index, treeSize, claimedLeaf, actualLeaf, path, field: f.string(16) };
  }
  if (raw[0] === 'result') {
    new Fields(raw, 'verdict.divergence', 1).literal('result');
    return { kind: 'result' };
  }
  const f = new Fields(raw, 'verdict.divergence', 4);
  f.literal('bundle');
  return { kind: 'bundle', field: f.string(64), claimed: f.string(256), actual: f.string(256) };
}

function decodeVerdict(body: Uint8Array): Verdict {
  const f = new Fields(unpackCanonical(body, 'verdict'), 'verdict', VERDICT_FIELDS);
  f.literal(VERDICT_KIND);
  f.literal(P2P_MESSAGE_VERSION);
  const v: Verdict = {
    replayer: f.bytes(32),
    issuedAt: f.uint(),
    claimId: f.bytes(32),
    outcome: f.oneOf(['match', 'diverge'] as const),
    resultHash: f.bytesOrNull(32),
    divergence: decodeDivergence(f.raw()),
  };
  if ((v.outcome === 'match') !== (v.divergence === null))
    throw new P2PError('DL_ERR_P2P_SCHEMA', 'a match verdict carries no divergence and a diverge verdict carries one', {
      field: 'verdict.divergence',
    });
  if (v.outcome === 'match' && v.resultHash === null)
    throw new P2PError('DL_ERR_P2P_SCHEMA', 'a match verdict names the replayed result hash', {
      field: 'verdict.resultHash',
    });
  return v;
}

/** Where a message signed as part of a batch sits in it: the signature covers `root` (docs/p2p.md, "Batches"). */
export interface BatchProof {
  root: Uint8Array;
  index: number;
  size: number;
  path: Uint8Array[];
}

/** An envelope taken apart but not yet trusted: its body is undecoded and its signature unchecked. */
export interface Sealed {
  kind: MessageKind;
  body: Uint8Array;
  signature: Uint8Array;
  /** Present for a message of a batch: the signature is the batch's, over this root. */
  proof?: BatchProof;
  envelope: Uint8Array;
  /** BLAKE3(body): the message id. */
  id: Uint8Array;
  idHex: string;
}

/** Envelope fields: `[kind, body, signature]` signed alone, `[kind, body, signature, root, index, size, path]` in a batch. */
const SINGLE_FIELDS = 3;
const BATCHED_FIELDS = 7;

/** The envelope of one message of a signed batch: what a node stores, serves and puts in a dispute file. */
export function batchedEnvelope(
  kind: MessageKind,
  body: Uint8Array,
  signature: Uint8Array,
  proof: BatchProof,
): Uint8Array {
  return pack([kind, body, signature, proof.root, proof.index, proof.size, proof.path]);
}

/**
 * Takes an envelope apart (size, canonical form, shape) without decoding the body or checking the
 * signature: enough to know the message id, so a node drops a message it already holds before
 * paying for an Ed25519 check (two thirds of the cost of a duplicate, which gossip and catch-up
 * deliver often). A copy with the same body but another signature is the same message.
 * @throws {P2PError} `DL_ERR_P2P_TOO_LARGE`, `DL_ERR_P2P_MALFORMED`, `DL_ERR_P2P_SCHEMA`
 */
export function unseal(envelope: Uint8Array): Sealed {
  if (envelope.length > MAX_MESSAGE_BYTES)
    throw new P2PError(
      'DL_ERR_P2P_TOO_LARGE',
      `message of ${envelope.length} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`,
      { field: 'message' },
    );
  const raw = unpackCanonical(envelope, 'envelope');
  const batched = Array.isArray(raw) && raw.length === BATCHED_FIELDS;
  const f = new Fields(raw, 'envelope', batched ? BATCHED_FIELDS : SINGLE_FIELDS);
  const kind = f.oneOf([CLAIM_KIND, VERDICT_KIND] as const);
  const body = f.bytes(undefined, MAX_MESSAGE_BYTES);
  const signature = f.bytes(64);
  const id = blake3(body);
  const sealed: Sealed = { kind, body, signature, envelope, id, idHex: hex(id) };
  if (batched) {
    const root = f.bytes(32);
    const index = f.uint(0xffff);
    const size = f.uint(0xffff);
    const path = f.array(MAX_PROOF_DEPTH).map((p, i) => {
      if (!(p instanceof Uint8Array) || p.length !== 32)
        throw new P2PError('DL_ERR_P2P_SCHEMA', `batch proof path item ${i} must be 32 bytes`, {
          field: 'envelope.path',
        });
      return p;
    });
    sealed.proof = { root, index, size, path };
  }
  return sealed;
}

/**
 * Decodes a message body of `kind` (shape and version; no signature check) and names its signer.
 * @throws {P2PError} `DL_ERR_P2P_MALFORMED`, `DL_ERR_P2P_SCHEMA`, `DL_ERR_P2P_VERSION`
 */
export function decodeBody(
  kind: MessageKind,
  body: Uint8Array,
): { signer: Uint8Array; claim: Claim; verdict: null } | { signer: Uint8Array; claim: null; verdict: Verdict } {
  if (kind === CLAIM_KIND) {
    const claim = decodeClaim(body);
    return { signer: claim.claimer, claim, verdict: null };
  }
  const verdict = decodeVerdict(body);
  return { signer: verdict.replayer, claim: null, verdict };
}

/** Whether a sealed message's signature (its own, or its batch's over the proven root) is the signer's. */
async function signedBy(s: Sealed, signer: Uint8Array): Promise<boolean> {
  if (s.proof === undefined) return verifySignature(signer, signingBytes(s.kind, s.body), s.signature);
  const { root, index, size, path } = s.proof;
  const reached = rootFromProof(leafHash(s.body), index, size, path);
  if (reached === null || !equalBytes(reached, root)) return false;
  return verifyBatchSignature(signer, s.kind, size, root, s.signature);
}

/**
 * Decodes an unsealed envelope's body and checks its shape, version and signature (unless the
 * caller signed it itself, `signedHere`).
 * @throws {P2PError} `DL_ERR_P2P_MALFORMED`, `DL_ERR_P2P_SCHEMA`, `DL_ERR_P2P_VERSION`, `DL_ERR_P2P_BAD_SIGNATURE`
 */
export async function openSealed(s: Sealed, signedHere = false): Promise<Opened> {
  const { kind, body } = s;
  const d = decodeBody(kind, body);
  // `signedHere`: the caller made this signature a moment ago with its own key (a node's own verdict).
  if (!signedHere && !(await signedBy(s, d.signer)))
    throw new P2PError(
      'DL_ERR_P2P_BAD_SIGNATURE',
      `the ${kind} ${s.proof === undefined ? 'signature' : 'batch proof or signature'} does not verify against its signer's key`,
      { field: 'signature' },
    );
  return opened(s, d);
}

/** An opened message from a sealed one and its decoded body (the caller has checked the signature). */
export function opened(s: Sealed, d: ReturnType<typeof decodeBody>): Opened {
  const base = { id: s.id, idHex: s.idHex, signer: d.signer, body: s.body, envelope: s.envelope };
  return d.claim !== null
    ? { kind: CLAIM_KIND, ...base, claim: d.claim }
    : { kind: VERDICT_KIND, ...base, verdict: d.verdict };
}

/**
 * Decodes an envelope, checks its canonical form, shape, version and signature.
 * @param envelope - untrusted bytes (gossip data, a sync reply, a dispute file's part).
 * @throws {P2PError} `DL_ERR_P2P_TOO_LARGE`, `DL_ERR_P2P_MALFORMED`, `DL_ERR_P2P_SCHEMA`,
 *   `DL_ERR_P2P_VERSION`, `DL_ERR_P2P_BAD_SIGNATURE`
 */
export async function openEnvelope(envelope: Uint8Array): Promise<Opened> {
  return openSealed(unseal(envelope));
}

/** JSON view of a claim: hashes as hex, for the API and CLI. */
export function claimJson(c: Claim): Record<string, unknown> {
  return {
    claimer: hex(c.claimer),
    issuedAt: c.issuedAt,
    moduleHash: hex(c.moduleHash),
    manifestHash: hex(c.manifestHash),
    submissionHash: hex(c.submissionHash),
    score: c.score,
    status: c.status,
    resultHash: hex(c.resultHash),
    witnessRoot: hex(c.witnessRoot),
    witnessEntries: c.witnessEntries,
    bundleHash: hex(c.bundleHash),
    bundleSize: c.bundleSize,
    instrumenterVersion: c.instrumenterVersion,
    costTableVersion: c.costTableVersion,
  };
}

export function divergenceJson(d: Divergence | null): Record<string, unknown> | null {
  if (d === null) return null;
  if (d.kind === 'witness')
    return {
      kind: d.kind,
      index: d.index,
      treeSize: d.treeSize,
      field: d.field,
      claimedLeaf: d.claimedLeaf && hex(d.claimedLeaf),
      actualLeaf: d.actualLeaf && hex(d.actualLeaf),
      path: d.path.map(hex),
    };
  return { ...d };
}

export function verdictJson(v: Verdict): Record<string, unknown> {
  return {
    replayer: hex(v.replayer),
    issuedAt: v.issuedAt,
    claimId: hex(v.claimId),
    outcome: v.outcome,
    resultHash: v.resultHash && hex(v.resultHash),
    divergence: divergenceJson(v.divergence),
  };
}

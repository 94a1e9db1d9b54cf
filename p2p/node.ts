/**
 * The P2P node: libp2p (TCP, Noise, Yamux, identify, ping, gossipsub with StrictSign) plus the
 * docklock protocol on top (docs/p2p.md): claims and verdicts on one gossip topic, bundles over
 * `/docklock/bundle/1`, catch-up over `/docklock/sync/1`, replays of the claims rendezvous hashing
 * assigns to this node, and claim states kept in the store.
 */
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import { ping, type Ping } from '@libp2p/ping';
import { gossipsub, TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { PeerId } from '@libp2p/interface';
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { blake3, DocklockError } from '../index.ts';
import { claimFieldsOf } from './audit.ts';
import { decodeBatch, MAX_BATCH_BYTES, MAX_BATCHED_BODY_BYTES, openBatch, signBatch } from './batch.ts';
import { Batcher } from './batcher.ts';
import {
  BUNDLE_PROTOCOL,
  BUNDLES_PROTOCOL,
  fetchBundleOver,
  fetchBundlesOver,
  MAX_BUNDLES_PER_REQUEST,
  serveBundle,
  serveBundles,
} from './bundle-protocol.ts';
import { BundleStore } from './bundles.ts';
import type { NodeConfig } from './config.ts';
import { checkDivergence, encodeDispute } from './dispute.ts';
import { P2PError } from './errors.ts';
import { peerIdOf, type NodeKey } from './keys.ts';
import {
  CLAIM_KIND,
  claimBody,
  decodeBody,
  openEnvelope,
  openSealed,
  unseal,
  VERDICT_KIND,
  verdictBody,
  type Claim,
  type MessageKind,
  type Opened,
} from './messages.ts';
import { Judges } from './judges.ts';
import { NodeMetrics } from './metrics.ts';
import { OrphanVerdicts } from './orphans.ts';
import { announcesItsSigner, MAX_ANNOUNCEMENT_BYTES, PEERS_TOPIC } from './peer-exchange.ts';
import { PeerBook, PENALTY } from './peers.ts';
import { claimState } from './quorum.ts';
import { rankReplayers } from './rendezvous.ts';
import { ReplayQueue } from './replay-queue.ts';
import { noiseCrypto } from './noise-crypto.ts';
import { ReplayPool } from './replay-pool.ts';
import { Slots } from './slots.ts';
import { Store, type ClaimState } from './store.ts';
import { DIAL_TIMEOUT_MS, STREAM_LIMITS } from './stream-protocol.ts';
import { requestSync, serveSync, SYNC_PROTOCOL } from './sync-protocol.ts';
import { equalBytes, hex } from './wire.ts';

/**
 * The gossip topic of claims and verdicts, which travel on it in signed batches (docs/p2p.md,
 * "Batches"). The version is in the name: version 1 carried single messages, and a node of one
 * version does not see the other's gossip (another version is another network).
 */
export const TOPIC = 'docklock/claims/2';
export { PEERS_TOPIC } from './peer-exchange.ts';
/** Claims issued further than this in the future are rejected (clock skew allowance). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Verdicts held for claims not yet seen, in envelope bytes (4 MiB: hundreds of claims' worth of verdicts). */
export const MAX_ORPHAN_BYTES = 4 * 2 ** 20;
/**
 * Bundles fetched ahead of their replays in one stream: only small ones (kept in memory, like any
 * fetched bundle under 1 MiB), and at most this many bytes per request, half the store's memory
 * cache, so they are still there when their replays run.
 */
const PREFETCH_MAX_BUNDLE = 2 ** 20;
const PREFETCH_MAX_BYTES = 8 * 2 ** 20;
/**
 * Replays in progress (fetching or judging) per replay thread: the pool sends a thread the ones
 * that wait together, so a thread's message round trip serves several. Their bundles in memory
 * stay within what `replay.concurrency` replays of the largest bundle would hold.
 */
const REPLAYS_PER_THREAD = 16;

type Services = { identify: Identify; ping: Ping; pubsub: GossipSub };
export type IngestResult = { result: 'accept' | 'ignore' } | { result: 'reject'; code: string; message: string };
type OpenedClaim = Extract<Opened, { kind: 'docklock/claim' }>;
type OpenedVerdict = Extract<Opened, { kind: 'docklock/verdict' }>;
/** A message checked against this node's state: what storing it does (or why it is refused). */
type Checked =
  | { do: 'claim'; o: OpenedClaim; claimer: string }
  | { do: 'verdict'; o: OpenedVerdict; claimId: string }
  /** A verdict before its claim: held in the orphan pool, not stored or forwarded. */
  | { do: 'hold'; o: OpenedVerdict; claimId: string }
  /** Not judged now (the replay queue is full for a re-check): it returns through sync. */
  | { do: 'skip' }
  /** A diverging verdict whose proof checks: this node's own judgement decides (after every cheap check). */
  | { do: 'recheck'; o: OpenedVerdict; claimId: string; claim: Claim; claimer: string }
  | { do: 'reject'; code: string; message: string; penalty: number; alsoSigner?: string };
const IGNORE: IngestResult = { result: 'ignore' };

export class P2PNode {
  readonly config: NodeConfig;
  readonly key: NodeKey;
  readonly store: Store;
  readonly bundles: BundleStore;
  readonly metrics = new NodeMetrics();
  readonly peers: PeerBook;
  readonly startedAt = Date.now();
  /** `state` (claim id, new state) on every change of a claim's state on this node. */
  readonly events = new EventEmitter();
  // Claims already checked, by id: a verdict needs its claim, and re-verifying the claim's
  // signature for every verdict was a third of the verdict path (bench:p2p profile). Bounded.
  readonly #claims = new Map<string, Extract<Opened, { kind: 'docklock/claim' }>>();
  libp2p!: Libp2p<Services>;
  readonly #queue: ReplayQueue;
  readonly #pool: ReplayPool;
  readonly #served: Set<string> | null;
  readonly #replayed = new Set<string>();
  readonly #judges: Judges;
  readonly #orphans = new OrphanVerdicts(MAX_ORPHAN_BYTES);
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #claimBatcher: Batcher<IngestResult>;
  readonly #verdictBatcher: Batcher<IngestResult>;
  // Batches being sent and verdicts handed to the batcher: a replay job does not wait for its
  // batch's window (that would hold a replay slot idle), but idle() and stop() wait for them.
  readonly #sending = new Set<Promise<unknown>>();
  /** Bundles fetched one by one from peers at once. */
  readonly #fetchSlots: Slots;
  /** Bundles a prefetch is fetching, by hash: a replay that needs one waits for it rather than fetch it again. */
  readonly #inflight = new Map<string, Promise<Uint8Array | null>>();
  #stopping = false;
  /** Publishes storing their bundle, whose claims are about to join the claim batch. */
  #storing = 0;
  #lastBootstrap = Date.now();

  private constructor(config: NodeConfig, key: NodeKey) {
    this.config = config;
    this.key = key;
    this.store = new Store(config.dataDir);
    this.bundles = new BundleStore(config.dataDir);
    this.peers = new PeerBook(this.store, config.limits.messagesPerSecond, config.limits.burst);
    this.#queue = new ReplayQueue(
      config.replay.concurrency * REPLAYS_PER_THREAD,
      config.replay.queue,
      config.replay.concurrency * config.limits.bundleBytes,
    );
    this.#pool = new ReplayPool(config.replay.concurrency, { maxWallClockMs: config.quorum.expiryMs });
    this.#fetchSlots = new Slots(config.replay.concurrency);
    this.#judges = new Judges({
      fetch: (claim, claimer) => this.fetchBundle(claim.bundleHash, claim.bundleSize, claimer),
      judge: this.#pool.judge,
      queue: this.#queue,
      metrics: this.metrics,
    });
    this.#served = config.challenges.length === 0 ? null : new Set(config.challenges.map(challengeModuleHash));
    const batching = (kind: MessageKind, moreComing: () => boolean): Batcher<IngestResult> =>
      new Batcher({
        maxDelayMs: config.batch.maxDelayMs,
        maxItems: config.batch.maxItems,
        // Room for the batch's own fields and MessagePack headers.
        maxBytes: MAX_BATCH_BYTES - 1024,
        moreComing,
        flush: (bodies) => this.#track(this.#sendBatch(kind, bodies)),
      });
    // More claims are coming while other publishes are still storing their bundles; more verdicts
    // while replays wait or run besides the one adding its verdict.
    this.#claimBatcher = batching(CLAIM_KIND, () => this.#storing > 0);
    this.#verdictBatcher = batching(VERDICT_KIND, () => this.#queue.waiting > 0 || this.#queue.running > 1);
  }

  /**
   * Starts a node: store, libp2p, protocols, topic, bootstrap dials and catch-up.
   * @throws {P2PError} for an unusable config, store or listen address
   */
  static async start(config: NodeConfig, key: NodeKey): Promise<P2PNode> {
    const node = new P2PNode(config, key);
    try {
      await node.#startLibp2p();
    } catch (e) {
      node.store.close();
      await node.#pool.close();
      if (e instanceof DocklockError) throw e;
      throw new P2PError(
        'DL_ERR_P2P_START',
        `the libp2p node did not start: ${(e as Error).message}`,
        { field: 'listen' },
        { cause: e },
      );
    }
    return node;
  }

  async #startLibp2p(): Promise<void> {
    const peers = this.peers;
    this.libp2p = await createLibp2p({
      privateKey: this.key.privateKey,
      addresses: { listen: this.config.listen },
      transports: [tcp()],
      connectionEncrypters: [noise({ crypto: noiseCrypto })],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: (p: PeerId) => peers.banned(p.toString()),
        denyInboundEncryptedConnection: (p: PeerId) => peers.banned(p.toString()),
        denyOutboundEncryptedConnection: (p: PeerId) => peers.banned(p.toString()),
      },
      peerDiscovery: [pubsubPeerDiscovery({ interval: this.config.discovery.intervalMs, topics: [PEERS_TOPIC] })],
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          emitSelf: false,
          allowedTopics: [TOPIC, PEERS_TOPIC],
          // One RPC frame may carry several messages (an IWANT answer): room for a few full batches.
          maxInboundDataLength: 4 * MAX_BATCH_BYTES,
          // The envelope is self-authenticating: the same envelope is the same message whoever relays it.
          msgIdFn: (m) => blake3(m.data),
          // Copies of a message already seen are dropped before the StrictSign check (each node
          // gets a message from several mesh peers; the check of every copy was wasted).
          fastMsgIdFn: (m) => (m.data === undefined ? '' : hex(blake3(m.data))),
        }),
      },
    });
    const ps = this.libp2p.services.pubsub;
    ps.topicValidators.set(TOPIC, async (peer, msg) =>
      this.#validate(peer.toString(), msg.type === 'signed', msg.data),
    );
    ps.topicValidators.set(PEERS_TOPIC, (peer, msg) => this.#validateAnnouncement(peer.toString(), msg));
    ps.subscribe(TOPIC);
    this.libp2p.addEventListener('peer:discovery', (e) => this.#discovered(e.detail.id));
    await this.libp2p.handle(
      BUNDLE_PROTOCOL,
      (stream) => serveBundle(stream, this.bundles, this.config.limits.bundleBytes),
      STREAM_LIMITS,
    );
    await this.libp2p.handle(
      BUNDLES_PROTOCOL,
      (stream) => serveBundles(stream, this.bundles, this.config.limits.bundleBytes),
      STREAM_LIMITS,
    );
    await this.libp2p.handle(
      SYNC_PROTOCOL,
      (stream) => serveSync(stream, this.store, this.config.limits.syncItems),
      STREAM_LIMITS,
    );
    this.libp2p.addEventListener('peer:connect', (e) => void this.syncFrom(e.detail).catch(() => undefined));
    this.#timers.push(setInterval(() => this.#tick(), Math.max(200, Math.min(1000, this.config.quorum.expiryMs / 10))));
    this.#dialBootstrap();
  }

  /** Dials every bootstrap peer not connected; repeated from the tick, so a failed or lost dial heals. */
  #dialBootstrap(): void {
    for (const a of this.config.bootstrap) {
      const m = multiaddr(a);
      const peer = m.getComponents().find((c) => c.name === 'p2p')?.value;
      if (peer !== undefined && this.libp2p.getConnections(peerIdFromString(peer)).length > 0) continue;
      void this.libp2p.dial(m).catch(() => undefined);
    }
  }

  get peerId(): string {
    return this.key.peerId;
  }

  /** Publishes a claim for a bundle this node evaluated; returns the claim id. */
  async publish(bundle: Uint8Array): Promise<string> {
    const fields = claimFieldsOf(bundle);
    return this.#publishBody(claimBody({ ...fields, issuedAt: Date.now(), claimer: this.key.publicKey }), bundle);
  }

  /**
   * Stores `bundle` and publishes the body of a claim this node signed (`envelope`, any form; its
   * signer must be this node), in the next claim batch. The claim is not checked against the bundle
   * here: that is the replayers' job (a test's dishonest node uses this).
   */
  async publishSigned(envelope: Uint8Array, bundle: Uint8Array): Promise<string> {
    const s = unseal(envelope);
    if (s.kind !== CLAIM_KIND || !equalBytes(decodeBody(s.kind, s.body).signer, this.key.publicKey))
      throw new P2PError('DL_ERR_P2P_INTERNAL', 'publishSigned takes a claim signed by this node', {
        field: 'envelope',
      });
    return this.#publishBody(s.body, bundle);
  }

  async #publishBody(body: Uint8Array, bundle: Uint8Array): Promise<string> {
    if (body.length > MAX_BATCHED_BODY_BYTES)
      throw new P2PError('DL_ERR_P2P_TOO_LARGE', `claim of ${body.length} bytes is over the batch item limit`, {
        field: 'claim',
      });
    this.#storing++;
    try {
      await this.bundles.put(bundle);
    } finally {
      this.#storing--;
      this.#claimBatcher.nudge();
    }
    const r = await this.#claimBatcher.add(body);
    if (r.result === 'reject') throw new P2PError('DL_ERR_P2P_INTERNAL', `own claim rejected: ${r.message}`);
    return hex(blake3(body));
  }

  /** Signs a batch of this node's own messages, stores them and gossips the batch (the batchers' flush). */
  async #sendBatch(kind: MessageKind, all: Uint8Array[]): Promise<IngestResult[]> {
    // The same message twice (one bundle published twice in one millisecond) would make the batch
    // invalid, and every message in it with it: each goes in once and shares its result.
    const ids = all.map((b) => hex(blake3(b)));
    const unique = new Map(ids.map((id, i) => [id, all[i]!]));
    const bodies = [...unique.values()];
    const { batch } = await signBatch(this.key, kind, bodies);
    const r = await this.#ingestBatch(batch, 'self');
    if (r.overall.result !== 'reject' && !this.#stopping) {
      await this.libp2p.services.pubsub.publish(TOPIC, batch).catch(() => undefined);
      const label = { kind: kind === CLAIM_KIND ? 'claim' : 'verdict' };
      this.metrics.published.inc(label, bodies.length);
      this.metrics.batchItems.observe(label, bodies.length);
    }
    // A batch refused before its messages were read has no per-message results: each gets the batch's.
    const byId = new Map([...unique.keys()].map((id, i) => [id, r.items[i] ?? r.overall]));
    return ids.map((id) => byId.get(id)!);
  }

  async #validate(from: string, signed: boolean, data: Uint8Array): Promise<TopicValidatorResult> {
    if (!signed) {
      this.#penalize(from, PENALTY.invalidMessage, 'unsigned');
      return TopicValidatorResult.Reject;
    }
    const r = (await this.#ingestBatch(data, from)).overall;
    if (r.result === 'reject') return TopicValidatorResult.Reject;
    return r.result === 'accept' ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
  }

  /**
   * A peer announcement must be signed by the peer it announces (anyone may relay it, nobody may
   * speak for another peer), small, and within its sender's message budget.
   */
  #validateAnnouncement(from: string, msg: Message): TopicValidatorResult {
    if (msg.type !== 'signed' || msg.data.length > MAX_ANNOUNCEMENT_BYTES) {
      this.#penalize(from, PENALTY.invalidMessage, 'announcement');
      return TopicValidatorResult.Reject;
    }
    if (!this.peers.take(from)) return TopicValidatorResult.Ignore;
    if (announcesItsSigner(msg)) return TopicValidatorResult.Accept;
    this.#penalize(from, PENALTY.invalidMessage, 'announcement');
    return TopicValidatorResult.Reject;
  }

  /** Dials a peer learnt through peer exchange, up to `discovery.maxPeers` connections. */
  #discovered(peer: PeerId): void {
    if (this.#stopping || peer.equals(this.libp2p.peerId) || this.peers.banned(peer.toString())) return;
    if (this.libp2p.getConnections(peer).length > 0) return;
    if (this.libp2p.getPeers().length >= this.config.discovery.maxPeers) return;
    void this.libp2p.dial(peer, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch(() => undefined);
  }

  #penalize(peer: string, amount: number, reason: string): void {
    this.metrics.penalties.inc({ reason });
    if (peer === 'self' || peer === this.peerId) return;
    if (this.peers.penalize(peer, amount)) {
      this.metrics.disconnects.inc();
      let id: PeerId;
      try {
        id = peerIdFromString(peer);
      } catch {
        return; // not a libp2p peer (a test's label): nothing to hang up
      }
      void this.libp2p.hangUp(id).catch(() => undefined);
    }
  }

  /**
   * Checks and stores one envelope (signed alone, or a message of a batch) from sync, the orphan
   * pool or a test, and acts on it. `from` is the peer that sent it ('self' for our own).
   */
  async ingest(env: Uint8Array, from: string): Promise<IngestResult> {
    let o: Opened;
    try {
      const sealed = unseal(env);
      // A message already held is dropped before its signature is checked (gossip, sync and the
      // orphan pool all deliver duplicates): same body, same id, same message.
      if (this.#held(sealed.kind, sealed.idHex)) {
        this.metrics.messages.inc({ result: 'ignore', reason: 'duplicate' });
        return IGNORE;
      }
      o = await openSealed(sealed);
    } catch (e) {
      return this.#refuse(from, e);
    }
    let c = await this.#check(o, from);
    if (c.do === 'recheck') c = await this.#recheck(c);
    if (c.do === 'reject') return this.#rejected(from, c, 1);
    const [r] = this.#apply([c]);
    await this.#afterApply([c], [r!]);
    this.metrics.messages.inc({ result: r!.result, reason: o.kind });
    return r!;
  }

  /**
   * Checks and stores a batch from gossip (or this node's own, `from` = 'self'), all or nothing: any
   * invalid message refuses the whole batch and penalises its sender (docs/p2p.md, "Batches").
   * Messages already held are dropped by id before any signature check; the rate limit counts
   * messages, not batches.
   * @returns the batch's result (what gossip does with it) and each message's, in order
   */
  ingestBatch(data: Uint8Array, from: string): Promise<IngestResult> {
    return this.#ingestBatch(data, from).then((r) => r.overall);
  }

  async #ingestBatch(data: Uint8Array, from: string): Promise<{ overall: IngestResult; items: IngestResult[] }> {
    const all = (r: IngestResult, n: number): { overall: IngestResult; items: IngestResult[] } => ({
      overall: r,
      items: Array.from({ length: n }, () => r),
    });
    let batch: ReturnType<typeof decodeBatch>;
    try {
      batch = decodeBatch(data);
    } catch (e) {
      return all(this.#refuse(from, e), 0);
    }
    const n = batch.bodies.length;
    if (from !== 'self' && !this.peers.take(from, n)) {
      this.#penalize(from, PENALTY.rateLimited, 'rate');
      return all(IGNORE, n);
    }
    const fresh = batch.idHex.flatMap((id, i) => (this.#held(batch.kind, id) ? [] : [i]));
    if (fresh.length < n) this.metrics.messages.inc({ result: 'ignore', reason: 'duplicate' }, n - fresh.length);
    if (fresh.length === 0) return all(IGNORE, n);
    let opened: Opened[];
    try {
      opened = await openBatch(batch, fresh, from === 'self');
    } catch (e) {
      return all(this.#refuse(from, e, n), n);
    }
    // Fail closed: one bad message refuses the batch; nothing of it is stored. Every cheap check of
    // every message runs before any re-check replay, so a bad message costs the batch no replay.
    const checked: Checked[] = [];
    for (const o of opened) {
      const c = await this.#check(o, from);
      if (c.do === 'reject') return all(this.#rejected(from, c, n), n);
      checked.push(c);
    }
    for (let i = 0; i < checked.length; i++) {
      const c = checked[i]!;
      if (c.do !== 'recheck') continue;
      const r = await this.#recheck(c);
      if (r.do === 'reject') return all(this.#rejected(from, r, n), n);
      checked[i] = r;
    }
    const results = this.#apply(checked);
    await this.#afterApply(checked, results);
    const items: IngestResult[] = Array.from({ length: n }, () => IGNORE);
    fresh.forEach((i, j) => {
      items[i] = results[j]!;
      this.metrics.messages.inc({ result: results[j]!.result, reason: batch.kind });
    });
    // A batch with a message not judged here (a verdict before its claim, a re-check not run) is not
    // forwarded: what this node has not checked, it does not vouch for.
    const unchecked = checked.some((c) => c.do === 'hold' || c.do === 'skip');
    const overall: IngestResult =
      !unchecked && results.some((r) => r.result === 'accept') ? { result: 'accept' } : IGNORE;
    return { overall, items };
  }

  /** A message or batch that did not decode or verify: refused, its sender penalised. */
  #refuse(from: string, e: unknown, items = 1): IngestResult {
    const code = e instanceof DocklockError ? e.code : 'DL_ERR_P2P_MALFORMED';
    this.metrics.messages.inc({ result: 'reject', reason: code }, Math.max(1, items));
    this.#penalize(from, PENALTY.invalidMessage, code);
    return { result: 'reject', code, message: (e as Error).message };
  }

  #rejected(from: string, c: Extract<Checked, { do: 'reject' }>, items: number): IngestResult {
    this.metrics.messages.inc({ result: 'reject', reason: c.code }, items);
    if (c.alsoSigner !== undefined && c.alsoSigner !== from) this.#penalize(c.alsoSigner, c.penalty, c.code);
    this.#penalize(from, c.penalty, c.code);
    return { result: 'reject', code: c.code, message: c.message };
  }

  #held(kind: MessageKind, idHex: string): boolean {
    if (kind === CLAIM_KIND) return this.#claims.has(idHex) || this.store.has('claim', idHex);
    return this.#orphans.has(idHex) || this.store.has('verdict', idHex);
  }

  /** Checks a signed message against this node's state (claim known, proofs, re-check); stores nothing. */
  async #check(o: Opened, from: string): Promise<Checked> {
    if (o.kind === CLAIM_KIND) {
      const now = Date.now();
      if (o.claim.issuedAt > now + MAX_CLOCK_SKEW_MS)
        return {
          do: 'reject',
          code: 'DL_ERR_P2P_CLOCK',
          message: `claim issued ${o.claim.issuedAt - now} ms in the future`,
          penalty: PENALTY.invalidMessage,
        };
      return { do: 'claim', o, claimer: peerIdOf(o.claim.claimer) };
    }
    const v = o.verdict;
    const claimId = hex(v.claimId);
    const row = this.store.claimMeta(claimId);
    // Gossip may deliver a verdict before its claim: hold it (bounded in bytes) and do not forward it.
    if (row === undefined) return { do: 'hold', o, claimId };
    const c = this.#claims.get(claimId) ?? (await openEnvelope(this.store.claim(claimId)!.envelope));
    if (c.kind !== CLAIM_KIND) return { do: 'skip' };
    const reject = (code: string, message: string, penalty: number, alsoSigner?: string): Checked => ({
      do: 'reject',
      code,
      message,
      penalty,
      ...(alsoSigner !== undefined ? { alsoSigner } : {}),
    });
    if (equalBytes(v.replayer, c.claim.claimer))
      return reject('DL_ERR_P2P_SELF_VERDICT', 'a claimer cannot judge its own claim', PENALTY.invalidMessage);
    if (v.outcome === 'match' && !equalBytes(v.resultHash!, c.claim.resultHash))
      return reject('DL_ERR_P2P_SCHEMA', 'a match verdict must name the claimed result hash', PENALTY.invalidMessage);
    if (v.outcome === 'diverge') {
      try {
        checkDivergence(c.claim, c.id, v);
      } catch (e) {
        // An invalid proof penalises its sender (and, through gossip scoring, whoever relays it).
        return reject((e as P2PError).code, (e as Error).message, PENALTY.falseDivergence);
      }
      if (from !== 'self') return { do: 'recheck', o, claimId, claim: c.claim, claimer: row.claimer };
    }
    return { do: 'verdict', o, claimId };
  }

  /** This node's own judgement of a claim a diverging verdict disputes (docs/p2p.md, "Re-checking divergences"). */
  async #recheck(c: Extract<Checked, { do: 'recheck' }>): Promise<Checked> {
    const r = await this.#judges.recheck(c.claimId, c.claim, c.claimer);
    this.metrics.rechecks.inc({ ruling: r });
    if (r === 'busy') return { do: 'skip' };
    // The signer lied (or its engine is broken); whoever relayed it without checking shares the blame.
    if (r === 'overruled')
      return {
        do: 'reject',
        code: 'DL_ERR_P2P_DISPUTE_INVALID',
        message: `claim ${c.claimId} replays to a match on this node; the ${c.o.verdict.divergence!.kind} divergence is false`,
        penalty: PENALTY.falseDivergence,
        alsoSigner: peerIdOf(c.o.verdict.replayer),
      };
    return { do: 'verdict', o: c.o, claimId: c.claimId };
  }

  /**
   * Stores checked messages and the state changes they cause in ONE transaction (one WAL commit
   * per batch, not several per message).
   */
  #apply(checked: readonly Checked[]): IngestResult[] {
    const now = Date.now();
    return this.store.transaction(() =>
      checked.map((c): IngestResult => {
        if (c.do === 'claim') {
          const { o } = c;
          const added = this.store.addClaim({
            id: o.idHex,
            claimer: c.claimer,
            issuedAt: o.claim.issuedAt,
            receivedAt: now,
            envelope: o.envelope,
            bundleHash: hex(o.claim.bundleHash),
          });
          if (!added) return IGNORE;
          if (this.#claims.size >= 4096) this.#claims.clear();
          this.#claims.set(o.idHex, o);
          this.#updateState(o.idHex);
          return { result: 'accept' };
        }
        if (c.do === 'verdict') {
          const v = c.o.verdict;
          const added = this.store.addVerdict({
            id: c.o.idHex,
            claimId: c.claimId,
            replayer: peerIdOf(v.replayer),
            issuedAt: v.issuedAt,
            receivedAt: now,
            outcome: v.outcome,
            envelope: c.o.envelope,
          });
          if (!added) return IGNORE;
          this.#updateState(c.claimId);
          return { result: 'accept' };
        }
        if (c.do === 'hold') this.#orphans.hold(c.claimId, c.o.idHex, c.o.envelope);
        return IGNORE;
      }),
    );
  }

  /** What follows storing new claims: their held verdicts, and replays rendezvous hashing gives this node. */
  async #afterApply(checked: readonly Checked[], results: readonly IngestResult[]): Promise<void> {
    const mine: { claim: Claim; claimer: string }[] = [];
    for (let i = 0; i < checked.length; i++) {
      const c = checked[i]!;
      if (c.do !== 'claim' || results[i]!.result !== 'accept') continue;
      for (const v of this.#orphans.takeFor(c.o.idHex)) await this.ingest(v, 'orphan');
      if (this.#maybeReplay(c.o.idHex, c.o.id, c.o.claim, c.claimer, this.config.quorum.k))
        mine.push({ claim: c.o.claim, claimer: c.claimer });
    }
    if (mine.length > 1) this.#prefetch(mine);
  }

  /**
   * Fetches the bundles of the claims of one claimer this node is to replay in one stream
   * (`/docklock/bundles/1`) instead of a stream each (streams were a third of a claim's network cost
   * in the bench:p2p profile). Small bundles only, from a claimer already connected; a bundle the
   * prefetch does not bring is fetched by its replay as usual.
   */
  #prefetch(claims: readonly { claim: Claim; claimer: string }[]): void {
    const byClaimer = new Map<string, Claim[]>();
    for (const { claim, claimer } of claims) {
      const h = hex(claim.bundleHash);
      if (claim.bundleSize > PREFETCH_MAX_BUNDLE || this.#inflight.has(h) || this.bundles.has(h)) continue;
      byClaimer.set(claimer, [...(byClaimer.get(claimer) ?? []), claim]);
    }
    for (const [claimer, list] of byClaimer) {
      const peer = peerIdFromString(claimer);
      if (list.length < 2 || this.libp2p.getConnections(peer).length === 0) continue;
      const wants: Claim[] = [];
      let bytes = 0;
      for (const c of list) {
        if (wants.length === MAX_BUNDLES_PER_REQUEST || bytes + c.bundleSize > PREFETCH_MAX_BYTES) break;
        if (wants.some((w) => equalBytes(w.bundleHash, c.bundleHash))) continue;
        wants.push(c);
        bytes += c.bundleSize;
      }
      const all = this.#fetchMany(peer, wants);
      wants.forEach((c, i) => {
        const h = hex(c.bundleHash);
        const one = all.then((r) => r[i] ?? null);
        this.#inflight.set(h, one);
        void one.then(() => this.#inflight.delete(h));
      });
    }
  }

  /** One `/docklock/bundles/1` request; null for each bundle it did not bring. Never throws. */
  async #fetchMany(peer: PeerId, wants: readonly Claim[]): Promise<(Uint8Array | null)[]> {
    try {
      const stream = await this.libp2p.dialProtocol(peer, BUNDLES_PROTOCOL, {
        signal: AbortSignal.timeout(DIAL_TIMEOUT_MS),
        negotiateFully: false,
      });
      this.metrics.bundleStreams.inc({ protocol: 'bundles' });
      const got = await fetchBundlesOver(
        stream,
        wants.map((c) => ({ hash: c.bundleHash, size: c.bundleSize })),
        this.config.limits.bundleBytes,
      );
      const out: (Uint8Array | null)[] = [];
      for (let i = 0; i < got.length; i++) {
        const g = got[i]!;
        if (g instanceof P2PError) out.push(null);
        else {
          this.metrics.bundleBytes.inc(g.length);
          await this.bundles.putHashed(hex(wants[i]!.bundleHash), g);
          out.push(g);
        }
      }
      return out;
    } catch (e) {
      if (e instanceof P2PError && e.code === 'DL_ERR_P2P_BUNDLE_HASH')
        this.#penalize(peer.toString(), PENALTY.junkBundle, e.code);
      return wants.map(() => null);
    }
  }

  #updateState(claimId: string): ClaimState | undefined {
    const row = this.store.claimMeta(claimId);
    if (row === undefined) return undefined;
    const vs = this.store.verdictFacts(claimId);
    const s = claimState(row, vs, this.config.quorum.k, this.config.quorum.expiryMs, Date.now());
    if (s.state !== row.state) {
      this.store.setState(claimId, s.state, Date.now(), s.disputedBy);
      this.metrics.transitions.inc({ state: s.state });
      if (s.state === 'confirmed') this.metrics.confirmSeconds.observe((Date.now() - row.issuedAt) / 1000);
      this.events.emit('state', claimId, s.state);
    }
    return s.state;
  }

  /** Candidates for replaying a claim: this node and the peers on the topic, minus the claimer. */
  #candidates(claimer: string): string[] {
    const subs = this.libp2p.services.pubsub.getSubscribers(TOPIC).map((p) => p.toString());
    return [this.peerId, ...subs].filter((p) => p !== claimer && !this.peers.banned(p));
  }

  /** Queues a replay if rendezvous hashing gives this claim to this node; true when queued. */
  #maybeReplay(idHex: string, id: Uint8Array, claim: Claim, claimer: string, rankLimit: number): boolean {
    if (this.#stopping || claimer === this.peerId || this.#replayed.has(idHex)) return false;
    if (this.#served !== null && !this.#served.has(hex(claim.moduleHash))) return false;
    if (this.store.claimMeta(idHex)?.state !== 'pending') return false;
    if (!rankReplayers(id, this.#candidates(claimer)).slice(0, rankLimit).includes(this.peerId)) return false;
    // Bounded: forgetting a claim only allows a second replay if it is somehow still pending.
    if (this.#replayed.size >= 100_000) this.#replayed.clear();
    this.#replayed.add(idHex);
    if (!this.#queue.push(() => this.#replay(idHex, id, claim, claimer), claim.bundleSize, claimer)) {
      this.#replayed.delete(idHex);
      this.metrics.replays.inc({ outcome: 'queue_full' });
      return false;
    }
    return true;
  }

  async #replay(idHex: string, id: Uint8Array, claim: Claim, claimer: string): Promise<void> {
    if (this.#stopping || this.store.claimMeta(idHex)?.state !== 'pending') return;
    // A match issued after the claim's quorum window counts for nothing: the replay is dropped when
    // its turn comes after that, and stopped there if it runs past it (docs/p2p.md, "Replay queue and fairness").
    const deadline = claim.issuedAt + this.config.quorum.expiryMs;
    if (Date.now() >= deadline) {
      this.metrics.replays.inc({ outcome: 'expired' });
      return;
    }
    const j = await this.#judges.judge(idHex, claim, claimer, deadline);
    if (j === 'no_bundle') {
      this.#replayed.delete(idHex); // no bundle yet: the fallback may try again
      return;
    }
    if (j === 'expired' || 'abstain' in j) return;
    const body = verdictBody({ ...j, issuedAt: Date.now(), claimId: id, replayer: this.key.publicKey });
    // Not awaited: the replay slot is free for the next job while the verdict waits for its batch.
    void this.#track(this.#verdictBatcher.add(body)).catch(() => undefined);
  }

  /** Counts a batch (or a verdict waiting for one) as in flight until it settles: idle() and stop() wait for it. */
  #track<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.#sending.add(settled);
    void settled.then(() => this.#sending.delete(settled));
    return p;
  }

  /**
   * A bundle by hash: from the local store, else from the claimer, else from other peers; each
   * fetched copy is hash-checked before it is kept, and a peer sending junk is penalised.
   */
  async fetchBundle(hash: Uint8Array, size: number, prefer?: string): Promise<Uint8Array> {
    const h = hex(hash);
    const prefetched = await this.#inflight.get(h);
    if (prefetched != null) return prefetched;
    if (this.bundles.has(h)) return this.bundles.read(h);
    // As many fetches at once as before replays overlapped (a peer serves 8 streams of a protocol at once).
    return this.#fetchSlots.run(() =>
      this.bundles.has(h) ? Promise.resolve(this.bundles.read(h)) : this.#fetchFrom(h, hash, size, prefer),
    );
  }

  async #fetchFrom(h: string, hash: Uint8Array, size: number, prefer?: string): Promise<Uint8Array> {
    if (size > this.config.limits.bundleBytes)
      throw new P2PError('DL_ERR_P2P_BUNDLE_TOO_LARGE', `bundle ${h} has ${size} bytes, over limits.bundleBytes`, {
        field: 'bundle',
      });
    const order = [
      ...new Set([...(prefer !== undefined ? [prefer] : []), ...this.libp2p.getPeers().map((p) => p.toString())]),
    ];
    let last: unknown = new P2PError('DL_ERR_P2P_BUNDLE_NOT_FOUND', `no connected peer holds bundle ${h}`, {
      field: 'bundle',
    });
    for (const peer of order) {
      if (peer === this.peerId) continue;
      try {
        // negotiateFully false: the protocol name travels with the request (one round trip less).
        const stream = await this.libp2p.dialProtocol(peerIdFromString(peer), BUNDLE_PROTOCOL, {
          signal: AbortSignal.timeout(DIAL_TIMEOUT_MS),
          negotiateFully: false,
        });
        this.metrics.bundleStreams.inc({ protocol: 'bundle' });
        const bytes = await fetchBundleOver(stream, hash, this.config.limits.bundleBytes, size);
        this.metrics.bundleBytes.inc(bytes.length);
        await this.bundles.putHashed(h, bytes);
        return bytes;
      } catch (e) {
        last = e;
        if (e instanceof P2PError && e.code === 'DL_ERR_P2P_BUNDLE_HASH')
          this.#penalize(peer, PENALTY.junkBundle, e.code);
      }
    }
    throw last;
  }

  /** Asks one peer for the claims and verdicts this node may have missed. */
  async syncFrom(peer: PeerId): Promise<number> {
    const newest = this.store.claims(1)[0]?.issuedAt;
    const from = newest === undefined ? 0 : Math.max(0, Math.min(newest, Date.now()) - 2 * this.config.quorum.expiryMs);
    const stream = await this.libp2p.dialProtocol(peer, SYNC_PROTOCOL, {
      signal: AbortSignal.timeout(DIAL_TIMEOUT_MS),
    });
    const n = await requestSync(
      stream,
      { from, to: Date.now() + MAX_CLOCK_SKEW_MS, limit: this.config.limits.syncItems },
      this.config.limits.syncItems,
      async (env) => {
        await this.ingest(env, peer.toString());
      },
    );
    this.metrics.synced.inc(n);
    return n;
  }

  #tick(): void {
    const now = Date.now();
    if (now - this.#lastBootstrap > 5_000) {
      this.#lastBootstrap = now;
      this.#dialBootstrap();
    }
    const expiring = this.store.pendingIssuedBefore(now - this.config.quorum.expiryMs);
    if (expiring.length > 0) this.store.transaction(() => expiring.forEach((id) => this.#updateState(id)));
    // Fallback: a claim still pending halfway to expiry widens its replayer set to 2k, in case some of the first k are gone.
    for (const id of this.store.pendingIssuedBefore(now - this.config.quorum.expiryMs / 2)) {
      if (this.#replayed.has(id)) continue;
      const row = this.store.claim(id)!;
      const cached = this.#claims.get(id);
      void (cached !== undefined ? Promise.resolve(cached) : openEnvelope(row.envelope)).then((o) => {
        if (o.kind === CLAIM_KIND) this.#maybeReplay(id, o.id, o.claim, row.claimer, 2 * this.config.quorum.k);
      });
    }
  }

  /** The dispute file of a disputed claim (claim, the first valid divergence, the bundle if it proves the point). */
  async dispute(claimId: string): Promise<Uint8Array | undefined> {
    const row = this.store.claim(claimId);
    if (row === undefined || row.disputedBy === null) return undefined;
    const v = this.store.verdict(row.disputedBy);
    if (v === undefined) return undefined;
    const o = await openEnvelope(v.envelope);
    const proves = o.kind !== CLAIM_KIND && o.verdict.divergence?.kind === 'bundle';
    let bundle: Uint8Array | null = null;
    if (proves) {
      // A node that did not replay the claim fetches its bundle now: only the bundle proves a `bundle` divergence.
      const c = this.#claims.get(claimId) ?? (await openEnvelope(row.envelope));
      if (c.kind === CLAIM_KIND)
        bundle = await this.fetchBundle(c.claim.bundleHash, c.claim.bundleSize, row.claimer).catch(() => null);
    }
    return encodeDispute(row.envelope, v.envelope, bundle);
  }

  /** Envelope bytes held for verdicts whose claim has not arrived (never over {@link MAX_ORPHAN_BYTES}). */
  get orphanBytes(): number {
    return this.#orphans.bytes;
  }

  replayLoad(): { running: number; waiting: number } {
    return { running: this.#queue.running, waiting: this.#queue.waiting };
  }

  /** Resolves when no replay runs or waits and their verdicts are sent (tests and benchmarks). */
  async idle(): Promise<void> {
    await this.#queue.idle();
    while (this.#sending.size > 0) await Promise.all([...this.#sending]);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    this.#claimBatcher.close();
    await this.libp2p.stop();
    await this.#queue.idle();
    this.#verdictBatcher.close();
    // Batches in flight store what they carry before the store closes (none is gossiped now).
    while (this.#sending.size > 0) await Promise.all([...this.#sending]);
    await this.#pool.close();
    this.store.close();
  }
}

/** BLAKE3 of a challenge folder's module (the `module:` of its challenge.yaml). */
function challengeModuleHash(dir: string): string {
  try {
    const y = parse(readFileSync(join(dir, 'challenge.yaml'), 'utf8')) as { module?: unknown };
    if (typeof y.module !== 'string') throw new Error('challenge.yaml names no module');
    return hex(blake3(new Uint8Array(readFileSync(join(dir, y.module)))));
  } catch (e) {
    throw new P2PError('DL_ERR_P2P_CONFIG', `challenge folder ${dir}: ${(e as Error).message}`, {
      field: 'challenges',
    });
  }
}

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
import { BUNDLE_PROTOCOL, fetchBundleOver, serveBundle } from './bundle-protocol.ts';
import { BundleStore } from './bundles.ts';
import type { NodeConfig } from './config.ts';
import { checkDivergence, encodeDispute } from './dispute.ts';
import { P2PError } from './errors.ts';
import { peerIdOf, type NodeKey } from './keys.ts';
import {
  CLAIM_KIND,
  MAX_MESSAGE_BYTES,
  openEnvelope,
  openSealed,
  unseal,
  signClaim,
  signVerdict,
  type Claim,
  type Opened,
  type Sealed,
} from './messages.ts';
import { Judges } from './judges.ts';
import { NodeMetrics } from './metrics.ts';
import { OrphanVerdicts } from './orphans.ts';
import { announcesItsSigner, MAX_ANNOUNCEMENT_BYTES, PEERS_TOPIC } from './peer-exchange.ts';
import { PeerBook, PENALTY } from './peers.ts';
import { claimState } from './quorum.ts';
import { rankReplayers } from './rendezvous.ts';
import { ReplayQueue } from './replay-queue.ts';
import { ReplayPool } from './replay-pool.ts';
import { Store, type ClaimState } from './store.ts';
import { DIAL_TIMEOUT_MS, STREAM_LIMITS } from './stream-protocol.ts';
import { requestSync, serveSync, SYNC_PROTOCOL } from './sync-protocol.ts';
import { equalBytes, hex } from './wire.ts';

/** The gossip topic of claims and verdicts (version in the name: another version is another network). */
export const TOPIC = 'docklock/claims/1';
export { PEERS_TOPIC } from './peer-exchange.ts';
/** Claims issued further than this in the future are rejected (clock skew allowance). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Verdicts held for claims not yet seen, in envelope bytes (4 MiB: hundreds of claims' worth of verdicts). */
export const MAX_ORPHAN_BYTES = 4 * 2 ** 20;

type Services = { identify: Identify; ping: Ping; pubsub: GossipSub };
export type IngestResult = { result: 'accept' | 'ignore' } | { result: 'reject'; code: string; message: string };

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
  #stopping = false;
  #lastBootstrap = Date.now();

  private constructor(config: NodeConfig, key: NodeKey) {
    this.config = config;
    this.key = key;
    this.store = new Store(config.dataDir);
    this.bundles = new BundleStore(config.dataDir);
    this.peers = new PeerBook(this.store, config.limits.messagesPerSecond, config.limits.burst);
    this.#queue = new ReplayQueue(config.replay.concurrency, config.replay.queue);
    this.#pool = new ReplayPool(config.replay.concurrency);
    this.#judges = new Judges({
      fetch: (claim, claimer) => this.fetchBundle(claim.bundleHash, claim.bundleSize, claimer),
      replay: this.#pool.replay,
      queue: this.#queue,
      metrics: this.metrics,
    });
    this.#served = config.challenges.length === 0 ? null : new Set(config.challenges.map(challengeModuleHash));
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
      connectionEncrypters: [noise()],
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
          maxInboundDataLength: MAX_MESSAGE_BYTES,
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
    return this.publishSigned(await signClaim(this.key, { ...fields, issuedAt: Date.now() }), bundle);
  }

  /**
   * Stores `bundle`, ingests a signed claim envelope as this node's own and gossips it. The claim is
   * not checked against the bundle here: that is the replayers' job (a test's dishonest node uses this).
   */
  async publishSigned(envelope: Uint8Array, bundle: Uint8Array): Promise<string> {
    await this.bundles.put(bundle);
    const r = await this.ingest(envelope, 'self');
    if (r.result === 'reject') throw new P2PError('DL_ERR_P2P_INTERNAL', `own claim rejected: ${r.message}`);
    await this.libp2p.services.pubsub.publish(TOPIC, envelope);
    this.metrics.published.inc({ kind: 'claim' });
    return hex(blake3((await openEnvelope(envelope)).body));
  }

  async #validate(from: string, signed: boolean, data: Uint8Array): Promise<TopicValidatorResult> {
    if (!signed) {
      this.#penalize(from, PENALTY.invalidMessage, 'unsigned');
      return TopicValidatorResult.Reject;
    }
    if (!this.peers.take(from)) {
      this.#penalize(from, PENALTY.rateLimited, 'rate');
      return TopicValidatorResult.Ignore;
    }
    const r = await this.ingest(data, from);
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
   * Checks and stores one envelope from gossip, sync or this node, and acts on it.
   * `from` is the peer that sent it ('self' for our own).
   */
  ingest(env: Uint8Array, from: string): Promise<IngestResult> {
    return this.#ingest(env, from, false);
  }

  async #ingest(env: Uint8Array, from: string, signedHere: boolean): Promise<IngestResult> {
    let o: Opened;
    try {
      const sealed = unseal(env);
      // A message already held is dropped before its signature is checked (gossip, sync and the
      // orphan pool all deliver duplicates): same body, same id, same message.
      if (this.#held(sealed)) {
        this.metrics.messages.inc({ result: 'ignore', reason: 'duplicate' });
        return { result: 'ignore' };
      }
      o = await openSealed(sealed, signedHere);
    } catch (e) {
      const code = e instanceof DocklockError ? e.code : 'DL_ERR_P2P_MALFORMED';
      this.metrics.messages.inc({ result: 'reject', reason: code });
      this.#penalize(from, PENALTY.invalidMessage, code);
      return { result: 'reject', code, message: (e as Error).message };
    }
    const r = o.kind === CLAIM_KIND ? await this.#ingestClaim(o, from) : await this.#ingestVerdict(o, from);
    this.metrics.messages.inc({ result: r.result, reason: r.result === 'reject' ? r.code : o.kind });
    return r;
  }

  #held(s: Sealed): boolean {
    if (s.kind === CLAIM_KIND) return this.#claims.has(s.idHex) || this.store.has('claim', s.idHex);
    return this.#orphans.has(s.idHex) || this.store.has('verdict', s.idHex);
  }

  async #ingestClaim(o: Extract<Opened, { kind: 'docklock/claim' }>, from: string): Promise<IngestResult> {
    const now = Date.now();
    if (o.claim.issuedAt > now + MAX_CLOCK_SKEW_MS) {
      this.#penalize(from, PENALTY.invalidMessage, 'DL_ERR_P2P_CLOCK');
      return {
        result: 'reject',
        code: 'DL_ERR_P2P_CLOCK',
        message: `claim issued ${o.claim.issuedAt - now} ms in the future`,
      };
    }
    const claimer = peerIdOf(o.claim.claimer);
    if (
      !this.store.addClaim({
        id: o.idHex,
        claimer,
        issuedAt: o.claim.issuedAt,
        receivedAt: now,
        envelope: o.envelope,
        bundleHash: hex(o.claim.bundleHash),
      })
    )
      return { result: 'ignore' };
    if (this.#claims.size >= 4096) this.#claims.clear();
    this.#claims.set(o.idHex, o);
    for (const v of this.#orphans.takeFor(o.idHex)) await this.ingest(v, 'orphan');
    this.#updateState(o.idHex);
    this.#maybeReplay(o.idHex, o.id, o.claim, claimer, this.config.quorum.k);
    return { result: 'accept' };
  }

  async #ingestVerdict(o: Extract<Opened, { kind: 'docklock/verdict' }>, from: string): Promise<IngestResult> {
    const v = o.verdict;
    const claimIdHex = hex(v.claimId);
    const row = this.store.claimMeta(claimIdHex);
    if (row === undefined) {
      // Gossip may deliver a verdict before its claim: hold it (bounded in bytes) and do not forward it.
      this.#orphans.hold(claimIdHex, o.idHex, o.envelope);
      return { result: 'ignore' };
    }
    const c = this.#claims.get(claimIdHex) ?? (await openEnvelope(this.store.claim(claimIdHex)!.envelope));
    if (c.kind !== CLAIM_KIND) return { result: 'ignore' };
    const reject = (code: string, message: string, penalty: number): IngestResult => {
      this.#penalize(from, penalty, code);
      return { result: 'reject', code, message };
    };
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
      if (from !== 'self') {
        const r = await this.#judges.recheck(claimIdHex, c.claim, row.claimer);
        this.metrics.rechecks.inc({ ruling: r });
        if (r === 'busy') return { result: 'ignore' };
        if (r === 'overruled') {
          // The signer lied (or its engine is broken); whoever relayed it without checking shares the blame.
          const signer = peerIdOf(v.replayer);
          if (signer !== from) this.#penalize(signer, PENALTY.falseDivergence, 'DL_ERR_P2P_DISPUTE_INVALID');
          return reject(
            'DL_ERR_P2P_DISPUTE_INVALID',
            `claim ${claimIdHex} replays to a match on this node; the ${v.divergence!.kind} divergence is false`,
            PENALTY.falseDivergence,
          );
        }
      }
    }
    const stored = {
      id: o.idHex,
      claimId: claimIdHex,
      replayer: peerIdOf(v.replayer),
      issuedAt: v.issuedAt,
      receivedAt: Date.now(),
      outcome: v.outcome,
      envelope: o.envelope,
    };
    // The verdict and the state change it causes commit together (one WAL commit, not two).
    const added = this.store.transaction(() => {
      if (!this.store.addVerdict(stored)) return false;
      this.#updateState(claimIdHex);
      return true;
    });
    return { result: added ? 'accept' : 'ignore' };
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

  #maybeReplay(idHex: string, id: Uint8Array, claim: Claim, claimer: string, rankLimit: number): void {
    if (this.#stopping || claimer === this.peerId || this.#replayed.has(idHex)) return;
    if (this.#served !== null && !this.#served.has(hex(claim.moduleHash))) return;
    if (this.store.claimMeta(idHex)?.state !== 'pending') return;
    if (!rankReplayers(id, this.#candidates(claimer)).slice(0, rankLimit).includes(this.peerId)) return;
    // Bounded: forgetting a claim only allows a second replay if it is somehow still pending.
    if (this.#replayed.size >= 100_000) this.#replayed.clear();
    this.#replayed.add(idHex);
    if (!this.#queue.push(() => this.#replay(idHex, id, claim, claimer))) {
      this.#replayed.delete(idHex);
      this.metrics.replays.inc({ outcome: 'queue_full' });
    }
  }

  async #replay(idHex: string, id: Uint8Array, claim: Claim, claimer: string): Promise<void> {
    if (this.#stopping || this.store.claimMeta(idHex)?.state !== 'pending') return;
    const j = await this.#judges.judge(idHex, claim, claimer);
    if (j === null) {
      this.#replayed.delete(idHex); // no bundle yet: the fallback may try again
      return;
    }
    if ('abstain' in j) return;
    const env = await signVerdict(this.key, { ...j, issuedAt: Date.now(), claimId: id });
    await this.#ingest(env, 'self', true);
    if (!this.#stopping) await this.libp2p.services.pubsub.publish(TOPIC, env).catch(() => undefined);
    this.metrics.published.inc({ kind: 'verdict' });
  }

  /**
   * A bundle by hash: from the local store, else from the claimer, else from other peers; each
   * fetched copy is hash-checked before it is kept, and a peer sending junk is penalised.
   */
  async fetchBundle(hash: Uint8Array, size: number, prefer?: string): Promise<Uint8Array> {
    const h = hex(hash);
    if (this.bundles.has(h)) return this.bundles.read(h);
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

  /** Resolves when no replay runs or waits (tests and benchmarks). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    await this.libp2p.stop();
    await this.#queue.idle();
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

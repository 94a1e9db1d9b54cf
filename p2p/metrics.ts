/** The node's Prometheus metrics (`GET /metrics`), in its own registry. */
import { Counter, Histogram, Registry } from 'prom-client';

export class NodeMetrics {
  readonly registry = new Registry();
  readonly messages = new Counter({
    name: 'docklock_p2p_messages_total',
    help: 'Claims and verdicts received, by result (accept, ignore, reject) and reason',
    labelNames: ['result', 'reason'],
    registers: [this.registry],
  });
  readonly published = new Counter({
    name: 'docklock_p2p_published_total',
    help: 'Messages this node published, by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly transitions = new Counter({
    name: 'docklock_p2p_claim_transitions_total',
    help: 'Claim state changes, by new state',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly replays = new Counter({
    name: 'docklock_p2p_replays_total',
    help: 'Replays, by outcome (match, diverge, abstain, no_bundle, queue_full, expired)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly rechecks = new Counter({
    name: 'docklock_p2p_rechecks_total',
    help: "Other nodes' divergences re-checked against this node's own judgement, by ruling (upheld, overruled, unchecked, busy)",
    labelNames: ['ruling'],
    registers: [this.registry],
  });
  readonly penalties = new Counter({
    name: 'docklock_p2p_penalties_total',
    help: 'Peer penalties, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly disconnects = new Counter({
    name: 'docklock_p2p_disconnects_total',
    help: 'Peers disconnected for their score',
    registers: [this.registry],
  });
  readonly bundleBytes = new Counter({
    name: 'docklock_p2p_bundle_bytes_total',
    help: 'Bundle bytes fetched and hash-checked',
    registers: [this.registry],
  });
  readonly bundleStreams = new Counter({
    name: 'docklock_p2p_bundle_streams_total',
    help: 'Bundle fetch streams opened, by protocol (bundle: one bundle, bundles: several ahead of their replays)',
    labelNames: ['protocol'],
    registers: [this.registry],
  });
  readonly synced = new Counter({
    name: 'docklock_p2p_sync_items_total',
    help: 'Envelopes received through catch-up',
    registers: [this.registry],
  });
  readonly replaySeconds = new Histogram({
    name: 'docklock_p2p_replay_seconds',
    help: 'Bundle fetch plus replay time',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly batchItems = new Histogram({
    name: 'docklock_p2p_batch_items',
    help: 'Messages per batch this node published, by kind',
    labelNames: ['kind'],
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly confirmSeconds = new Histogram({
    name: 'docklock_p2p_confirm_seconds',
    help: 'Claim issue to confirmed on this node',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
}

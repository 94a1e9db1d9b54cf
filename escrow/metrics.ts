/**
 * The escrow's Prometheus metrics (prom-client, its own registry): every audited action by kind,
 * the gate's decisions by outcome, how long a commit takes (apply + record, one transaction), and
 * at each scrape the escrows in each status. The same events the audit log records, counted.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EscrowStatus } from './book.ts';

export class EscrowMetrics {
  readonly registry = new Registry();
  readonly events: Counter<'action'>;
  readonly decisions: Counter<'outcome'>;
  readonly commitSeconds: Histogram;

  constructor(countByStatus: () => Record<EscrowStatus, number>) {
    const registers = [this.registry];
    this.events = new Counter({
      name: 'docklock_escrow_events_total',
      help: 'Audited escrow actions (open, verdict, decide, commit, conflict, rebase, hold, revert, expire)',
      labelNames: ['action'],
      registers,
    });
    this.decisions = new Counter({
      name: 'docklock_escrow_gate_decisions_total',
      help: "The gate's decisions by outcome (commit, revert, hold; wait is not counted)",
      labelNames: ['outcome'],
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'docklock_escrow_commit_seconds',
      help: 'Time from a commit being asked for to its write set applied and recorded (one SQLite transaction, shared by the commits in flight)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    });
    new Gauge({
      name: 'docklock_escrow_escrows',
      help: 'Escrows by status, read at scrape time',
      labelNames: ['status'],
      registers,
      collect() {
        for (const [status, n] of Object.entries(countByStatus())) this.set({ status }, n);
      },
    });
  }
}

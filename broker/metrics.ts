/**
 * Prometheus metrics (prom-client) on a registry of the app's own, so several broker apps in one
 * process (tests) never collide on the global registry.
 */
import { Counter, Histogram, Registry } from 'prom-client';

/** The broker's metrics. */
export interface BrokerMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  decisions: Counter<'decision'>;
  deploySeconds: Histogram;
}

/** Creates the metrics on a fresh registry. */
export function createMetrics(): BrokerMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({
      name: 'docklock_broker_requests_total',
      help: 'API requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    decisions: new Counter({
      name: 'docklock_broker_decisions_total',
      help: 'Audited decisions',
      labelNames: ['decision'],
      registers: [registry],
    }),
    deploySeconds: new Histogram({
      name: 'docklock_broker_deploy_seconds',
      help: 'Deploy-to-running time',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
  };
}

/**
 * The breaker's Prometheus metrics, registered on the broker's own registry (served at
 * `GET /metrics`).
 */
import { Counter, Gauge, Registry } from 'prom-client';

/** The breaker's metrics. */
export interface BreakerMetrics {
  trips: Counter<'rule'>;
  actions: Counter<'rule' | 'action'>;
  failures: Counter<'rule' | 'action'>;
  suppressed: Counter<'rule' | 'reason'>;
  signal: Gauge<'owner' | 'service' | 'signal'>;
  watched: Gauge;
  sampleErrors: Counter;
}

/**
 * Creates the breaker's metrics.
 * @param registry - the broker's registry (a fresh one when omitted)
 */
export function createBreakerMetrics(registry: Registry = new Registry()): BreakerMetrics {
  const registers = [registry];
  return {
    trips: new Counter({
      name: 'docklock_breaker_trips_total',
      help: 'Rule trips (condition held for its duration)',
      labelNames: ['rule'],
      registers,
    }),
    actions: new Counter({
      name: 'docklock_breaker_actions_total',
      help: 'Actions taken by rule and kind',
      labelNames: ['rule', 'action'],
      registers,
    }),
    failures: new Counter({
      name: 'docklock_breaker_action_failures_total',
      help: 'Actions attempted that Docker refused',
      labelNames: ['rule', 'action'],
      registers,
    }),
    suppressed: new Counter({
      name: 'docklock_breaker_suppressed_total',
      help: 'Trips not acted on, by reason (grace, cooldown, caps, monitor, not_owned)',
      labelNames: ['rule', 'reason'],
      registers,
    }),
    signal: new Gauge({
      name: 'docklock_breaker_signal',
      help: 'Current signal values per watched service',
      labelNames: ['owner', 'service', 'signal'],
      registers,
    }),
    watched: new Gauge({
      name: 'docklock_breaker_services_watched',
      help: 'Running broker-owned services being sampled',
      registers,
    }),
    sampleErrors: new Counter({
      name: 'docklock_breaker_sample_errors_total',
      help: 'Samples that could not be read',
      registers,
    }),
  };
}

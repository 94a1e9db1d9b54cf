/**
 * Wires a circuit breaker to the real world: Docker for the inventory and the stats fallback,
 * the host's cgroup filesystem, and the broker's ServiceManager for actions.
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Registry } from 'prom-client';
import type { ServiceManager } from '../services.ts';
import { CircuitBreaker } from './breaker.ts';
import type { AuditSink } from './breaker.ts';
import type { BreakerConfig } from './config.ts';
import { createBreakerMetrics } from './metrics.ts';
import { DockerInventory, HostSignalSource, ServiceActuator, hostCores } from './sources.ts';

/**
 * Builds (does not start) the broker's circuit breaker.
 * @param opts - the breaker config, the broker's instance id, Docker client, service manager, audit log and metrics registry
 * @returns the breaker; call `start()` once the broker listens and `stop()` before it closes
 * @example
 * const breaker = createCircuitBreaker({ config: config.breaker, instance: config.instance, docker, services, audit, registry: metrics.registry });
 * breaker.start();
 */
export function createCircuitBreaker(opts: {
  config: BreakerConfig;
  instance: string;
  docker: Docker;
  services: Pick<ServiceManager, 'enforce'>;
  audit: AuditSink;
  registry: Registry;
  now?: () => number;
}): CircuitBreaker {
  const now = opts.now ?? Date.now;
  const openStats = async (id: string): Promise<Readable> =>
    (await opts.docker.getContainer(id).stats({ stream: true })) as unknown as Readable;
  return new CircuitBreaker({
    config: opts.config,
    inventory: new DockerInventory(opts.docker, now, opts.instance),
    source: new HostSignalSource({ kind: opts.config.source, cgroupRoot: opts.config.cgroupRoot, openStats, now }),
    actuator: new ServiceActuator(opts.services),
    audit: opts.audit,
    metrics: createBreakerMetrics(opts.registry),
    now,
    hostCores: hostCores(),
  });
}

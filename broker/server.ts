/**
 * Binds the broker to its Unix socket and wires its parts together: config → Docker (version
 * negotiated) → audit log → reconcile → app → listen. The socket is mode 0660: access to it is
 * the first gate, the bearer token the second.
 */
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildBrokerApp } from './app.ts';
import { AuditLog } from './audit.ts';
import type { CircuitBreaker } from './breaker/breaker.ts';
import { createCircuitBreaker } from './breaker/create.ts';
import type { BrokerConfig } from './config.ts';
import { connectDocker } from './docker.ts';
import { createMetrics } from './metrics.ts';
import { reconcile } from './reconcile.ts';
import type { ReconcileReport } from './reconcile.ts';
import { ServiceManager } from './services.ts';

/** A running broker. */
export interface RunningBroker {
  config: BrokerConfig;
  app: FastifyInstance;
  audit: AuditLog;
  reconcile: ReconcileReport;
  apiVersion: string;
  socket: string;
  /** The circuit breaker, when `breaker.enabled`. */
  breaker: CircuitBreaker | undefined;
  /** Stops listening, flushes and closes the audit log. */
  close(): Promise<void>;
}

/**
 * Starts the broker from a validated config.
 * @param config - the broker configuration
 * @returns the running broker
 * @throws {BrokerError} when Docker is unreachable, the audit log does not verify, or the socket cannot be bound
 * @example
 * const broker = await startBroker(loadBrokerConfig('broker.yaml'));
 */
export async function startBroker(config: BrokerConfig): Promise<RunningBroker> {
  const { docker, apiVersion } = await connectDocker(config.dockerSocket);
  const audit = await AuditLog.open(config.auditPath);
  try {
    await audit.append({
      action: 'broker.start',
      principal: null,
      decision: 'info',
      reason: `docker api ${apiVersion}`,
    });
    const report = await reconcile(docker, config, audit);
    const services = new ServiceManager(docker, apiVersion, config, audit);
    const metrics = createMetrics();
    const breaker = config.breaker.enabled
      ? createCircuitBreaker({
          config: config.breaker,
          instance: config.instance,
          docker,
          services,
          audit,
          registry: metrics.registry,
        })
      : undefined;
    if (breaker !== undefined) {
      breaker.restore(await audit.entries());
      services.setStartGate(breaker);
    }
    const app = await buildBrokerApp({
      config,
      services,
      audit,
      metrics,
      ...(breaker !== undefined ? { breaker } : {}),
    });
    mkdirSync(dirname(config.socket), { recursive: true, mode: 0o750 });
    try {
      // A stale socket from a crashed run would make listen fail; only ever remove a socket.
      if (statSync(config.socket).isSocket()) rmSync(config.socket);
    } catch {
      // absent
    }
    // umask closes the window between bind and chmod in which the socket would be world-writable.
    const oldMask = process.umask(0o117);
    try {
      await app.listen({ path: config.socket });
    } finally {
      process.umask(oldMask);
    }
    chmodSync(config.socket, 0o660);
    if (breaker !== undefined) {
      await audit.append({
        action: 'breaker.start',
        principal: null,
        decision: 'info',
        reason: `${config.breaker.mode} mode, ${config.breaker.rules.length} rules, interval ${config.breaker.intervalMs} ms`,
      });
      breaker.start();
    }
    return {
      config,
      app,
      audit,
      reconcile: report,
      apiVersion,
      socket: config.socket,
      breaker,
      async close() {
        await breaker?.stop();
        await app.close();
        await audit.append({ action: 'broker.stop', principal: null, decision: 'info' }).catch(() => undefined);
        await audit.close();
      },
    };
  } catch (err) {
    await audit.close();
    throw err;
  }
}

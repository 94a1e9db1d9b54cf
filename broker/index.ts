/**
 * Public surface of the broker: the app builder, the server starter, configuration, the typed
 * client and the audit verifier.
 */
export { buildBrokerApp } from './app.ts';
export type { BrokerAppDeps } from './app.ts';
export { startBroker } from './server.ts';
export type { RunningBroker } from './server.ts';
export { loadBrokerConfig, parseBrokerConfig } from './config.ts';
export type { BrokerConfig, ImageRule, LimitRange, Role, TokenEntry } from './config.ts';
export { BrokerClient } from './client.ts';
export type { BrokerClientOptions } from './client.ts';
export type { ServiceSpec, NetworkChoice } from './policy.ts';
export type { ServiceView, ServiceAction } from './services.ts';
export { ServiceManager } from './services.ts';
export { connectDocker } from './docker.ts';
export { AuditLog, verifyAuditFile, verifyAuditText } from './audit.ts';
export type { AuditEntry, AuditEvent, AuditVerifyResult } from './audit.ts';
export { reconcile } from './reconcile.ts';
export { buildOpenApiDocument } from './openapi.ts';
export { hashToken } from './auth.ts';
export { BrokerError, Errors } from './errors.ts';
export { CircuitBreaker } from './breaker/breaker.ts';
export type { BreakerDeps } from './breaker/breaker.ts';
export { createCircuitBreaker } from './breaker/create.ts';
export { parseBreakerConfig } from './breaker/config.ts';
export type { BreakerConfig } from './breaker/config.ts';
export type { BreakerEvent } from './breaker/history.ts';
export type { BreakerAction, Rule } from './breaker/rules.ts';

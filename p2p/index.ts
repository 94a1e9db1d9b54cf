/**
 * Public entry `docklock/p2p`: the validator node (config, daemon, local API client), its key
 * files, and offline checks of the messages it exchanges. docs/p2p.md describes the protocol.
 */
export { loadNodeConfig, parseNodeConfig } from './config.ts';
export type { NodeConfig } from './config.ts';
export { apiToken, startDaemon } from './daemon.ts';
export type { RunningNode } from './daemon.ts';
export { NodeClient } from './client.ts';
export type { NodeClientOptions } from './client.ts';
export { generateKeyFile, loadKeyFile, peerIdOf } from './keys.ts';
export type { NodeKey } from './keys.ts';
export { verifyDispute, encodeDispute } from './dispute.ts';
export type { DisputeReport } from './dispute.ts';
export { P2PError } from './errors.ts';
export type { P2PErrorCode } from './errors.ts';

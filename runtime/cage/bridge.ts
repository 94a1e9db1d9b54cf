/**
 * The network bridge between a worker and the thread that owns the network, as the cage's worker
 * runners (cage.ts and evaluate/pool.ts) use it. The implementation is a host-functions concern
 * (host-functions/net/bridge.ts); runtime code outside runtime/cage/ reaches it only here.
 */
export { bridgeTransport, openBridge } from '../../host-functions/net/bridge.ts';
export type { BridgeEnd } from '../../host-functions/net/bridge.ts';

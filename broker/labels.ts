/**
 * Labels and names the broker puts on everything it creates. The owner label is set here from the
 * authenticated principal, never from request data; reconcile and ownership checks read it back.
 * The managed label's value is the broker's instance id (config `instance`, default `v1`, the
 * value every earlier version wrote), so brokers sharing one engine each see only their own.
 */

export const LABEL_MANAGED = 'io.docklock.broker';
export const LABEL_OWNER = 'io.docklock.owner';
export const LABEL_SERVICE = 'io.docklock.service';
export const LABEL_IMAGE = 'io.docklock.image';
export const LABEL_NETWORK = 'io.docklock.network';

/** The instance id of a broker whose config names none (and of every pre-instance container). */
export const DEFAULT_INSTANCE = 'v1';

/** The Docker label filter selecting one instance's objects. */
export function managedFilter(instance: string): string {
  return `${LABEL_MANAGED}=${instance}`;
}

/**
 * Docker name of a service's container. Injective in (instance, owner, service): `.` separates
 * the parts and none of their patterns (config.ts `INSTANCE_PATTERN`, `PRINCIPAL_PATTERN`,
 * schemas.ts `SERVICE_NAME_PATTERN`) admits a `.`, so owner `a-b` + service `c` and owner `a` +
 * service `b-c` get different names, and one owner can never take (or probe) another's name.
 * @example containerName('v1', 'alice', 'web') === 'docklock.v1.alice.web'
 */
export function containerName(instance: string, owner: string, service: string): string {
  return `docklock.${instance}.${owner}.${service}`;
}

/**
 * The name earlier versions gave a container (`docklock-<owner>-<service>`, not injective);
 * reconcile renames such containers to `containerName` when it adopts them.
 */
export function legacyContainerName(owner: string, service: string): string {
  return `docklock-${owner}-${service}`;
}

/** Docker name of an owner's internal (no egress) network. */
export function isolatedNetworkName(instance: string, owner: string): string {
  return `docklock.${instance}.isolated.${owner}`;
}

/**
 * Docker name of an owner's bridge network (egress, published ports). One per owner rather than
 * Docker's default bridge, on which every owner's services could reach each other's unpublished
 * ports: the engine isolates user-defined bridge networks from one another.
 */
export function bridgeNetworkName(instance: string, owner: string): string {
  return `docklock.${instance}.bridge.${owner}`;
}

/** The Docker network a service with this network choice joins (`none` joins none). */
export function ownerNetworkName(instance: string, owner: string, network: 'isolated' | 'bridge'): string {
  return network === 'isolated' ? isolatedNetworkName(instance, owner) : bridgeNetworkName(instance, owner);
}

/**
 * Labels the broker puts on everything it creates. The owner label is set here from the
 * authenticated principal, never from request data; reconcile and ownership checks read it back.
 */

export const LABEL_MANAGED = 'io.docklock.broker';
export const LABEL_OWNER = 'io.docklock.owner';
export const LABEL_SERVICE = 'io.docklock.service';
export const LABEL_IMAGE = 'io.docklock.image';
export const LABEL_NETWORK = 'io.docklock.network';

/** Value of the managed label; a different broker instance would use another. */
export const MANAGED_VALUE = 'v1';

/**
 * Docker name of a service's container: unique per owner and service name.
 * @example containerName('alice', 'web') === 'docklock-alice-web'
 */
export function containerName(owner: string, service: string): string {
  return `docklock-${owner}-${service}`;
}

/** Docker name of an owner's internal (no egress) network. */
export function isolatedNetworkName(owner: string): string {
  return `docklock-isolated-${owner}`;
}

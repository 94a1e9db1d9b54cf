/**
 * Host ports: a port another container already publishes, or that any process on the host holds,
 * is refused by the policy (409 `DL_ERR_POLICY_PORT_IN_USE`) before Docker sees the request.
 * Docker would otherwise create the container, fail to start it with a message naming the
 * conflict, and leave the broker to clean up.
 */
import { createServer } from 'node:net';
import type Docker from 'dockerode';
import { Errors } from './errors.ts';

/** Tries to bind 127.0.0.1:port (where the broker publishes); resolves whether it was free. */
function loopbackFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Checks that no host port of a request is taken. Runs under the broker's port lock, so two of
 * its own deploys cannot both pass for one port.
 * @param docker - the engine (every container on it counts, not only the broker's)
 * @param ports - the requested bindings
 * @throws {BrokerError} `DL_ERR_POLICY_PORT_IN_USE` naming the first taken port
 */
export async function checkPortsFree(
  docker: Docker,
  ports: readonly { host: number; container: number }[],
): Promise<void> {
  if (ports.length === 0) return;
  const published = new Set<number>();
  for (const c of await docker.listContainers({ all: false }))
    for (const p of c.Ports ?? []) if (p.PublicPort !== undefined) published.add(p.PublicPort);
  for (const [i, p] of ports.entries()) {
    if (published.has(p.host) || !(await loopbackFree(p.host))) {
      throw Errors.portInUse(`host port ${p.host} is already in use on this host; choose another`, `ports[${i}].host`);
    }
  }
}

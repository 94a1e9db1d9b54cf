/**
 * Host ports: a port another container already publishes, that a stopped broker service keeps
 * for its next start, or that any process on the host holds, is refused by the policy (409
 * `DL_ERR_POLICY_PORT_IN_USE`) before Docker sees the request. Docker would otherwise create the
 * container, fail to start it with a message naming the conflict, and leave the broker to clean
 * up; and a port free only because its owner's service is stopped would be taken from it.
 */
import { createServer } from 'node:net';
import type Docker from 'dockerode';
import type { ContainerInfo } from 'dockerode';
import { Errors } from './errors.ts';
import { LABEL_MANAGED } from './labels.ts';

/** Tries to bind 127.0.0.1:port (where the broker publishes); resolves whether it was free. */
function loopbackFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * The host ports containers publish, or will publish when started: a running container's from
 * the listing, a stopped one's from its create-time bindings (the listing has none for it).
 * @returns every host port, once per container that binds it
 */
export async function hostPortsOf(docker: Docker, containers: readonly ContainerInfo[]): Promise<number[]> {
  const out: number[] = [];
  for (const c of containers) {
    if (c.State === 'running') {
      for (const p of new Set((c.Ports ?? []).map((x) => x.PublicPort))) if (p !== undefined && p > 0) out.push(p);
      continue;
    }
    let bindings: Record<string, { HostPort?: string }[] | null> | undefined;
    try {
      bindings = (await docker.getContainer(c.Id).inspect()).HostConfig.PortBindings as typeof bindings;
    } catch {
      continue; // removed meanwhile
    }
    for (const list of Object.values(bindings ?? {}))
      for (const b of list ?? []) {
        const p = Number(b.HostPort);
        if (Number.isInteger(p) && p > 0) out.push(p);
      }
  }
  return out;
}

/**
 * Checks that no host port of a request is taken. Runs under the broker's port lock, so two of
 * its own deploys cannot both pass for one port.
 * @param docker - the engine (every running container on it counts, and every broker-made one,
 *   of any instance, running or not)
 * @param ports - the requested bindings
 * @throws {BrokerError} `DL_ERR_POLICY_PORT_IN_USE` naming the first taken port
 */
export async function checkPortsFree(
  docker: Docker,
  ports: readonly { host: number; container: number }[],
): Promise<void> {
  if (ports.length === 0) return;
  const running = await docker.listContainers({ all: false });
  const stoppedOurs = (await docker.listContainers({ all: true, filters: { label: [LABEL_MANAGED] } })).filter(
    (c) => c.State !== 'running',
  );
  const published = new Set(await hostPortsOf(docker, [...running, ...stoppedOurs]));
  for (const [i, p] of ports.entries()) {
    if (published.has(p.host) || !(await loopbackFree(p.host))) {
      throw Errors.portInUse(`host port ${p.host} is already in use on this host; choose another`, `ports[${i}].host`);
    }
  }
}

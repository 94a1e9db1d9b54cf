/**
 * The broker's Docker Engine connection. The API version is negotiated like the Docker CLI does:
 * ask the unversioned `/version` endpoint, then pin every later call to
 * min(engine's version, the newest version the broker was written against), so an older engine
 * (Debian's speaks 1.41) never sees fields it does not know.
 */
import Docker from 'dockerode';
import { apiAtLeast } from './create-body.ts';
import { Errors } from './errors.ts';

/** Newest Engine API version the broker's create body was written against. */
export const MAX_API_VERSION = '1.45';
/** Oldest Engine API version the broker accepts (CgroupnsMode and Runtime need 1.41). */
export const MIN_API_VERSION = '1.41';

/** A connected, version-pinned client. */
export interface DockerConnection {
  docker: Docker;
  apiVersion: string;
}

/**
 * Connects to the engine and negotiates the API version.
 * @param socketPath - the Docker socket
 * @returns the client pinned to the negotiated version
 * @throws {BrokerError} `DL_ERR_BROKER_DOCKER` when the engine is unreachable or too old
 * @example
 * const { docker, apiVersion } = await connectDocker('/var/run/docker.sock');
 */
export async function connectDocker(socketPath: string): Promise<DockerConnection> {
  const probe = new Docker({ socketPath });
  let engine: string;
  try {
    engine = (await probe.version()).ApiVersion;
  } catch (cause) {
    throw Errors.docker(`cannot reach the Docker Engine at ${socketPath}: ${(cause as Error).message}`, undefined, {
      cause,
    });
  }
  if (!apiAtLeast(engine, MIN_API_VERSION)) {
    throw Errors.docker(`Docker Engine API ${engine} is older than the minimum ${MIN_API_VERSION}`);
  }
  const apiVersion = apiAtLeast(engine, MAX_API_VERSION) ? MAX_API_VERSION : engine;
  return { docker: new Docker({ socketPath, version: `v${apiVersion}` }), apiVersion };
}

/** The HTTP status carried by a dockerode error, if any. */
export function dockerStatus(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

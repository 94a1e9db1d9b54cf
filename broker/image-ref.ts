/**
 * Parses and normalises image references the way the Docker Engine resolves them
 * (distribution/reference `normalize.go`): a first component with a dot, a colon or equal to
 * `localhost` is a registry, otherwise `docker.io`; single-component Docker Hub names gain
 * `library/`. Policy compares the normalised `registry/repository` exactly.
 */
import { Errors } from './errors.ts';

/** A parsed image reference. */
export interface ImageReference {
  registry: string;
  /** Path below the registry, e.g. `library/nginx`. */
  path: string;
  /** `registry/path`, the string the allowlist matches exactly. */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
  /**
   * The reference as the policy read it (`registry/path[:tag][@digest]`, registry in lowercase):
   * what the broker asks the engine for. The engine's own lookup is case-sensitive in the
   * registry, so `GHCR.IO/org/app` would otherwise be another image than the allowed `ghcr.io/org/app`.
   */
  canonical: string;
}

// distribution/reference grammar, reduced to what a policy needs (lowercase path components).
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]{1,5})?$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Parses an image reference.
 * @param ref - e.g. `nginx:1.27`, `ghcr.io/org/app@sha256:…`
 * @returns its normalised parts
 * @throws {BrokerError} `DL_ERR_BROKER_INVALID_FIELD` (field `image`) when it is not a valid reference
 * @example
 * parseImageReference('nginx').repository === 'docker.io/library/nginx';
 */
export function parseImageReference(ref: string): ImageReference {
  const bad = (why: string): never => {
    throw Errors.invalidField(`invalid image reference "${ref}": ${why}`, 'image');
  };
  if (ref.length === 0 || ref.length > 512) bad('expected 1 to 512 characters');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) bad('expected a digest of the form sha256:<64 lowercase hex>');
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon !== -1 && !rest.slice(lastColon).includes('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) bad(`invalid tag "${tag}"`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!DOMAIN.test(first)) bad(`invalid registry "${first}"`);
    registry = first.toLowerCase();
    parts.shift();
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p)))
    bad('path components must be lowercase letters, digits and separators');
  if (registry === 'index.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  const path = parts.join('/');
  if (tag === undefined && digest === undefined) tag = 'latest';
  const repository = `${registry}/${path}`;
  const canonical = `${repository}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
  return { registry, path, repository, tag, digest, canonical };
}

import { describe, expect, it } from 'vitest';
import { parseImageReference } from '../../broker/image-ref.ts';
import { checkImageAllowed, checkImagePinned, resolveLimits, resolveUser } from '../../broker/policy.ts';
import { parseBrokerConfig } from '../../broker/config.ts';
import type { ImageRule } from '../../broker/config.ts';
import { codeOf } from '../code-of.ts';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);

describe('image references', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx', 'latest'],
    ['nginx:1.27', 'docker.io/library/nginx', '1.27'],
    ['docker.io/nginx', 'docker.io/library/nginx', 'latest'],
    ['index.docker.io/library/nginx:1', 'docker.io/library/nginx', '1'],
    ['org/app:2', 'docker.io/org/app', '2'],
    ['ghcr.io/org/app:3', 'ghcr.io/org/app', '3'],
    ['localhost:5000/app', 'localhost:5000/app', 'latest'],
  ])('%s normalises to %s', (ref, repository, tag) => {
    const r = parseImageReference(ref);
    expect(r.repository).toBe(repository);
    expect(r.tag).toBe(tag);
  });

  it.each(['', 'UPPER/case', 'ghcr.io/org/app@sha256:short', 'a//b', 'app:'])('rejects invalid reference %j', (ref) => {
    expect(codeOf(() => parseImageReference(ref))).toBe('DL_ERR_BROKER_INVALID_FIELD');
  });
});

describe('image allowlist', () => {
  const rules: ImageRule[] = [
    { repository: 'ghcr.io/org/app', digests: undefined },
    { repository: 'docker.io/library/nginx', digests: [D1] },
  ];

  it('admits an exact registry/repository', () => {
    expect(checkImageAllowed('ghcr.io/org/app:1', rules).rule.repository).toBe('ghcr.io/org/app');
    expect(checkImageAllowed('nginx', rules).rule.repository).toBe('docker.io/library/nginx');
  });

  it.each([
    'ghcr.io/org/app-evil:1',
    'ghcr.io/org/app/sub:1',
    'ghcr.io/org:1',
    'ghcr.io/org-evil/app:1',
    'ghcr.io.evil.com/org/app:1',
    'evil.io/ghcr.io/org/app',
    'docker.io/org/app',
    'nginx-evil',
    'library/nginx2',
  ])('refuses look-alike %s', (ref) => {
    expect(codeOf(() => checkImageAllowed(ref, rules))).toBe('DL_ERR_POLICY_IMAGE_NOT_ALLOWED');
  });

  it('refuses a digest reference that is not pinned', () => {
    expect(codeOf(() => checkImageAllowed(`nginx@${D2}`, rules))).toBe('DL_ERR_POLICY_IMAGE_NOT_PINNED');
    expect(checkImageAllowed(`nginx@${D1}`, rules).ref.digest).toBe(D1);
  });

  it('checks the resolved image against the pins (ID or repo digest)', () => {
    const rule = rules[1]!;
    expect(() => checkImagePinned(rule, D1, [])).not.toThrow();
    expect(() => checkImagePinned(rule, D2, [`nginx@${D1}`])).not.toThrow();
    expect(codeOf(() => checkImagePinned(rule, D2, [`nginx@${D2}`]))).toBe('DL_ERR_POLICY_IMAGE_NOT_PINNED');
    expect(() => checkImagePinned(rules[0]!, D2, [])).not.toThrow();
  });
});

describe('limits and user', () => {
  const policy = parseBrokerConfig({
    tokens: [{ sha256: '0'.repeat(64), principal: 'alice', role: 'client' }],
    policy: { images: { strict: false, allow: [] } },
  }).policy;

  it('applies defaults', () => {
    const l = resolveLimits({ name: 'a', image: 'x' }, policy);
    expect(l).toEqual({
      memoryBytes: policy.memory.default,
      nanoCpus: policy.cpus.default * 1e9,
      pids: policy.pids.default,
    });
  });

  it.each([
    ['memory', 0],
    ['memory', -1],
    ['memory', 1024],
    ['memory', policy.memory.max + 1],
    ['cpus', 0],
    ['cpus', -1],
    ['cpus', 1000],
    ['pids', 0],
    ['pids', -1],
    ['pids', 1_000_000],
  ])('refuses %s = %d (unlimited or out of range)', (field, value) => {
    expect(codeOf(() => resolveLimits({ name: 'a', image: 'x', [field]: value }, policy))).toBe(
      'DL_ERR_POLICY_LIMIT_OUT_OF_RANGE',
    );
  });

  it('never runs as root', () => {
    expect(resolveUser({ name: 'a', image: 'x' }, policy)).toBe('65534:65534');
    expect(resolveUser({ name: 'a', image: 'x', user: '1000' }, policy)).toBe('1000:1000');
    for (const user of ['0', '0:0', '1000:0', '00:1'])
      expect(codeOf(() => resolveUser({ name: 'a', image: 'x', user }, policy))).toBe('DL_ERR_POLICY_USER_NOT_ALLOWED');
  });
});

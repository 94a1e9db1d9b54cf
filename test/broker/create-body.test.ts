import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiAtLeast, buildCreateBody } from '../../broker/create-body.ts';
import type { CreateInput } from '../../broker/create-body.ts';

const input = (over: Partial<CreateInput> = {}): CreateInput => ({
  instance: 'v1',
  owner: 'alice',
  name: 'web',
  imageRef: 'ghcr.io/org/app:1',
  imageId: 'sha256:' + 'a'.repeat(64),
  command: undefined,
  env: undefined,
  user: '65534:65534',
  limits: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 5e8, pids: 128 },
  network: 'none',
  mounts: [],
  ports: [],
  tmpfsBytes: 1024 * 1024,
  apiVersion: '1.41',
  ...over,
});

describe('Docker create body', () => {
  it('always carries the fixed security settings, whatever the validated input', () => {
    const arb = fc.record({
      network: fc.constantFrom('none' as const, 'isolated' as const, 'bridge' as const),
      env: fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), fc.string({ maxLength: 20 }), { maxKeys: 4 }),
      command: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
      ports: fc.uniqueArray(
        fc.record({ container: fc.integer({ min: 1, max: 65535 }), host: fc.integer({ min: 1024, max: 65535 }) }),
        { maxLength: 3, selector: (p) => p.container },
      ),
      readOnly: fc.boolean(),
      apiVersion: fc.constantFrom('1.41', '1.43', '1.45'),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const b = buildCreateBody(
          input({
            network: a.network,
            env: a.env,
            command: a.command,
            ports: a.network === 'bridge' ? a.ports : [],
            apiVersion: a.apiVersion,
            mounts: [{ source: '/srv/x', target: '/x', readOnly: a.readOnly }],
          }),
        );
        const h = b.HostConfig!;
        expect(h.Runtime).toBe('runsc');
        expect(h.Privileged).toBe(false);
        expect(h.CapDrop).toEqual(['ALL']);
        expect(h.CapAdd).toEqual([]);
        expect(h.ReadonlyRootfs).toBe(true);
        expect(h.SecurityOpt![0]).toBe('no-new-privileges:true');
        expect(h.SecurityOpt![1]!.startsWith('seccomp={')).toBe(true);
        expect(h.Devices).toEqual([]);
        expect(h.Binds).toEqual([]);
        expect(h.PidMode).toBe('');
        expect(h.UsernsMode).toBe('');
        expect(h.IpcMode).toBe('private');
        expect(h.NetworkMode).not.toBe('host');
        expect(h.Sysctls).toBeUndefined();
        expect(h.CgroupParent).toBeUndefined();
        for (const bindings of Object.values(h.PortBindings as Record<string, { HostIp: string }[]>))
          for (const x of bindings) expect(x.HostIp).toBe('127.0.0.1');
        expect(b.Labels!['io.docklock.owner']).toBe('alice');
        expect(b.Image).toBe('sha256:' + 'a'.repeat(64));
      }),
    );
  });

  it('gates fields by the negotiated API version', () => {
    expect(apiAtLeast('1.41', '1.41')).toBe(true);
    expect(apiAtLeast('1.40', '1.41')).toBe(false);
    expect(apiAtLeast('2.0', '1.45')).toBe(true);
    expect((buildCreateBody(input({ apiVersion: '1.41' })).HostConfig as { CgroupnsMode?: string }).CgroupnsMode).toBe(
      'private',
    );
    expect(
      (buildCreateBody(input({ apiVersion: '1.40' })).HostConfig as { CgroupnsMode?: string }).CgroupnsMode,
    ).toBeUndefined();
  });

  it('maps the three network choices', () => {
    expect(buildCreateBody(input({ network: 'none' })).HostConfig!.NetworkMode).toBe('none');
    expect(buildCreateBody(input({ network: 'none' })).NetworkDisabled).toBe(true);
    expect(buildCreateBody(input({ network: 'bridge' })).HostConfig!.NetworkMode).toBe('docklock.v1.bridge.alice');
    expect(buildCreateBody(input({ network: 'isolated' })).HostConfig!.NetworkMode).toBe('docklock.v1.isolated.alice');
  });
});

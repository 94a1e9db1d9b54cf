import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seccompProfileJson } from '../../broker/seccomp.ts';

interface Rule {
  names: string[];
  action: string;
  args?: unknown[];
  includes?: { caps?: string[]; arches?: string[] };
}
const profile = JSON.parse(seccompProfileJson()) as {
  defaultAction: string;
  defaultErrnoRet: number;
  syscalls: Rule[];
};

/** Syscalls a rule allows unconditionally on amd64 (no argument filter, no capability condition). */
const allowed = new Set(
  profile.syscalls
    .filter((r) => r.action === 'SCMP_ACT_ALLOW' && r.args === undefined && r.includes?.caps === undefined)
    .flatMap((r) => r.names),
);

describe('shipped seccomp profile', () => {
  it('denies by default with EPERM', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(1);
  });

  it.each([
    'mount',
    'umount2',
    'ptrace',
    'bpf',
    'keyctl',
    'add_key',
    'request_key',
    'unshare',
    'setns',
    'clone3',
    'perf_event_open',
    'userfaultfd',
    'process_vm_readv',
    'process_vm_writev',
    'kexec_load',
    'init_module',
    'finit_module',
    'reboot',
    'swapon',
    'pivot_root',
    'chroot',
    'io_uring_setup',
    'open_by_handle_at',
    'name_to_handle_at',
    'syslog',
    'acct',
    'settimeofday',
  ])('never allows %s unconditionally', (syscall) => {
    expect(allowed.has(syscall)).toBe(false);
  });

  it('has no capability-conditional rules (the broker drops every capability anyway)', () => {
    expect(profile.syscalls.filter((r) => r.includes?.caps !== undefined)).toEqual([]);
  });

  it('allows clone only without namespace flags', () => {
    const clone = profile.syscalls.filter((r) => r.names.includes('clone'));
    expect(clone).toEqual([
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] },
    ]);
  });

  it('is the file shipped in broker/seccomp', () => {
    const onDisk = JSON.parse(
      readFileSync(new URL('../../broker/seccomp/profile.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(onDisk).toEqual(profile);
  });
});

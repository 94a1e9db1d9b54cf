/**
 * Start-up reconciliation. The broker may have been down while containers kept running: it adopts
 * containers carrying its labels whose owner is still configured and that still match the policy
 * invariants, and removes the rest (owner gone, or configuration drifted from what the broker
 * creates). Every decision is audited.
 */
import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import type { AuditLog } from './audit.ts';
import type { BrokerConfig } from './config.ts';
import { LABEL_MANAGED, LABEL_OWNER, MANAGED_VALUE } from './labels.ts';

/** What reconciliation did. */
export interface ReconcileReport {
  adopted: string[];
  removed: string[];
  networksRemoved: string[];
}

/** Why a container no longer matches what the broker would have created, or undefined. */
function drift(c: ContainerInspectInfo): string | undefined {
  const h = c.HostConfig;
  if (h.Runtime !== 'runsc') return `runtime ${String(h.Runtime)}`;
  if (h.Privileged) return 'privileged';
  if (!h.ReadonlyRootfs) return 'writable root filesystem';
  if (!(h.CapDrop ?? []).includes('ALL') || (h.CapAdd ?? []).length > 0) return 'capabilities';
  const sec: string[] = h.SecurityOpt ?? [];
  if (!sec.some((s) => s.startsWith('no-new-privileges')) || !sec.some((s) => s.startsWith('seccomp='))) return 'security options';
  return undefined;
}

/**
 * Reconciles Docker state with the configuration.
 * @param docker - version-pinned client
 * @param config - the broker configuration (its principals decide who is kept)
 * @param audit - the audit log; one entry per adopted or removed object
 * @returns what was adopted and removed
 */
export async function reconcile(docker: Docker, config: BrokerConfig, audit: AuditLog): Promise<ReconcileReport> {
  const owners = new Set(config.tokens.map((t) => t.principal));
  const report: ReconcileReport = { adopted: [], removed: [], networksRemoved: [] };
  const managed = await docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=${MANAGED_VALUE}`] } });
  for (const c of managed) {
    const owner = c.Labels[LABEL_OWNER] ?? '';
    let why: string | undefined = owners.has(owner) ? undefined : `owner "${owner}" is not configured`;
    if (why === undefined) {
      const info = await docker.getContainer(c.Id).inspect();
      const d = drift(info);
      if (d !== undefined) why = `configuration drifted from policy (${d})`;
    }
    if (why === undefined) {
      report.adopted.push(c.Id);
      await audit.append({ action: 'reconcile.adopt', principal: null, decision: 'info', target: c.Id, reason: `owner ${owner}` });
      continue;
    }
    await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    report.removed.push(c.Id);
    await audit.append({ action: 'reconcile.remove', principal: null, decision: 'info', target: c.Id, reason: why });
  }
  const nets = await docker.listNetworks({ filters: { label: [`${LABEL_MANAGED}=${MANAGED_VALUE}`] } });
  for (const n of nets) {
    const owner = n.Labels?.[LABEL_OWNER] ?? '';
    if (owners.has(owner)) continue;
    await docker.getNetwork(n.Id).remove().catch(() => undefined);
    report.networksRemoved.push(n.Name);
    await audit.append({ action: 'reconcile.remove_network', principal: null, decision: 'info', target: n.Name, reason: `owner "${owner}" is not configured` });
  }
  return report;
}

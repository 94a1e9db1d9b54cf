/**
 * Start-up reconciliation, over this broker instance's objects only (its managed label value is
 * the config's `instance`; another broker's containers on the same engine are never touched):
 *
 * 1. A create whose intent is in the audit log without an outcome (the broker died between the
 *    two) is undone: its container, if Docker made one, is removed. The client never got an
 *    answer, so nothing it knows of disappears; the container was never vouched for.
 * 2. Containers whose owner is still configured and that still match the policy invariants are
 *    adopted, and renamed to the injective `containerName` if an earlier version named them; the
 *    rest (owner gone, configuration drifted) are removed.
 * 3. Networks of owners no longer configured are removed.
 *
 * Every decision is an audit entry.
 */
import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import type { AuditEntry, AuditLog } from './audit.ts';
import type { BrokerConfig } from './config.ts';
import { dockerStatus } from './docker.ts';
import { LABEL_OWNER, LABEL_SERVICE, containerName, managedFilter } from './labels.ts';

/** What reconciliation did. */
export interface ReconcileReport {
  adopted: string[];
  removed: string[];
  renamed: string[];
  networksRemoved: string[];
  /** Request ids of creates found without an outcome. */
  unfinished: string[];
}

/** Why a container no longer matches what the broker would have created, or undefined. */
function drift(c: ContainerInspectInfo): string | undefined {
  const h = c.HostConfig;
  if (h.Runtime !== 'runsc') return `runtime ${String(h.Runtime)}`;
  if (h.Privileged) return 'privileged';
  if (!h.ReadonlyRootfs) return 'writable root filesystem';
  if (!(h.CapDrop ?? []).includes('ALL') || (h.CapAdd ?? []).length > 0) return 'capabilities';
  const sec: string[] = h.SecurityOpt ?? [];
  if (!sec.some((s) => s.startsWith('no-new-privileges')) || !sec.some((s) => s.startsWith('seccomp=')))
    return 'security options';
  return undefined;
}

/** Intents (`service.create.intent`) that no `service.create.outcome` with their request id follows. */
export function unfinishedCreates(entries: readonly AuditEntry[]): AuditEntry[] {
  const done = new Set(
    entries
      .filter((e) => e.action === 'service.create.outcome' || e.action === 'reconcile.unfinished')
      .map((e) => e.requestId),
  );
  return entries.filter(
    (e) => e.action === 'service.create.intent' && e.requestId !== undefined && !done.has(e.requestId),
  );
}

/**
 * Reconciles Docker state with the configuration and the audit log.
 * @param docker - version-pinned client
 * @param config - the broker configuration (its principals decide who is kept; its instance what is looked at)
 * @param audit - the audit log: read for unfinished creates, and one entry per decision
 * @returns what was adopted, renamed and removed
 */
export async function reconcile(docker: Docker, config: BrokerConfig, audit: AuditLog): Promise<ReconcileReport> {
  const owners = new Set(config.tokens.map((t) => t.principal));
  const report: ReconcileReport = { adopted: [], removed: [], renamed: [], networksRemoved: [], unfinished: [] };
  const mine = managedFilter(config.instance);

  for (const intent of unfinishedCreates(await audit.entries())) {
    const name = intent.target ?? '';
    let what = 'Docker had created nothing';
    try {
      const info = await docker.getContainer(name).inspect();
      // Only ever a container of this instance under exactly the intended name.
      if (`/${name}` === info.Name && `${info.Config.Labels?.['io.docklock.broker']}` === config.instance) {
        await docker.getContainer(info.Id).remove({ force: true, v: true });
        report.removed.push(info.Id);
        what = `removed container ${info.Id}`;
      }
    } catch (err) {
      if (dockerStatus(err) !== 404) throw err;
    }
    report.unfinished.push(intent.requestId!);
    await audit.append({
      action: 'reconcile.unfinished',
      principal: intent.principal,
      decision: 'info',
      target: name,
      reason: `create without an outcome (the broker stopped in between): ${what}`,
      requestId: intent.requestId!,
    });
  }

  const managed = await docker.listContainers({ all: true, filters: { label: [mine] } });
  for (const c of managed) {
    if (report.removed.includes(c.Id)) continue;
    const owner = c.Labels[LABEL_OWNER] ?? '';
    let why: string | undefined = owners.has(owner) ? undefined : `owner "${owner}" is not configured`;
    if (why === undefined) {
      const info = await docker.getContainer(c.Id).inspect();
      const d = drift(info);
      if (d !== undefined) why = `configuration drifted from policy (${d})`;
    }
    if (why === undefined) {
      report.adopted.push(c.Id);
      await audit.append({
        action: 'reconcile.adopt',
        principal: null,
        decision: 'info',
        target: c.Id,
        reason: `owner ${owner}`,
      });
      const want = containerName(config.instance, owner, c.Labels[LABEL_SERVICE] ?? '');
      if (!(c.Names ?? []).includes(`/${want}`)) {
        // An earlier version's name (docklock-<owner>-<service>) could collide across owners.
        await docker.getContainer(c.Id).rename({ name: want });
        report.renamed.push(c.Id);
        await audit.append({
          action: 'reconcile.rename',
          principal: null,
          decision: 'info',
          target: c.Id,
          reason: `${(c.Names ?? [])[0]?.slice(1) ?? '?'} -> ${want}`,
        });
      }
      continue;
    }
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
    report.removed.push(c.Id);
    await audit.append({ action: 'reconcile.remove', principal: null, decision: 'info', target: c.Id, reason: why });
  }
  const nets = await docker.listNetworks({ filters: { label: [mine] } });
  for (const n of nets) {
    const owner = n.Labels?.[LABEL_OWNER] ?? '';
    if (owners.has(owner)) continue;
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
    report.networksRemoved.push(n.Name);
    await audit.append({
      action: 'reconcile.remove_network',
      principal: null,
      decision: 'info',
      target: n.Name,
      reason: `owner "${owner}" is not configured`,
    });
  }
  return report;
}

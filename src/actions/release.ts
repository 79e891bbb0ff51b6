import { AttachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import {
  AssociateAddressCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeSecurityGroupsCommand,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
} from '@aws-sdk/client-ec2';
import { RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Responder } from '../aws/responder';
import type { ActionOutcome, PlanView } from './results';
import { InstanceUnavailable, autoScalingGroupOf, findInstance, groupList, interfaceGroups, isTargetRegistered, protectionOf } from './instance';
import { isolationRecordName, type IsolationRecord } from './isolate';
import { blockedPlan, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

interface ReleasePlanData {
  record: IsolationRecord;
  /** Recorded groups per interface that still exist (deleted ones are dropped, with a warning). */
  restoreGroups: { eniId: string; groups: string[] }[];
  reassociate: IsolationRecord['elasticIps'];
  reattachAutoScaling: boolean;
  reregister: IsolationRecord['targets'];
}

async function existingGroups(aws: Responder, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const out = await aws.send(aws.clients.ec2, new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: ids }] }));
  return new Set((out.SecurityGroups ?? []).map((g) => g.GroupId!));
}

async function addresses(aws: Responder, allocationIds: string[]) {
  if (allocationIds.length === 0) return [];
  const out = await aws.send(aws.clients.ec2, new DescribeAddressesCommand({ AllocationIds: allocationIds }));
  return out.Addresses ?? [];
}

async function plan([instanceId]: string[], ctx: ActionContext): Promise<PlanView> {
  const { aws } = ctx;
  const record = await ctx.records.get<IsolationRecord>(isolationRecordName(instanceId));
  if (!record) {
    return blockedPlan(`nothing is recorded for ${instanceId}: ir-bot did not isolate it (or it was already released), so there is no earlier state to restore. Restore its security groups by hand.`);
  }
  if (ctx.undoes && record.requestId !== ctx.undoes) {
    return blockedPlan(`this Release belongs to isolation ${ctx.undoes}, but ${instanceId} was isolated again since (${record.requestId}, ${record.recordedAt}): releasing would undo the newer isolation. Use the Release button on ${record.requestId}'s result, or \`/ir release ${instanceId}\`.`);
  }
  if (record.account !== aws.account || record.region !== aws.region) {
    return blockedPlan(`${instanceId} was isolated in account ${record.account}, region ${record.region}, but this request acts in ${aws.account}, ${aws.region}`);
  }
  try {
    await findInstance(aws, instanceId);
  } catch (err) {
    if (err instanceof InstanceUnavailable) return blockedPlan(err.message);
    throw err;
  }
  const release = ctx.isolation.release;
  const allGroups = [...new Set(record.interfaces.flatMap((i) => i.groups.map((g) => g.id)))];
  const [ifaces, exists, addrs, protection, asg] = await Promise.all([
    interfaceGroups(aws, record.interfaces.map((i) => i.id)),
    existingGroups(aws, allGroups),
    release.restoreElasticIps ? addresses(aws, record.elasticIps.map((e) => e.allocationId)) : Promise.resolve([]),
    protectionOf(aws, instanceId),
    autoScalingGroupOf(aws, instanceId),
  ]);
  const summary: string[] = [];
  const warnings: string[] = [];
  const restoreGroups: ReleasePlanData['restoreGroups'] = [];
  for (const i of record.interfaces) {
    const cur = ifaces.get(i.id);
    if (!cur) {
      warnings.push(`${i.id} no longer exists: nothing to restore on it`);
      continue;
    }
    const keep = i.groups.filter((g) => exists.has(g.id));
    const gone = i.groups.filter((g) => !exists.has(g.id));
    if (gone.length) warnings.push(`${i.id}: recorded group(s) ${groupList(gone)} no longer exist and cannot be restored`);
    if (keep.length === 0) {
      warnings.push(`${i.id}: none of its recorded groups exist any more; it stays in quarantine`);
      continue;
    }
    restoreGroups.push({ eniId: i.id, groups: keep.map((g) => g.id) });
    summary.push(`${i.id}: ${cur.join(', ') || 'no groups'} → ${groupList(keep)}`);
  }
  const reassociate: IsolationRecord['elasticIps'] = [];
  if (release.restoreElasticIps) {
    for (const e of record.elasticIps) {
      const a = addrs.find((x) => x.AllocationId === e.allocationId);
      if (!a) warnings.push(`Elastic IP ${e.publicIp} (${e.allocationId}) was released from the account: it cannot be re-associated`);
      else if (a.AssociationId && a.NetworkInterfaceId !== e.eniId) warnings.push(`Elastic IP ${e.publicIp} is now associated with ${a.NetworkInterfaceId ?? a.InstanceId}: left there`);
      else {
        reassociate.push(e);
        summary.push(`re-associate Elastic IP ${e.publicIp} with ${e.eniId}${e.privateIp ? ` (${e.privateIp})` : ''}`);
      }
    }
  }
  if (!record.protection.termination && protection.termination) summary.push('termination protection: on → off (as before isolation)');
  if (!record.protection.stop && protection.stop) summary.push('stop protection: on → off (as before isolation)');
  const reattachAutoScaling = release.reattachAutoScaling && !!record.autoScalingGroup && !asg;
  if (reattachAutoScaling) summary.push(`attach to Auto Scaling group ${record.autoScalingGroup} (this raises its desired capacity by one)`);
  const reregister = release.reregisterTargets ? record.targets : [];
  if (reregister.length) summary.push(`register with ${reregister.map((t) => `${t.name}${t.port ? ` port ${t.port}` : ''}`).join(', ')}`);
  summary.push('tag ir:status=released');
  const data: ReleasePlanData = { record, restoreGroups, reassociate, reattachAutoScaling, reregister };
  const steps = [
    'restore security groups',
    'restore protection settings',
    ...(reassociate.length ? ['re-associate Elastic IPs'] : []),
    ...(reattachAutoScaling ? ['re-attach to Auto Scaling'] : []),
    ...(reregister.length ? ['re-register targets'] : []),
    'tag the instance',
    'verify',
  ];
  const fp = fingerprint({ ifaces: [...ifaces.entries()].sort(), addrs: addrs.map((a) => [a.AllocationId, a.AssociationId ?? null]), asg: asg ?? null, protection });
  // As one instance among many (see eachInstance): shared changes said once, production changes first.
  const same = [
    ...(restoreGroups.length ? ['every interface back to its groups from before isolation'] : []),
    ...summary.filter((l) => / protection: on → off|^tag /.test(l)),
  ];
  const impact = [
    ...reassociate.map((e) => `re-associate Elastic IP ${e.publicIp}`),
    ...(reattachAutoScaling ? [`attach to Auto Scaling group ${record.autoScalingGroup} (its desired capacity goes up by one)`] : []),
    ...reregister.map((t) => `register with target group ${t.name}${t.port ? ` port ${t.port}` : ''}`),
  ];
  return { summary, warnings, steps, fingerprint: fp, data, bulk: { same, impact } };
}

async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const { aws } = ctx;
  const data = p.data as ReleasePlanData;
  const rec = data.record;
  const id = rec.instanceId;
  const steps: { label: string; run: () => Promise<string | undefined> }[] = [
    {
      label: 'restore security groups',
      run: async () => {
        const cur = await interfaceGroups(aws, data.restoreGroups.map((r) => r.eniId));
        for (const r of data.restoreGroups) {
          const now = [...(cur.get(r.eniId) ?? [])].sort();
          if (now.join() === [...r.groups].sort().join()) continue;
          await aws.send(aws.clients.ec2, new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: r.eniId, Groups: r.groups }));
        }
        return `security groups restored on ${data.restoreGroups.length} interface(s)`;
      },
    },
    {
      label: 'restore protection settings',
      run: async () => {
        const cur = await protectionOf(aws, id);
        if (!rec.protection.termination && cur.termination) await aws.send(aws.clients.ec2, new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: false } }));
        if (!rec.protection.stop && cur.stop) await aws.send(aws.clients.ec2, new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiStop: { Value: false } }));
        return 'protection settings as before isolation';
      },
    },
  ];
  if (data.reassociate.length) {
    steps.push({
      label: 're-associate Elastic IPs',
      run: async () => {
        const addrs = await addresses(aws, data.reassociate.map((e) => e.allocationId));
        for (const e of data.reassociate) {
          const a = addrs.find((x) => x.AllocationId === e.allocationId);
          if (a?.AssociationId) continue;
          await aws.send(aws.clients.ec2, new AssociateAddressCommand({ AllocationId: e.allocationId, NetworkInterfaceId: e.eniId, PrivateIpAddress: e.privateIp, AllowReassociation: false }));
        }
        return `Elastic IP(s) re-associated: ${data.reassociate.map((e) => e.publicIp).join(', ')}`;
      },
    });
  }
  if (data.reattachAutoScaling) {
    steps.push({
      label: 're-attach to Auto Scaling',
      run: async () => {
        if (!(await autoScalingGroupOf(aws, id))) await aws.send(aws.clients.autoScaling, new AttachInstancesCommand({ InstanceIds: [id], AutoScalingGroupName: rec.autoScalingGroup! }));
        return `attached to Auto Scaling group ${rec.autoScalingGroup}`;
      },
    });
  }
  if (data.reregister.length) {
    steps.push({
      label: 're-register targets',
      run: async () => {
        for (const t of data.reregister) {
          if (!(await isTargetRegistered(aws, t, id))) {
            await aws.send(aws.clients.elbv2, new RegisterTargetsCommand({ TargetGroupArn: t.targetGroupArn, Targets: [{ Id: id, Port: t.port, AvailabilityZone: t.availabilityZone }] }));
          }
        }
        return `registered with ${data.reregister.length} target group registration(s)`;
      },
    });
  }
  steps.push({
    label: 'tag the instance',
    run: async () => {
      const tags = { 'ir:status': 'released', 'ir:released-by': ctx.requestedBy, 'ir:released-at': ctx.now().toISOString() };
      await aws.send(aws.clients.ec2, new CreateTagsCommand({ Resources: [id], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
      return 'tagged ir:status=released';
    },
  });
  let outcome: ActionOutcome | undefined;
  steps.push({
    label: 'verify',
    run: async () => {
      outcome = await verify(ctx, data);
      // Only a verified release retires the record; otherwise a second release can finish the job.
      if (outcome.ok) await ctx.records.retire(isolationRecordName(id), ctx.now().getTime());
      return undefined;
    },
  });
  await runSteps(ctx, steps);
  return outcome!;
}

async function verify(ctx: ActionContext, data: ReleasePlanData): Promise<ActionOutcome> {
  const { aws } = ctx;
  const id = data.record.instanceId;
  const [ifaces, protection, addrs, asg] = await Promise.all([
    interfaceGroups(aws, data.restoreGroups.map((r) => r.eniId)),
    protectionOf(aws, id),
    addresses(aws, data.reassociate.map((e) => e.allocationId)),
    data.reattachAutoScaling ? autoScalingGroupOf(aws, id) : Promise.resolve(undefined),
  ]);
  let ok = true;
  const mark = (good: boolean) => {
    if (!good) ok = false;
    return good ? '✓' : '✗';
  };
  const lines: string[] = [];
  for (const r of data.restoreGroups) {
    const cur = ifaces.get(r.eniId) ?? [];
    lines.push(`${r.eniId}: ${cur.join(', ') || 'no groups'} ${mark([...cur].sort().join() === [...r.groups].sort().join())}`);
  }
  lines.push(`termination protection ${protection.termination ? 'on' : 'off'} ${mark(protection.termination === data.record.protection.termination)}`);
  lines.push(`stop protection ${protection.stop ? 'on' : 'off'} ${mark(protection.stop === data.record.protection.stop)}`);
  for (const e of data.reassociate) {
    const a = addrs.find((x) => x.AllocationId === e.allocationId);
    lines.push(`Elastic IP ${e.publicIp}: ${a?.NetworkInterfaceId === e.eniId ? `on ${e.eniId}` : 'not associated'} ${mark(a?.NetworkInterfaceId === e.eniId)}`);
  }
  if (data.reattachAutoScaling) lines.push(`Auto Scaling group ${data.record.autoScalingGroup}: ${asg ? 'attached' : 'not attached'} ${mark(asg === data.record.autoScalingGroup)}`);
  for (const t of data.reregister) {
    const reg = await isTargetRegistered(aws, t, id);
    lines.push(`target group ${t.name}${t.port ? ` port ${t.port}` : ''}: ${reg ? 'registered' : 'not registered'} ${mark(reg)}`);
  }
  return { ok, lines, notes: ['Restored from the state recorded before isolation. The instance is back on the network: make sure it was cleaned or rebuilt first.'] };
}

export const releaseAction: ResponseAction = { plan, execute };

import { DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateTagsCommand,
  DescribeAddressesCommand,
  DisassociateAddressCommand,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
} from '@aws-sdk/client-ec2';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { couldNotCheck, type Checked } from './advisory';
import { instancesSharingProfile } from './role-sharing';
import type { ActionOutcome, PlanView } from './results';
import type { Responder } from '../aws/responder';
import {
  InstanceUnavailable,
  autoScalingGroupOf,
  describeInstanceState,
  elasticIpsOf,
  groupList,
  interfaceGroups,
  isTargetRegistered,
  protectionOf,
  type ElasticIpState,
  type InstanceState,
} from './instance';
import { ensureIsolationGroups, findGroups, groupIsExact, untrackedGroupName } from './quarantine-group';
import { blockedPlan, fingerprint, runSteps, shareResult, type ActionContext, type ResponseAction } from './types';
import { AwsCallError } from '../aws/errors';

/** Everything isolation changes, as it was before: release puts exactly this back. */
export interface IsolationRecord {
  requestId: string;
  instanceId: string;
  account: string;
  region: string;
  vpcId: string;
  recordedAt: string;
  interfaces: { id: string; groups: { id: string; name: string }[] }[];
  elasticIps: ElasticIpState[];
  autoScalingGroup?: string;
  targets: { targetGroupArn: string; name: string; port?: number; availabilityZone?: string }[];
  protection: { termination: boolean; stop: boolean };
  /** Previous values of the tags isolation sets (null: the tag was absent). */
  tags: Record<string, string | null>;
}

export interface IsolationPlanData {
  before: IsolationRecord;
  detachAutoScaling: boolean;
  deregisterTargets: boolean;
  disassociateElasticIps: boolean;
  spot: boolean;
}

export const ISOLATION_TAGS = ['ir:status', 'ir:case', 'ir:request', 'ir:by', 'ir:at'] as const;

export function isolationRecordName(instanceId: string): string {
  return `isolation:${instanceId}`;
}

/**
 * Written when an interface sat in the verified all-traffic group during this request, just before
 * its move into quarantine: the proof behind "open connections cut", which survives a crash.
 */
function cutRecordName(requestId: string, eniId: string): string {
  return `isolation-cut:${requestId}:${eniId}`;
}

/**
 * The "before" of a new isolation when an earlier one was never released (a failed release, an
 * operator who undid it by hand). What the instance holds now is the truth, except interfaces
 * still in ir-bot's own groups: for those, the earlier record knows what they had.
 */
function supersede(old: IsolationRecord | undefined, now: IsolationRecord, quarantineName: string): IsolationRecord & { supersedes?: string } {
  if (!old) return now;
  const ours = new Set([quarantineName, untrackedGroupName(quarantineName)]);
  const interfaces = now.interfaces.map((i) => {
    const earlier = old.interfaces.find((o) => o.id === i.id);
    return i.groups.length > 0 && i.groups.every((g) => ours.has(g.name)) && earlier ? earlier : i;
  });
  return { ...now, interfaces, supersedes: old.requestId };
}

/** The parts of the instance isolation changes; if any differs at execution, the plan is stale. */
function isolationFingerprint(s: InstanceState): string {
  return fingerprint({
    interfaces: s.interfaces.map((i) => [i.id, i.groups.map((g) => g.id).sort()]),
    eips: s.elasticIps.map((e) => [e.allocationId, e.associationId ?? null]),
    asg: s.autoScalingGroup ?? null,
    targets: s.targets.map((t) => [t.targetGroupArn, t.port ?? null]),
    protection: s.protection,
  });
}

const NAT_OR_BASTION = /\b(nat|bastion|jump ?host|jumpbox|vpn|proxy)\b/i;

/** The id of a VPC's quarantine group, as plans label it (execute and verify read the groups themselves). */
const GROUP_IDS_FRESH_MS = 5_000;

function roleWarning(s: InstanceState, sharing: number): string {
  return `its instance role (${s.profileArn}) is shared by ${sharing} other instance(s): revoking the role's sessions would hit them too`;
}

function warningsFor(s: InstanceState, ctx: ActionContext, sharing: Checked<string[]>): string[] {
  const w: string[] = [];
  const exempt = ctx.isolation.exemptionTagKey;
  if (exempt in s.tags) w.push(`carries the exemption tag ${exempt}=${s.tags[exempt] || '(empty)'}: its owners asked not to isolate it without talking to them`);
  for (const t of s.targets) {
    if (t.healthy && t.otherHealthy === 0) w.push(`last healthy target of target group ${t.name}: the service behind it goes down`);
  }
  if (s.spot) w.push('Spot instance: AWS may reclaim it (and its memory) at any time; snapshot it first. Stop protection cannot be set on Spot instances.');
  if (!s.sourceDestCheck) w.push('source/destination check is off: this looks like a NAT instance or router; isolating it cuts traffic for everything routed through it');
  const label = [s.tags.Name, s.tags.Role, s.tags.role].filter(Boolean).join(' ');
  if (NAT_OR_BASTION.test(label)) w.push(`tagged as infrastructure (${label}): NAT, bastion or proxy; isolating it may lock responders out too`);
  if (!sharing.ok) w.push(couldNotCheck(`whether its instance role (${s.profileArn}) is shared with other instances`, sharing.why));
  else if (sharing.value.length > 0) w.push(roleWarning(s, sharing.value.length));
  if (s.autoScalingGroup && !ctx.isolation.detachFromAutoScaling) {
    w.push(`in Auto Scaling group ${s.autoScalingGroup} and isolation.detachFromAutoScaling is off: failed health checks may get it terminated`);
  }
  if (s.state !== 'running') w.push(`the instance is ${s.state}`);
  return w;
}

async function plan([instanceId]: string[], ctx: ActionContext): Promise<PlanView> {
  const { aws, isolation } = ctx;
  let s: InstanceState;
  try {
    s = await describeInstanceState(aws, instanceId, { targets: isolation.deregisterFromTargetGroups });
  } catch (err) {
    if (err instanceof InstanceUnavailable) return blockedPlan(err.message);
    throw err;
  }
  if (!s.vpcId) return blockedPlan(`${instanceId} is not in a VPC (EC2-Classic): security-group isolation does not apply`);
  const qName = isolation.quarantineGroupName;
  // Started now, awaited last: the advisory lookup runs beside the reads the plan needs.
  const sharingCheck = instancesSharingProfile(ctx, s.id, s.profileArn);
  const vpcId = s.vpcId;
  // Plans of concurrent requests in one VPC ask the same question; verify never uses this answer.
  const qId = await shareResult(ctx, groupIdsName(aws, vpcId), GROUP_IDS_FRESH_MS, async () => (await findGroups(aws, vpcId, [qName])).get(qName)?.GroupId ?? null);
  if (qId && s.interfaces.length > 0 && s.interfaces.every((i) => i.groups.length === 1 && i.groups[0].id === qId)) {
    const since = s.tags['ir:at'] ? ` since ${s.tags['ir:at']}` : '';
    return blockedPlan(`${instanceId} is already isolated${since}: every interface is in ${qId} (${qName}). Use \`/ir release ${instanceId}\` to undo.`);
  }
  const sharing = await sharingCheck;
  const data: IsolationPlanData = {
    before: {
      requestId: ctx.requestId,
      instanceId,
      account: aws.account,
      region: aws.region,
      vpcId: s.vpcId,
      recordedAt: ctx.now().toISOString(),
      interfaces: s.interfaces.map((i) => ({ id: i.id, groups: i.groups })),
      elasticIps: s.elasticIps.filter((e) => e.associationId),
      autoScalingGroup: s.autoScalingGroup,
      targets: s.targets.map(({ targetGroupArn, name, port, availabilityZone }) => ({ targetGroupArn, name, port, availabilityZone })),
      protection: s.protection,
      tags: Object.fromEntries(ISOLATION_TAGS.map((k) => [k, k in s.tags ? s.tags[k] : null])),
    },
    detachAutoScaling: isolation.detachFromAutoScaling && !!s.autoScalingGroup,
    deregisterTargets: isolation.deregisterFromTargetGroups && s.targets.length > 0,
    disassociateElasticIps: isolation.disassociateElasticIp && s.elasticIps.some((e) => e.associationId),
    spot: s.spot,
  };

  const summary: string[] = [];
  const protections = [!s.protection.termination && 'termination', !s.protection.stop && !s.spot && 'stop'].filter(Boolean);
  summary.push(protections.length ? `${protections.join(' and ')} protection: off → on` : 'termination and stop protection: already on');
  if (data.detachAutoScaling) summary.push(`detach from Auto Scaling group ${s.autoScalingGroup} (desired capacity kept: the group launches a replacement)`);
  if (data.deregisterTargets) {
    const list = s.targets.map((t) => `${t.name}${t.port ? ` port ${t.port}` : ''}`).join(', ');
    summary.push(`deregister from ${s.targets.length} target group registration(s): ${list}`);
  }
  summary.push(`tag ir:status=isolated, ir:case=${ctx.caseId}, ir:by=${ctx.requestedBy}`);
  const qLabel = qId ? `${qId} (${qName})` : `${qName} (created in ${s.vpcId}: no inbound, no outbound rules)`;
  for (const i of s.interfaces) summary.push(`${i.id}${i.primary ? ' (primary)' : ''}: ${groupList(i.groups)} → ${qLabel}, via an all-traffic group so open connections are cut`);
  if (data.disassociateElasticIps) {
    for (const e of s.elasticIps.filter((x) => x.associationId)) summary.push(`disassociate Elastic IP ${e.publicIp} (${e.allocationId}) from ${e.eniId ?? 'the instance'}`);
  }
  for (const ip of s.autoPublicIps) summary.push(`public IP ${ip} is auto-assigned: it stays until the instance stops, but no traffic passes the quarantine group`);

  const steps = [
    'record the current state',
    'termination and stop protection',
    ...(data.detachAutoScaling ? ['detach from Auto Scaling'] : []),
    ...(data.deregisterTargets ? ['deregister from target groups'] : []),
    'tag the instance',
    'quarantine group',
    'move interfaces to quarantine',
    ...(data.disassociateElasticIps ? ['disassociate Elastic IPs'] : []),
    'verify',
  ];
  const warnings = warningsFor(s, ctx, sharing);
  const bulk = bulkDigest(s, data, qId ? `${qId} (${qName})` : qName);
  // In a bulk plan the role warning counts only instances outside the plan (see eachInstance).
  if (sharing.ok && sharing.value.length) bulk.sharedWith = { instances: sharing.value, warning: roleWarning(s, sharing.value.length) };
  return { summary, warnings, steps, fingerprint: isolationFingerprint(s), data, bulk };
}

/** The plan as one instance among many (see eachInstance): what all share, and what touches production. */
function bulkDigest(s: InstanceState, data: IsolationPlanData, quarantine: string): NonNullable<PlanView['bulk']> {
  const same = [
    data.spot ? 'termination protection on (a Spot instance takes no stop protection)' : 'termination and stop protection on',
    `every interface to ${quarantine}, through an all-traffic group that cuts open connections`,
    `tags ${ISOLATION_TAGS.join(', ')}`,
  ];
  if (s.autoPublicIps.length) same.push('its auto-assigned public IP stays until it stops, but no traffic passes the quarantine group');
  const impact: string[] = [];
  if (data.detachAutoScaling) impact.push(`detach from Auto Scaling group ${s.autoScalingGroup} (desired capacity kept: it launches a replacement)`);
  if (data.deregisterTargets) for (const t of s.targets) impact.push(`deregister from target group ${t.name}${t.port ? ` port ${t.port}` : ''}`);
  if (data.disassociateElasticIps) for (const e of s.elasticIps.filter((x) => x.associationId)) impact.push(`disassociate Elastic IP ${e.publicIp} (${e.allocationId})`);
  return { same, impact };
}

async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const data = p.data as IsolationPlanData;
  const { aws } = ctx;
  const rec = data.before;
  const id = rec.instanceId;
  let groupsIds: { quarantine: string; untracked: string } | undefined;
  const now = ctx.now().toISOString();

  const steps: { label: string; run: () => Promise<string | undefined> }[] = [
    {
      label: 'record the current state',
      run: async () => {
        // Bound to this request: a re-run after a crash keeps it (it must not record the
        // half-isolated state as "before"); one left by an earlier isolation is replaced.
        const old = await ctx.records.get<IsolationRecord>(isolationRecordName(id));
        if (old?.requestId === ctx.requestId) return undefined;
        if (!(await ctx.records.putIfAbsent(isolationRecordName(id), rec))) {
          await ctx.records.replace(isolationRecordName(id), supersede(old, rec, ctx.isolation.quarantineGroupName), ctx.now().getTime());
          return `pre-isolation state recorded (replacing the record of ${old?.requestId ?? 'an earlier isolation'}, never released)`;
        }
        return 'pre-isolation state recorded';
      },
    },
    {
      label: 'termination and stop protection',
      run: async () => {
        const cur = await protectionOf(aws, id);
        if (!cur.termination) await aws.send(aws.clients.ec2, new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: true } }));
        if (!cur.stop && !data.spot) await aws.send(aws.clients.ec2, new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiStop: { Value: true } }));
        return 'termination and stop protection on';
      },
    },
  ];
  if (data.detachAutoScaling) {
    steps.push({
      label: 'detach from Auto Scaling',
      run: async () => {
        const asg = await autoScalingGroupOf(aws, id);
        if (asg) {
          await aws.send(aws.clients.autoScaling, new DetachInstancesCommand({ InstanceIds: [id], AutoScalingGroupName: asg, ShouldDecrementDesiredCapacity: false }));
        }
        return `detached from Auto Scaling group ${rec.autoScalingGroup}`;
      },
    });
  }
  if (data.deregisterTargets) {
    steps.push({
      label: 'deregister from target groups',
      run: async () => {
        for (const t of rec.targets) {
          if (await isTargetRegistered(aws, t, id)) {
            await aws.send(aws.clients.elbv2, new DeregisterTargetsCommand({ TargetGroupArn: t.targetGroupArn, Targets: [{ Id: id, Port: t.port, AvailabilityZone: t.availabilityZone }] }));
          }
        }
        return `deregistered from ${rec.targets.length} target group registration(s)`;
      },
    });
  }
  steps.push(
    {
      label: 'tag the instance',
      run: async () => {
        const tags = { 'ir:status': 'isolated', 'ir:case': ctx.caseId, 'ir:request': ctx.requestId, 'ir:by': ctx.approvedBy ? `${ctx.requestedBy} approved by ${ctx.approvedBy}` : ctx.requestedBy, 'ir:at': now };
        await aws.send(aws.clients.ec2, new CreateTagsCommand({ Resources: [id], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value: Value.slice(0, 255) })) }));
        return 'tagged ir:status=isolated';
      },
    },
    {
      label: 'quarantine group',
      run: async () => {
        groupsIds = await verifiedGroups(ctx, rec.vpcId);
        // A plan made from now on must see the group (e.g. to say the instance is already isolated).
        await ctx.forget?.(groupIdsName(aws, rec.vpcId));
        return 'quarantine and all-traffic groups verified';
      },
    },
    {
      label: 'move interfaces to quarantine',
      run: () => withOpenInterfacesNamed(ctx, rec, groupsIds!, () => groupsGoneOnce(ctx, rec.vpcId, groupsIds!, async (g) => {
        groupsIds = g;
        const current = await interfaceGroups(aws, rec.interfaces.map((i) => i.id));
        let moved = 0;
        for (const i of rec.interfaces) {
          const cur = current.get(i.id);
          if (!cur) continue; // detached or deleted since the plan; verify reports it
          if (cur.length === 1 && cur[0] === g.quarantine) continue;
          if (!(cur.length === 1 && cur[0] === g.untracked)) {
            await aws.send(aws.clients.ec2, new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: i.id, Groups: [g.untracked] }));
          }
          // The all-traffic group's rules were read back by the previous step, or within
          // isolation.groupsVerifiedSeconds by an isolation beside this one; verify reads them again.
          await ctx.records.putIfAbsent(cutRecordName(ctx.requestId, i.id), { at: ctx.now().toISOString() });
          await aws.send(aws.clients.ec2, new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: i.id, Groups: [g.quarantine] }));
          moved++;
        }
        return `network cut: ${rec.interfaces.length} interface(s) in quarantine${moved < rec.interfaces.length ? ` (${rec.interfaces.length - moved} already were)` : ''}`;
      })),
    },
  );
  if (data.disassociateElasticIps) {
    steps.push({
      label: 'disassociate Elastic IPs',
      run: async () => {
        const ours = new Set(rec.interfaces.map((i) => i.id));
        const out = await aws.send(aws.clients.ec2, new DescribeAddressesCommand({ AllocationIds: rec.elasticIps.map((e) => e.allocationId) }));
        for (const a of out.Addresses ?? []) {
          if (a.AssociationId && a.NetworkInterfaceId && ours.has(a.NetworkInterfaceId)) {
            await aws.send(aws.clients.ec2, new DisassociateAddressCommand({ AssociationId: a.AssociationId }));
          }
        }
        return `Elastic IP(s) disassociated: ${rec.elasticIps.map((e) => e.publicIp).join(', ')}`;
      },
    });
  }
  let outcome: ActionOutcome | undefined;
  steps.push({
    label: 'verify',
    run: async () => {
      let checked = await verify(ctx, data, groupsIds!);
      if (!checked.groupsExact) {
        // The shared "verified" groups were changed since (by an operator, or an attacker): fix
        // them again, now, and read everything back once more.
        await ctx.forget?.(groupsName(aws, rec.vpcId));
        groupsIds = await verifiedGroups(ctx, rec.vpcId);
        checked = await verify(ctx, data, groupsIds);
      }
      outcome = checked.outcome;
      return undefined;
    },
  });
  await runSteps(ctx, steps);
  return outcome!;
}

/** The plans' shared answer to "which is this VPC's quarantine group". */
function groupIdsName(aws: Responder, vpcId: string): string {
  return `sg-ids:${aws.account}:${aws.region}:${vpcId}`;
}

/** The lock (and shared answer) of one VPC's isolation groups. */
function groupsName(aws: Responder, vpcId: string): string {
  return `sg:${aws.account}:${aws.region}:${vpcId}`;
}

/**
 * The VPC's two groups, reconciled and read back once for every isolation running in the VPC
 * within `isolation.groupsVerifiedSeconds` (single-flight: concurrent isolations wait for the one
 * reconcile instead of queueing to repeat it).
 */
function verifiedGroups(ctx: ActionContext, vpcId: string): Promise<{ quarantine: string; untracked: string }> {
  return shareResult(ctx, groupsName(ctx.aws, vpcId), ctx.isolation.groupsVerifiedSeconds * 1000, () => ensureIsolationGroups(ctx.aws, vpcId, ctx.isolation.quarantineGroupName));
}

/** A shared group id whose group was deleted since: forget it, make the groups again, and retry once. */
async function groupsGoneOnce<T>(ctx: ActionContext, vpcId: string, g: { quarantine: string; untracked: string }, fn: (g: { quarantine: string; untracked: string }) => Promise<T>): Promise<T> {
  try {
    return await fn(g);
  } catch (err) {
    if (!(err instanceof AwsCallError && err.code === 'InvalidGroup.NotFound') || !ctx.forget) throw err;
    await ctx.forget(groupsName(ctx.aws, vpcId));
    return fn(await verifiedGroups(ctx, vpcId));
  }
}

/**
 * A move that fails for good may leave an interface in the all-traffic group, open to everything:
 * the failure must say so, naming it, so nobody reads "isolation failed" as "nothing changed".
 */
async function withOpenInterfacesNamed<T>(ctx: ActionContext, rec: IsolationRecord, g: { untracked: string }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const now = await interfaceGroups(ctx.aws, rec.interfaces.map((i) => i.id)).catch(() => undefined);
    const open = rec.interfaces.filter((i) => now?.get(i.id)?.includes(g.untracked)).map((i) => i.id);
    if (open.length && err instanceof Error) {
      err.message = `${err.message}. LEFT OPEN: ${open.join(', ')} ${open.length > 1 ? 'are' : 'is'} still in the all-traffic group ${g.untracked} and accept(s) all traffic: move ${open.length > 1 ? 'them' : 'it'} to the quarantine group or back by hand, or retry the isolation`;
    }
    throw err;
  }
}

async function verify(ctx: ActionContext, data: IsolationPlanData, groupIds: { quarantine: string; untracked: string }): Promise<{ outcome: ActionOutcome; groupsExact: boolean }> {
  const { aws } = ctx;
  const rec = data.before;
  const id = rec.instanceId;
  const name = ctx.isolation.quarantineGroupName;
  const quarantineId = groupIds.quarantine;
  const [current, protection, eips, asg, groups, cut] = await Promise.all([
    interfaceGroups(aws, rec.interfaces.map((i) => i.id)),
    protectionOf(aws, id),
    elasticIpsOf(aws, id),
    data.detachAutoScaling ? autoScalingGroupOf(aws, id) : Promise.resolve(undefined),
    findGroups(aws, rec.vpcId, [name, untrackedGroupName(name)]),
    Promise.all(rec.interfaces.map(async (i) => ((await ctx.records.get(cutRecordName(ctx.requestId, i.id))) ? i.id : ''))),
  ]);
  const lines: string[] = [];
  const quarantineExact = groupIsExact(groups.get(name), 'quarantine');
  const untrackedExact = groupIsExact(groups.get(untrackedGroupName(name)), 'untracked');
  const cutVia = new Set(cut.filter(Boolean));
  let ok = true;
  const mark = (good: boolean) => {
    if (!good) ok = false;
    return good ? '✓' : '✗';
  };
  for (const i of rec.interfaces) {
    const cur = current.get(i.id);
    if (!cur) {
      lines.push(`${i.id}: no longer attached or deleted ✗`);
      ok = false;
      continue;
    }
    const good = cur.length === 1 && cur[0] === quarantineId;
    if (!good && cur.includes(groupIds.untracked)) {
      lines.push(`${i.id}: still in the all-traffic group ${groupIds.untracked}: it is OPEN to all traffic ${mark(false)}`);
      continue;
    }
    const how = !good ? '' : cutVia.has(i.id) && untrackedExact ? ', open connections cut' : ', open connections NOT verified cut (it did not pass the all-traffic group in this request)';
    lines.push(`${i.id}: ${good ? `${quarantineId} (${name}) only` : `still in ${cur.join(', ') || 'no groups'}`}${how} ${mark(good)}`);
  }
  lines.push(`${name} (${quarantineId}): ${quarantineExact ? 'no rules' : 'has rules: traffic may pass'} ${mark(quarantineExact)}`);
  lines.push(`termination protection ${protection.termination ? 'on' : 'off'} ${mark(protection.termination)}`);
  if (!data.spot) lines.push(`stop protection ${protection.stop ? 'on' : 'off'} ${mark(protection.stop)}`);
  if (data.detachAutoScaling) lines.push(`Auto Scaling group ${rec.autoScalingGroup}: ${asg ? 'still attached' : 'detached'} ${mark(!asg)}`);
  if (data.deregisterTargets) {
    for (const t of rec.targets) {
      const reg = await isTargetRegistered(aws, t, id);
      lines.push(`target group ${t.name}${t.port ? ` port ${t.port}` : ''}: ${reg ? 'still registered' : 'deregistered'} ${mark(!reg)}`);
    }
  }
  if (data.disassociateElasticIps) {
    for (const e of rec.elasticIps) {
      const still = eips.some((x) => x.allocationId === e.allocationId && x.associationId);
      lines.push(`Elastic IP ${e.publicIp}: ${still ? 'still associated' : 'disassociated'} ${mark(!still)}`);
    }
  }
  const impact = lines.filter((l) => /^(Auto Scaling group|target group|Elastic IP) /.test(l));
  const allCut = ok && rec.interfaces.every((i) => cutVia.has(i.id)) && untrackedExact;
  const notes = [
    allCut
      ? 'Every interface now denies all traffic in and out, including connections that were open before (they were made untracked first, then cut).'
      : 'Connections open before isolation may survive on interfaces not marked "open connections cut": EC2 keeps tracked flows alive across group changes.',
    'Not covered: processes on the instance keep running; credentials it already fetched from its instance role stay valid until they expire (revoke the role\'s sessions); traffic that does not pass the interfaces (e.g. EBS, the metadata service) is unaffected.',
  ];
  const groupsExact = quarantineExact && untrackedExact && groups.get(name)?.GroupId === quarantineId && groups.get(untrackedGroupName(name))?.GroupId === groupIds.untracked;
  return { outcome: { ok, lines, notes, impact }, groupsExact };
}

export const isolateAction: ResponseAction = { plan, execute };

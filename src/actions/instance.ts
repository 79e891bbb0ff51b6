import { DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeAddressesCommand, DescribeInstanceAttributeCommand, DescribeInstancesCommand, DescribeNetworkInterfacesCommand, type Instance } from '@aws-sdk/client-ec2';
import { DescribeTargetGroupsCommand, DescribeTargetHealthCommand, type TargetGroup, type TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import { AwsCallError } from '../aws/errors';
import type { Responder } from '../aws/responder';

export interface InterfaceState {
  id: string;
  primary: boolean;
  groups: { id: string; name: string }[];
  privateIp?: string;
}

export interface ElasticIpState {
  allocationId: string;
  publicIp: string;
  associationId?: string;
  eniId?: string;
  privateIp?: string;
}

export interface TargetRegistration {
  targetGroupArn: string;
  name: string;
  port?: number;
  availabilityZone?: string;
  healthy: boolean;
  /** Healthy targets of the group other than this instance. */
  otherHealthy: number;
}

/** What the response actions need to know about an instance, read in one pass. */
export interface InstanceState {
  id: string;
  state: string;
  vpcId?: string;
  spot: boolean;
  sourceDestCheck: boolean;
  tags: Record<string, string>;
  profileArn?: string;
  interfaces: InterfaceState[];
  /** Public IPs that are not Elastic IPs (auto-assigned): they cannot be removed while running. */
  autoPublicIps: string[];
  elasticIps: ElasticIpState[];
  protection: { termination: boolean; stop: boolean };
  autoScalingGroup?: string;
  targets: TargetRegistration[];
}

/** The instance cannot be acted on; the message says why and what to check. */
export class InstanceUnavailable extends Error {}

export async function findInstance(aws: Responder, id: string): Promise<Instance> {
  let instance: Instance | undefined;
  try {
    const out = await aws.send(aws.clients.ec2, new DescribeInstancesCommand({ InstanceIds: [id] }));
    instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === id);
  } catch (err) {
    if (!(err instanceof AwsCallError && err.kind === 'not-found')) throw err;
  }
  if (!instance) {
    throw new InstanceUnavailable(
      `${id} was not found in account ${aws.account}, region ${aws.region}. If it lives in another region or account, act from its finding's card (which carries both) or check aws.responderRoleArn.`,
    );
  }
  const state = instance.State?.Name ?? 'unknown';
  if (state === 'terminated' || state === 'shutting-down') {
    throw new InstanceUnavailable(`${id} is ${state}: there is nothing left to act on. Snapshots of its volumes, if any were taken, remain.`);
  }
  return instance;
}

async function attribute(aws: Responder, id: string, name: 'disableApiTermination' | 'disableApiStop'): Promise<boolean> {
  const out = await aws.send(aws.clients.ec2, new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: name }));
  return (name === 'disableApiTermination' ? out.DisableApiTermination?.Value : out.DisableApiStop?.Value) ?? false;
}

export async function protectionOf(aws: Responder, id: string): Promise<{ termination: boolean; stop: boolean }> {
  const [termination, stop] = await Promise.all([attribute(aws, id, 'disableApiTermination'), attribute(aws, id, 'disableApiStop')]);
  return { termination, stop };
}

export async function elasticIpsOf(aws: Responder, id: string): Promise<ElasticIpState[]> {
  const out = await aws.send(aws.clients.ec2, new DescribeAddressesCommand({ Filters: [{ Name: 'instance-id', Values: [id] }] }));
  return (out.Addresses ?? [])
    .filter((a) => a.AllocationId && a.PublicIp)
    .map((a) => ({ allocationId: a.AllocationId!, publicIp: a.PublicIp!, associationId: a.AssociationId, eniId: a.NetworkInterfaceId, privateIp: a.PrivateIpAddress }));
}

export async function autoScalingGroupOf(aws: Responder, id: string): Promise<string | undefined> {
  const out = await aws.send(aws.clients.autoScaling, new DescribeAutoScalingInstancesCommand({ InstanceIds: [id] }));
  return out.AutoScalingInstances?.find((a) => a.InstanceId === id)?.AutoScalingGroupName;
}

/** A VPC's instance-type target groups with their targets' health: one read answers for every instance in it. */
export type VpcTargets = { group: TargetGroup; targets: TargetHealthDescription[] }[];

/** ELBv2 cannot be asked "which groups hold this instance": read the VPC's instance-type groups. */
export async function vpcTargets(aws: Responder, vpcId: string | undefined): Promise<VpcTargets> {
  const groups: TargetGroup[] = [];
  let marker: string | undefined;
  do {
    const page = await aws.send(aws.clients.elbv2, new DescribeTargetGroupsCommand({ Marker: marker, PageSize: 400 }));
    groups.push(...(page.TargetGroups ?? []).filter((g) => g.TargetType === 'instance' && (!vpcId || g.VpcId === vpcId)));
    marker = page.NextMarker;
  } while (marker);
  return Promise.all(
    groups.map(async (group) => ({ group, targets: (await aws.send(aws.clients.elbv2, new DescribeTargetHealthCommand({ TargetGroupArn: group.TargetGroupArn }))).TargetHealthDescriptions ?? [] })),
  );
}

export function registrationsIn(vpc: VpcTargets, id: string): TargetRegistration[] {
  const out: TargetRegistration[] = [];
  for (const { group: g, targets: descs } of vpc) {
    const otherHealthy = descs.filter((d) => d.Target?.Id !== id && d.TargetHealth?.State === 'healthy').length;
    for (const d of descs) {
      if (d.Target?.Id !== id) continue;
      out.push({
        targetGroupArn: g.TargetGroupArn!,
        name: g.TargetGroupName ?? g.TargetGroupArn!,
        port: d.Target.Port,
        availabilityZone: d.Target.AvailabilityZone,
        healthy: d.TargetHealth?.State === 'healthy',
        otherHealthy,
      });
    }
  }
  return out.sort((a, b) => a.targetGroupArn.localeCompare(b.targetGroupArn) || (a.port ?? 0) - (b.port ?? 0));
}

export async function targetRegistrationsOf(aws: Responder, id: string, vpcId: string | undefined): Promise<TargetRegistration[]> {
  return registrationsIn(await vpcTargets(aws, vpcId), id);
}

export async function describeInstanceState(aws: Responder, id: string, opts: { targets: boolean }): Promise<InstanceState> {
  const i = await findInstance(aws, id);
  const [protection, elasticIps, autoScalingGroup, targets] = await Promise.all([
    protectionOf(aws, id),
    elasticIpsOf(aws, id),
    autoScalingGroupOf(aws, id),
    opts.targets ? targetRegistrationsOf(aws, id, i.VpcId) : Promise.resolve([]),
  ]);
  const eips = new Set(elasticIps.map((e) => e.publicIp));
  const interfaces = (i.NetworkInterfaces ?? [])
    .map((n) => ({
      id: n.NetworkInterfaceId!,
      primary: n.Attachment?.DeviceIndex === 0,
      groups: (n.Groups ?? []).map((g) => ({ id: g.GroupId!, name: g.GroupName ?? g.GroupId! })),
      privateIp: n.PrivateIpAddress,
    }))
    .sort((a, b) => Number(b.primary) - Number(a.primary) || a.id.localeCompare(b.id));
  const publicIps = (i.NetworkInterfaces ?? []).flatMap((n) => (n.PrivateIpAddresses ?? []).map((p) => p.Association?.PublicIp).filter((x): x is string => !!x));
  if (i.PublicIpAddress) publicIps.push(i.PublicIpAddress);
  return {
    id,
    state: i.State?.Name ?? 'unknown',
    vpcId: i.VpcId,
    spot: i.InstanceLifecycle === 'spot',
    sourceDestCheck: i.SourceDestCheck !== false,
    tags: Object.fromEntries((i.Tags ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? ''])),
    profileArn: i.IamInstanceProfile?.Arn,
    interfaces,
    autoPublicIps: [...new Set(publicIps)].filter((ip) => !eips.has(ip)),
    elasticIps,
    protection,
    autoScalingGroup,
    targets,
  };
}

export function groupList(groups: { id: string; name: string }[]): string {
  return groups.length ? groups.map((g) => (g.name && g.name !== g.id ? `${g.id} (${g.name})` : g.id)).join(', ') : 'no groups';
}

/** Security groups per interface, as they are now; interfaces that no longer exist are absent. */
export async function interfaceGroups(aws: Responder, eniIds: string[]): Promise<Map<string, string[]>> {
  if (eniIds.length === 0) return new Map();
  const out = await aws.send(aws.clients.ec2, new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'network-interface-id', Values: eniIds }] }));
  return new Map((out.NetworkInterfaces ?? []).map((n) => [n.NetworkInterfaceId!, (n.Groups ?? []).map((g) => g.GroupId!)]));
}

/** Whether the instance is (still) a target of the group on that port; draining counts as gone. */
export async function isTargetRegistered(aws: Responder, t: { targetGroupArn: string; port?: number; availabilityZone?: string }, instanceId: string): Promise<boolean> {
  const out = await aws.send(
    aws.clients.elbv2,
    new DescribeTargetHealthCommand({ TargetGroupArn: t.targetGroupArn, Targets: [{ Id: instanceId, Port: t.port, AvailabilityZone: t.availabilityZone }] }),
  );
  const state = out.TargetHealthDescriptions?.[0]?.TargetHealth?.State;
  return state !== undefined && state !== 'unused' && state !== 'draining';
}

import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { AwsCallError } from '../aws/errors';
import type { Responder } from '../aws/responder';

/**
 * Two groups per VPC. The quarantine group has no rules at all. The "untracked" group allows all
 * traffic both ways over IPv4 and IPv6: EC2 stops tracking flows through such a group, so moving
 * an interface through it first and then into quarantine cuts connections that were already
 * open (changing groups alone leaves tracked connections alive).
 */
export function untrackedGroupName(quarantineName: string): string {
  return `${quarantineName}-untracked`;
}

const ALL_TRAFFIC = [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] }];

export async function findGroups(aws: Responder, vpcId: string, names: string[]): Promise<Map<string, SecurityGroup>> {
  const out = await aws.send(
    aws.clients.ec2,
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: names }] }),
  );
  return new Map((out.SecurityGroups ?? []).filter((g) => g.GroupName).map((g) => [g.GroupName!, g]));
}

function ignoreDuplicate(err: unknown): void {
  if (err instanceof AwsCallError && /Duplicate/.test(err.code)) return;
  throw err;
}

async function create(aws: Responder, vpcId: string, name: string, description: string): Promise<string> {
  try {
    const out = await aws.send(
      aws.clients.ec2,
      new CreateSecurityGroupCommand({
        GroupName: name,
        Description: description,
        VpcId: vpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'ir:managed-by', Value: 'ir-bot' }] }],
      }),
    );
    return out.GroupId!;
  } catch (err) {
    if (err instanceof AwsCallError && err.kind === 'access-denied') {
      throw new AwsCallError(
        'access-denied',
        err.iamAction,
        err.code,
        `cannot create security group ${name} in ${vpcId}: ${err.iamAction} is denied. Grant it, or create ${name} by hand (${description}).`,
      );
    }
    // Another isolation in the same VPC created it a moment ago.
    if (err instanceof AwsCallError && /Duplicate/.test(err.code)) {
      const again = (await findGroups(aws, vpcId, [name])).get(name);
      if (again?.GroupId) return again.GroupId;
    }
    throw err;
  }
}

/** Makes sure both groups exist with exactly their intended rules; returns their ids. */
export async function ensureIsolationGroups(aws: Responder, vpcId: string, quarantineName: string): Promise<{ quarantine: string; untracked: string }> {
  const untrackedName = untrackedGroupName(quarantineName);
  const found = await findGroups(aws, vpcId, [quarantineName, untrackedName]);
  const q = found.get(quarantineName);
  const quarantine = q?.GroupId ?? (await create(aws, vpcId, quarantineName, 'ir-bot quarantine: no inbound, no outbound'));
  // A new group comes with an allow-all egress rule; a found one may have had rules added by hand.
  const qIngress = q?.IpPermissions ?? [];
  const qEgress = q ? (q.IpPermissionsEgress ?? []) : [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }];
  if (qIngress.length) await aws.send(aws.clients.ec2, new RevokeSecurityGroupIngressCommand({ GroupId: quarantine, IpPermissions: qIngress }));
  if (qEgress.length) await aws.send(aws.clients.ec2, new RevokeSecurityGroupEgressCommand({ GroupId: quarantine, IpPermissions: qEgress }));

  const u = found.get(untrackedName);
  const untracked = u?.GroupId ?? (await create(aws, vpcId, untrackedName, 'ir-bot isolation step: all traffic, so flows become untracked'));
  if (!u) {
    await aws.send(aws.clients.ec2, new AuthorizeSecurityGroupIngressCommand({ GroupId: untracked, IpPermissions: ALL_TRAFFIC })).catch(ignoreDuplicate);
    await aws
      .send(aws.clients.ec2, new AuthorizeSecurityGroupEgressCommand({ GroupId: untracked, IpPermissions: [{ IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] }] }))
      .catch(ignoreDuplicate);
  }
  return { quarantine, untracked };
}

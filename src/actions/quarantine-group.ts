import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
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

const ALL_TRAFFIC: IpPermission[] = [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] }];
const WANT = {
  quarantine: { ingress: [] as IpPermission[], egress: [] as IpPermission[] },
  untracked: { ingress: ALL_TRAFFIC, egress: ALL_TRAFFIC },
};

/** One entry per protocol, port range and peer: the grain at which EC2 adds and removes rules. */
export function ruleAtoms(perms: IpPermission[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const p of perms ?? []) {
    const head = `${p.IpProtocol}|${p.FromPort ?? ''}|${p.ToPort ?? ''}`;
    for (const r of p.IpRanges ?? []) out.add(`${head}|${r.CidrIp}`);
    for (const r of p.Ipv6Ranges ?? []) out.add(`${head}|${r.CidrIpv6}`);
    for (const r of p.UserIdGroupPairs ?? []) out.add(`${head}|${r.GroupId}`);
    for (const r of p.PrefixListIds ?? []) out.add(`${head}|${r.PrefixListId}`);
  }
  return out;
}

function sameRules(have: IpPermission[] | undefined, want: IpPermission[]): boolean {
  const a = ruleAtoms(have);
  const b = ruleAtoms(want);
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** The group's rules are exactly its intended ones (both directions). */
export function groupIsExact(g: SecurityGroup | undefined, kind: 'quarantine' | 'untracked'): boolean {
  return !!g && sameRules(g.IpPermissions, WANT[kind].ingress) && sameRules(g.IpPermissionsEgress, WANT[kind].egress);
}

export async function findGroups(aws: Responder, vpcId: string, names: string[]): Promise<Map<string, SecurityGroup>> {
  const out = await aws.send(
    aws.clients.ec2,
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: names }] }),
  );
  return new Map((out.SecurityGroups ?? []).filter((g) => g.GroupName).map((g) => [g.GroupName!, g]));
}

/** A rule already there (add) or already gone (remove) is the goal reached, not a failure. */
function goalReached(...codes: string[]) {
  return (err: unknown): void => {
    if (err instanceof AwsCallError && codes.includes(err.code)) return;
    throw err;
  };
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
        `cannot create security group ${name} in ${vpcId}: ${err.iamAction} is denied. Grant it, or create ${name} by hand (${description}); ir-bot sets its rules itself.`,
      );
    }
    // Another isolation in the same VPC created it a moment ago.
    if (err instanceof AwsCallError && err.code === 'InvalidGroup.Duplicate') {
      const again = (await findGroups(aws, vpcId, [name])).get(name);
      if (again?.GroupId) return again.GroupId;
    }
    throw err;
  }
}

async function describeGroup(aws: Responder, groupId: string): Promise<SecurityGroup | undefined> {
  const out = await aws.send(aws.clients.ec2, new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
  return out.SecurityGroups?.[0];
}

function minus(have: IpPermission[] | undefined, want: IpPermission[]): IpPermission[] {
  const keep = ruleAtoms(want);
  return (have ?? []).filter((p) => [...ruleAtoms([p])].some((a) => !keep.has(a)));
}

/** The rules of `want` not in `have`, one permission per rule: EC2 refuses a whole call if any exists. */
function lacking(have: IpPermission[] | undefined, want: IpPermission[]): IpPermission[] {
  const got = ruleAtoms(have);
  const out: IpPermission[] = [];
  for (const p of want) {
    const head = `${p.IpProtocol}|${p.FromPort ?? ''}|${p.ToPort ?? ''}`;
    const base = { IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort };
    for (const r of p.IpRanges ?? []) if (!got.has(`${head}|${r.CidrIp}`)) out.push({ ...base, IpRanges: [r] });
    for (const r of p.Ipv6Ranges ?? []) if (!got.has(`${head}|${r.CidrIpv6}`)) out.push({ ...base, Ipv6Ranges: [r] });
  }
  return out;
}

/**
 * Brings a group's rules to exactly `want`, whoever made it and whatever it holds now, and reads
 * it back until it matches: another worker, an operator or an attacker may be changing it too.
 */
async function reconcile(aws: Responder, groupId: string, kind: 'quarantine' | 'untracked'): Promise<void> {
  const want = WANT[kind];
  for (let round = 1; round <= 5; round++) {
    const g = await describeGroup(aws, groupId);
    if (!g) throw new Error(`security group ${groupId} disappeared while ir-bot was setting its rules`);
    if (groupIsExact(g, kind)) return;
    const ec2 = aws.clients.ec2;
    const extraIn = minus(g.IpPermissions, want.ingress);
    const extraOut = minus(g.IpPermissionsEgress, want.egress);
    // Removing a rule someone else just removed: NotFound. Adding one that exists: Duplicate.
    if (extraIn.length) await aws.send(ec2, new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: extraIn })).catch(goalReached('InvalidPermission.NotFound'));
    if (extraOut.length) await aws.send(ec2, new RevokeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: extraOut })).catch(goalReached('InvalidPermission.NotFound'));
    const addIn = lacking(g.IpPermissions, want.ingress);
    const addOut = lacking(g.IpPermissionsEgress, want.egress);
    if (addIn.length) await aws.send(ec2, new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: addIn })).catch(goalReached('InvalidPermission.Duplicate'));
    if (addOut.length) await aws.send(ec2, new AuthorizeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: addOut })).catch(goalReached('InvalidPermission.Duplicate'));
  }
  throw new Error(`the rules of security group ${groupId} kept changing while ir-bot set them: something else is editing it`);
}

/**
 * Makes sure both groups exist with exactly their intended rules, verified by reading them back;
 * returns their ids. Safe to run from many workers at once, and on groups made by someone else.
 */
export async function ensureIsolationGroups(aws: Responder, vpcId: string, quarantineName: string): Promise<{ quarantine: string; untracked: string }> {
  const untrackedName = untrackedGroupName(quarantineName);
  const found = await findGroups(aws, vpcId, [quarantineName, untrackedName]);
  const quarantine = found.get(quarantineName)?.GroupId ?? (await create(aws, vpcId, quarantineName, 'ir-bot quarantine: no inbound, no outbound'));
  const untracked = found.get(untrackedName)?.GroupId ?? (await create(aws, vpcId, untrackedName, 'ir-bot isolation step: all traffic, so flows become untracked'));
  await reconcile(aws, quarantine, 'quarantine');
  await reconcile(aws, untracked, 'untracked');
  return { quarantine, untracked };
}

import { DescribeSecurityGroupsCommand, RevokeSecurityGroupEgressCommand, RevokeSecurityGroupIngressCommand, type IpPermission, type SecurityGroup } from '@aws-sdk/client-ec2';
import { DeleteAccessKeyCommand, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { AwsCallError } from '../aws/errors';
import type { Responder } from '../aws/responder';
import { principalWrites, ruleText, type Trail } from './blast-radius';
import { readUntil } from './iam';
import type { ActionOutcome, PlanView } from './results';
import { blockedPlan, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

/**
 * Eradication of what a compromised principal added, found in its CloudTrail writes: the access
 * keys it created (deleted) and the security-group rules it authorised (revoked, exactly those).
 * Both always need approval (see ALWAYS_APPROVAL); neither touches anything the principal did not add.
 */

const PRINCIPAL = /^(AKIA|ASIA)[A-Z0-9]{16}$|^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role)\//;

/** "None found" from a history cut at blastRadius.maxEvents is not an all-clear. */
const cut = (partial: boolean) => (partial ? ' as far as it was read: the event limit (blastRadius.maxEvents) was reached, so older events were not' : '');

// ---------------------------------------------------------------- access keys it created

interface CreatedKey {
  keyId: string;
  userName: string;
  createdAt: string;
  status?: string;
}

async function keyStatus(aws: Responder, userName: string, keyId: string): Promise<string | undefined> {
  try {
    const out = await aws.send(aws.clients.iam, new ListAccessKeysCommand({ UserName: userName }));
    return out.AccessKeyMetadata?.find((k) => k.AccessKeyId === keyId)?.Status;
  } catch (err) {
    if (err instanceof AwsCallError && err.kind === 'not-found') return undefined;
    throw err;
  }
}

export function createdKeys(trails: Trail[]): CreatedKey[] {
  return trails
    .filter((t) => !t.errorCode && t.eventName === 'CreateAccessKey' && t.responseElements?.accessKey?.accessKeyId)
    .map((t) => ({ keyId: t.responseElements.accessKey.accessKeyId, userName: t.responseElements.accessKey.userName ?? t.requestParameters?.userName, createdAt: t.eventTime }))
    .filter((k) => !!k.userName);
}

async function planDeleteKeys(targets: string[], ctx: ActionContext): Promise<PlanView> {
  const [principal] = targets;
  if (!PRINCIPAL.test(principal)) return blockedPlan(`${principal} is neither an access key id nor an IAM principal ARN`);
  const { trails, scope, iamUnknown, partial } = await principalWrites(ctx, principal);
  const keys = createdKeys(trails);
  for (const k of keys) k.status = await keyStatus(ctx.aws, k.userName, k.keyId);
  const live = keys.filter((k) => k.status);
  if (live.length === 0) {
    // "Created none" from a history we could not read would be a false all-clear on persistence keys.
    if (iamUnknown) return blockedPlan(`Which access keys ${principal} created is unknown. ${iamUnknown}`);
    return blockedPlan(
      keys.length
        ? `Every access key ${principal} created is already deleted: ${keys.map((k) => `${k.keyId} (user ${k.userName})`).join(', ')}`
        : `${principal} created no access key in CloudTrail's ${ctx.blastRadius.lookbackDays}-day history${cut(partial)}`,
    );
  }
  return {
    summary: [
      ...live.map((k) => `delete ${k.keyId} of user ${k.userName} (${k.status}, created by ${principal} at ${k.createdAt})`),
      ...keys.filter((k) => !k.status).map((k) => `${k.keyId} of user ${k.userName}: already deleted`),
      `attribution: ${scope}`,
    ],
    warnings: ['Deleting a key cannot be undone: whatever uses it stops working for good. Only keys this principal created are listed.', ...(iamUnknown ? [iamUnknown] : [])],
    steps: ['delete access keys', 'verify'],
    fingerprint: fingerprint(live.map((k) => [k.keyId, k.status])),
    data: { principal, keys: live },
  };
}

async function executeDeleteKeys(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const { aws } = ctx;
  const { principal, keys } = p.data as { principal: string; keys: CreatedKey[] };
  const lines: string[] = [];
  let ok = true;
  await runSteps(ctx, [
    {
      label: 'delete access keys',
      run: async () => {
        for (const k of keys) {
          try {
            await aws.send(aws.clients.iam, new DeleteAccessKeyCommand({ UserName: k.userName, AccessKeyId: k.keyId }));
          } catch (err) {
            if (!(err instanceof AwsCallError && err.kind === 'not-found')) throw err;
          }
        }
        return `deleted ${keys.map((k) => k.keyId).join(', ')}`;
      },
    },
    {
      label: 'verify',
      run: async () => {
        for (const k of keys) {
          const r = await readUntil(ctx, () => keyStatus(aws, k.userName, k.keyId), (s) => s === undefined);
          ok &&= r.ok;
          lines.push(`${k.keyId} of user ${k.userName}: ${r.ok ? 'deleted ✓' : `still listed (${r.value}) ✗`}`);
        }
        return undefined;
      },
    },
  ]);
  return { ok, lines, notes: [`Keys created by ${principal}, found in CloudTrail. Deny-all and disable-key on the principal itself are separate requests.`] };
}

export const deleteKeysAction: ResponseAction = { plan: planDeleteKeys, execute: executeDeleteKeys };

// ---------------------------------------------------------------- security-group rules it added

interface AddedRule {
  groupId: string;
  /** The group as the call named it when it gave a name (default VPC) instead of an id. */
  groupName?: string;
  direction: 'ingress' | 'egress';
  /** One protocol/port range and one source: revoked on its own, so one rule already gone does not fail the rest. */
  permission: IpPermission;
  text: string;
  addedAt: string;
  /** present / gone: read from the group; group-gone: no such group; unresolved: a name that names no group. */
  status?: 'present' | 'gone' | 'group-gone' | 'unresolved';
}

/** EC2 takes protocol numbers or names in any case, and lists tcp, udp, icmp and icmpv6 by name. */
const PROTOCOL_NAMES: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6', all: '-1' };
export const protocolOf = (p: unknown): string => {
  const s = String(p ?? '-1').toLowerCase();
  return PROTOCOL_NAMES[s] ?? s;
};

function textOf(p: IpPermission): string {
  return ruleText({
    ipProtocol: p.IpProtocol,
    fromPort: p.FromPort,
    toPort: p.ToPort,
    ipRanges: { items: (p.IpRanges ?? []).map((r) => ({ cidrIp: r.CidrIp })) },
    ipv6Ranges: { items: (p.Ipv6Ranges ?? []).map((r) => ({ cidrIpv6: r.CidrIpv6 })) },
    groups: { items: (p.UserIdGroupPairs ?? []).map((g) => ({ groupId: g.GroupId ?? `named ${g.GroupName}` })) },
    prefixListIds: { items: (p.PrefixListIds ?? []).map((x) => ({ prefixListId: x.PrefixListId })) },
  });
}

/** The API's older flat form (CidrIp, IpProtocol, ports, SourceSecurityGroupName/Id) as one permission. */
function flatPermission(rq: any): any[] {
  if (!rq.cidrIp && !rq.sourceSecurityGroupName && !rq.sourceSecurityGroupId) return [];
  const group = rq.sourceSecurityGroupId ? { groupId: rq.sourceSecurityGroupId } : rq.sourceSecurityGroupName ? { groupName: rq.sourceSecurityGroupName } : undefined;
  return [{ ipProtocol: rq.ipProtocol, fromPort: rq.fromPort, toPort: rq.toPort, ipRanges: rq.cidrIp ? { items: [{ cidrIp: rq.cidrIp }] } : undefined, groups: group ? { items: [group] } : undefined }];
}

/**
 * CloudTrail's lowercase request parameters, split into one EC2 permission per source, with the
 * protocol as EC2 lists it. A group (or source group) the call named by name keeps its name until
 * resolveNames() finds its id; the response's rule set, when CloudTrail has it, already names the id.
 */
export function addedRules(trails: Trail[]): AddedRule[] {
  const out: AddedRule[] = [];
  for (const t of trails) {
    const m = /^AuthorizeSecurityGroup(Ingress|Egress)$/.exec(t.eventName);
    const rq = t.requestParameters;
    if (!m || t.errorCode || !rq) continue;
    const groupId: string = rq.groupId ?? t.responseElements?.securityGroupRuleSet?.items?.[0]?.groupId ?? '';
    if (!groupId && !rq.groupName) continue;
    for (const p of rq.ipPermissions?.items ?? flatPermission(rq)) {
      const base = { IpProtocol: protocolOf(p.ipProtocol), FromPort: p.fromPort, ToPort: p.toPort };
      const sources: IpPermission[] = [
        ...(p.ipRanges?.items ?? []).map((r: any) => ({ ...base, IpRanges: [{ CidrIp: r.cidrIp }] })),
        ...(p.ipv6Ranges?.items ?? []).map((r: any) => ({ ...base, Ipv6Ranges: [{ CidrIpv6: r.cidrIpv6 }] })),
        ...(p.groups?.items ?? []).map((g: any) => ({ ...base, UserIdGroupPairs: [g.groupId ? { GroupId: g.groupId } : { GroupName: g.groupName }] })),
        ...(p.prefixListIds?.items ?? []).map((x: any) => ({ ...base, PrefixListIds: [{ PrefixListId: x.prefixListId }] })),
      ];
      for (const permission of sources) {
        out.push({ groupId, groupName: groupId ? undefined : rq.groupName, direction: m[1] === 'Ingress' ? 'ingress' : 'egress', permission, text: textOf(permission), addedAt: t.eventTime });
      }
    }
  }
  return out;
}

/** The first time each rule was added: the same rule added again (by id, name or number) is one rule. */
function distinct(rules: AddedRule[]): AddedRule[] {
  const seen = new Set<string>();
  return rules.filter((r) => {
    const key = `${r.groupId || `named ${r.groupName}`} ${r.direction} ${r.text}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/**
 * Names to ids, the way EC2 resolved them when the call was made: a GroupName parameter means the
 * group of that name in the default VPC, which is what DescribeSecurityGroups' GroupNames looks up.
 */
async function resolveNames(aws: Responder, rules: AddedRule[]): Promise<void> {
  const names = new Set<string>();
  for (const r of rules) {
    if (!r.groupId && r.groupName) names.add(r.groupName);
    for (const g of r.permission.UserIdGroupPairs ?? []) if (!g.GroupId && g.GroupName) names.add(g.GroupName);
  }
  const ids = new Map<string, string>();
  for (const name of names) {
    try {
      const out = await aws.send(aws.clients.ec2, new DescribeSecurityGroupsCommand({ GroupNames: [name] }));
      const id = out.SecurityGroups?.[0]?.GroupId;
      if (id) ids.set(name, id);
    } catch (err) {
      if (!(err instanceof AwsCallError && err.kind === 'not-found')) throw err;
    }
  }
  for (const r of rules) {
    if (!r.groupId && r.groupName && ids.has(r.groupName)) r.groupId = ids.get(r.groupName)!;
    const pairs = r.permission.UserIdGroupPairs;
    if (pairs?.[0] && !pairs[0].GroupId && pairs[0].GroupName && ids.has(pairs[0].GroupName)) {
      r.permission = { ...r.permission, UserIdGroupPairs: [{ GroupId: ids.get(pairs[0].GroupName) }] };
      r.text = textOf(r.permission);
    }
  }
}

const resolved = (r: AddedRule) => !!r.groupId && !(r.permission.UserIdGroupPairs ?? []).some((g) => !g.GroupId);

function sameRange(a: IpPermission, b: IpPermission): boolean {
  const norm = (x?: number) => (x === undefined || x === null ? -1 : x);
  const proto = protocolOf(a.IpProtocol);
  return proto === protocolOf(b.IpProtocol) && (proto === '-1' || (norm(a.FromPort) === norm(b.FromPort) && norm(a.ToPort) === norm(b.ToPort)));
}

export function ruleIsPresent(group: SecurityGroup, r: AddedRule): boolean {
  const perms = (r.direction === 'ingress' ? group.IpPermissions : group.IpPermissionsEgress) ?? [];
  const w = r.permission;
  return perms.some(
    (p) =>
      sameRange(p, w) &&
      ((w.IpRanges?.[0] && (p.IpRanges ?? []).some((x) => x.CidrIp === w.IpRanges![0].CidrIp)) ||
        (w.Ipv6Ranges?.[0] && (p.Ipv6Ranges ?? []).some((x) => x.CidrIpv6?.toLowerCase() === w.Ipv6Ranges![0].CidrIpv6?.toLowerCase())) ||
        (w.UserIdGroupPairs?.[0] && (p.UserIdGroupPairs ?? []).some((x) => x.GroupId === w.UserIdGroupPairs![0].GroupId)) ||
        (w.PrefixListIds?.[0] && (p.PrefixListIds ?? []).some((x) => x.PrefixListId === w.PrefixListIds![0].PrefixListId))),
  );
}

async function groupsById(aws: Responder, ids: string[]): Promise<Map<string, SecurityGroup>> {
  if (ids.length === 0) return new Map();
  const out = await aws.send(aws.clients.ec2, new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: ids }] }));
  return new Map((out.SecurityGroups ?? []).map((g) => [g.GroupId!, g]));
}

async function markPresent(aws: Responder, rules: AddedRule[]): Promise<void> {
  const groups = await groupsById(aws, [...new Set(rules.filter(resolved).map((r) => r.groupId))]);
  for (const r of rules) {
    const g = groups.get(r.groupId);
    r.status = !resolved(r) ? 'unresolved' : !g ? 'group-gone' : ruleIsPresent(g, r) ? 'present' : 'gone';
  }
}

const describeRule = (r: AddedRule) => `${r.groupId || `group named ${r.groupName}`} ${r.direction === 'ingress' ? 'inbound' : 'outbound'} ${r.text}`;

function whyNotLive(r: AddedRule): string {
  if (r.status === 'unresolved') return 'unknown: a group it names by name is not in the default VPC any more (or was renamed); check the rule by hand';
  return r.status === 'group-gone' ? 'already gone (group deleted)' : 'already gone';
}

async function planRevokeRules(targets: string[], ctx: ActionContext): Promise<PlanView> {
  const [principal] = targets;
  if (!PRINCIPAL.test(principal)) return blockedPlan(`${principal} is neither an access key id nor an IAM principal ARN`);
  const { trails, scope, partial } = await principalWrites(ctx, principal);
  const rules = addedRules(trails);
  await resolveNames(ctx.aws, rules);
  const all = distinct(rules);
  await markPresent(ctx.aws, all);
  const live = all.filter((r) => r.status === 'present');
  if (live.length === 0) {
    if (all.some((r) => r.status === 'unresolved')) return blockedPlan(`Nothing ${principal} added can be revoked by id: ${all.map((r) => `${describeRule(r)}: ${whyNotLive(r)}`).join('; ')}`);
    return blockedPlan(all.length ? `Every rule ${principal} added is already gone: ${all.map(describeRule).join('; ')}` : `${principal} added no security-group rule in CloudTrail's ${ctx.blastRadius.lookbackDays}-day history${cut(partial)}`);
  }
  return {
    summary: [
      ...live.map((r) => `revoke ${describeRule(r)} (added by ${principal} at ${r.addedAt})`),
      ...all.filter((r) => r.status !== 'present').map((r) => `${describeRule(r)}: ${whyNotLive(r)}`),
      `attribution: ${scope}`,
    ],
    warnings: ['Only the rules this principal authorised are revoked, exactly as CloudTrail recorded them; other rules in the same groups stay. A rule someone else later added with the same source is revoked too.'],
    steps: ['revoke rules', 'verify'],
    fingerprint: fingerprint(live.map(describeRule)),
    data: { principal, rules: live },
  };
}

async function executeRevokeRules(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const { aws } = ctx;
  const { principal, rules } = p.data as { principal: string; rules: AddedRule[] };
  await runSteps(ctx, [
    {
      label: 'revoke rules',
      run: async () => {
        for (const r of rules) {
          const input = { GroupId: r.groupId, IpPermissions: [r.permission] };
          try {
            if (r.direction === 'ingress') await aws.send(aws.clients.ec2, new RevokeSecurityGroupIngressCommand(input));
            else await aws.send(aws.clients.ec2, new RevokeSecurityGroupEgressCommand(input));
          } catch (err) {
            // Gone already (revoked by hand, or by an earlier attempt of this job).
            if (!(err instanceof AwsCallError && err.kind === 'not-found')) throw err;
          }
        }
        return `revoked ${rules.length} rule(s)`;
      },
    },
    { label: 'verify', run: async () => (await markPresent(aws, rules), undefined) },
  ]);
  return {
    ok: rules.every((r) => r.status !== 'present'),
    lines: rules.map((r) => `${describeRule(r)}: ${r.status === 'present' ? 'still there ✗' : 'revoked ✓'}`),
    notes: [`Rules authorised by ${principal}, from CloudTrail's request parameters.`],
  };
}

export const revokeRulesAction: ResponseAction = { plan: planRevokeRules, execute: executeRevokeRules };

import { LookupEventsCommand, type CloudTrailClient, type Event, type LookupAttribute } from '@aws-sdk/client-cloudtrail';
import { DescribeInstancesCommand, DescribeKeyPairsCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { GetAccessKeyLastUsedCommand, GetUserCommand, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { AwsCallError } from '../aws/errors';
import { globalEventRegion } from '../aws/identifiers';
import type { Responder } from '../aws/responder';
import type { ActionOutcome, PlanView } from './results';
import { blockedPlan, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

/**
 * The blast radius of a principal (the playbook's "discover all resources provisioned, modified,
 * and deleted"): every write it made in CloudTrail's event history, grouped by resource, with the
 * resource's current state where it can be read. Read-only.
 */

export type ResourceKind = 'instance' | 'security-group' | 'key-pair' | 'iam-user' | 'access-key' | 'iam-role' | 'iam-policy' | 'network' | 'lambda' | 'quota' | 'other';

export interface TouchedResource {
  kind: ResourceKind;
  id: string;
  /** API calls that touched it, oldest first, e.g. ["CreateSecurityGroup", "AuthorizeSecurityGroupIngress"]. */
  events: string[];
  firstAt: string;
  detail: string[];
  state?: string;
}

export interface BlastRadius {
  principal: { accessKeyId?: string; userName?: string; arn?: string };
  /** Whose events were kept, in words: the plan and the result say it. */
  scope: string;
  /** Why the global-service events (IAM, STS, sign-in) could not be read; absent when they were. */
  iamUnknown?: string;
  writes: number;
  failedWrites: number;
  /** The event history was cut at maxEvents. */
  partial: boolean;
  resources: TouchedResource[];
}

const KIND_LABEL: Record<ResourceKind, string> = {
  instance: 'instance',
  'security-group': 'security group',
  'key-pair': 'key pair',
  'iam-user': 'IAM user',
  'access-key': 'access key',
  'iam-role': 'IAM role',
  'iam-policy': 'IAM policy',
  network: 'network',
  lambda: 'Lambda function',
  quota: 'service quota increase',
  other: 'other',
};
const ORDER = Object.keys(KIND_LABEL) as ResourceKind[];

export interface Trail {
  eventName: string;
  eventSource: string;
  eventTime: string;
  readOnly: boolean;
  errorCode?: string;
  requestParameters?: any;
  responseElements?: any;
  /** Who made the call, from `userIdentity`: the only thing an event is attributed by. */
  identity: { type?: string; arn?: string; accessKeyId?: string; userName?: string; issuerArn?: string };
}

function parse(e: Event): Trail | undefined {
  try {
    const d = JSON.parse(e.CloudTrailEvent ?? '{}');
    return {
      eventName: d.eventName ?? e.EventName ?? '?',
      eventSource: d.eventSource ?? e.EventSource ?? '',
      eventTime: d.eventTime ?? e.EventTime?.toISOString() ?? '',
      readOnly: d.readOnly === true || e.ReadOnly === 'true',
      errorCode: d.errorCode,
      requestParameters: d.requestParameters ?? undefined,
      responseElements: d.responseElements ?? undefined,
      identity: {
        type: d.userIdentity?.type,
        arn: d.userIdentity?.arn,
        accessKeyId: d.userIdentity?.accessKeyId,
        userName: d.userIdentity?.userName,
        issuerArn: d.userIdentity?.sessionContext?.sessionIssuer?.arn,
      },
    };
  } catch {
    return undefined;
  }
}

/** One CloudTrail permission entry, e.g. "tcp 22 from 0.0.0.0/0". */
export function ruleText(p: any): string {
  const proto = p.ipProtocol === '-1' ? 'all traffic' : `${p.ipProtocol}${p.fromPort !== undefined ? ` ${p.fromPort === p.toPort ? p.fromPort : `${p.fromPort}-${p.toPort}`}` : ''}`;
  const from = [
    ...(p.ipRanges?.items ?? []).map((r: any) => r.cidrIp),
    ...(p.ipv6Ranges?.items ?? []).map((r: any) => r.cidrIpv6),
    ...(p.groups?.items ?? []).map((g: any) => g.groupId),
    ...(p.prefixListIds?.items ?? []).map((x: any) => x.prefixListId),
  ].filter(Boolean);
  return `${proto} ${from.length ? from.join(', ') : 'nowhere'}`;
}

/** The resources one write touched; most calls touch one, RunInstances as many as it launched. */
export function touched(t: Trail): { kind: ResourceKind; id: string; detail?: string }[] {
  const rq = t.requestParameters ?? {};
  const rs = t.responseElements ?? {};
  const svc = t.eventSource.split('.')[0];
  const n = t.eventName;
  if (svc === 'ec2') {
    if (n === 'RunInstances') return (rs.instancesSet?.items ?? []).map((i: any) => ({ kind: 'instance' as const, id: i.instanceId, detail: [i.instanceType, i.imageId].filter(Boolean).join(' ') }));
    if (n === 'CreateSecurityGroup') return [{ kind: 'security-group', id: rs.groupId ?? rq.groupName, detail: rq.groupName ? `name ${rq.groupName}` : undefined }];
    if (/^(Authorize|Revoke)SecurityGroup(Ingress|Egress)$/.test(n)) {
      const dir = n.endsWith('Ingress') ? 'inbound' : 'outbound';
      return [{ kind: 'security-group', id: rq.groupId ?? rq.groupName, detail: `${n.startsWith('Authorize') ? 'opened' : 'closed'} ${dir} ${(rq.ipPermissions?.items ?? []).map(ruleText).join('; ')}` }];
    }
    if (n === 'CreateKeyPair' || n === 'ImportKeyPair' || n === 'DeleteKeyPair') return [{ kind: 'key-pair', id: rq.keyName ?? rs.keyName ?? '?' }];
    const net = rs.vpc?.vpcId ?? rs.subnet?.subnetId ?? rs.internetGateway?.internetGatewayId ?? rs.routeTable?.routeTableId ?? rq.vpcId;
    if (/Vpc|Subnet|InternetGateway|RouteTable|NatGateway|Route$/.test(n) && net) return [{ kind: 'network', id: net }];
    if (/Instance/.test(n)) {
      const ids = (rq.instancesSet?.items ?? []).map((i: any) => i.instanceId).concat(rq.instanceId ? [rq.instanceId] : []);
      if (ids.length) return ids.map((id: string) => ({ kind: 'instance' as const, id }));
    }
  }
  if (svc === 'iam') {
    if (n === 'CreateAccessKey' || n === 'UpdateAccessKey' || n === 'DeleteAccessKey') {
      const key = rs.accessKey?.accessKeyId ?? rq.accessKeyId;
      return [{ kind: 'access-key', id: key ?? '?', detail: `of user ${rs.accessKey?.userName ?? rq.userName ?? '(itself)'}` }];
    }
    if (rq.userName && /User|LoginProfile|Group/.test(n)) return [{ kind: 'iam-user', id: rq.userName, detail: rq.policyArn ?? rq.policyName ?? rq.groupName }];
    if (rq.roleName) return [{ kind: 'iam-role', id: rq.roleName, detail: rq.policyArn ?? rq.policyName }];
    if (n === 'CreatePolicy' || n === 'CreatePolicyVersion') return [{ kind: 'iam-policy', id: rs.policy?.arn ?? rq.policyArn ?? rq.policyName ?? '?' }];
  }
  if (svc === 'lambda') return [{ kind: 'lambda', id: rq.functionName ?? rs.functionName ?? '?' }];
  if (svc === 'servicequotas') return [{ kind: 'quota', id: `${rq.serviceCode ?? '?'}/${rq.quotaCode ?? '?'}`, detail: rq.desiredValue !== undefined ? `asked for ${rq.desiredValue}` : undefined }];
  return [{ kind: 'other', id: `${t.eventSource} ${n}` }];
}

/** Groups writes by resource; a resource's calls are listed in time order. */
export function groupWrites(trails: Trail[]): TouchedResource[] {
  const byKey = new Map<string, TouchedResource>();
  for (const t of [...trails].sort((a, b) => a.eventTime.localeCompare(b.eventTime))) {
    for (const r of touched(t)) {
      if (!r.id) continue;
      const key = `${r.kind} ${r.id}`;
      let entry = byKey.get(key);
      if (!entry) byKey.set(key, (entry = { kind: r.kind, id: r.id, events: [], firstAt: t.eventTime, detail: [] }));
      entry.events.push(t.eventName);
      if (r.detail && !entry.detail.includes(r.detail)) entry.detail.push(r.detail);
    }
  }
  return [...byKey.values()].sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind) || a.firstAt.localeCompare(b.firstAt));
}

/**
 * What a target names, and so which events are its own. CloudTrail's `Username` lookup matches an
 * IAM user name *or a role session name*, and session names are whatever the caller of AssumeRole
 * chose, so a lookup only finds candidates: each event is kept by its `userIdentity` alone.
 */
type Who =
  | { kind: 'key'; accessKeyId: string }
  | { kind: 'user'; arn: string; account: string; name: string }
  | { kind: 'session'; arn: string; sessionName: string }
  | { kind: 'role'; arn: string; account: string; name: string };

function whoOf(target: string): Who {
  if (/^(AKIA|ASIA)/.test(target)) return { kind: 'key', accessKeyId: target };
  const m = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):(user|role|assumed-role)\/(.+)$/.exec(target);
  if (!m) return { kind: 'key', accessKeyId: target };
  const [, account, type, rest] = m;
  const parts = rest.split('/');
  if (type === 'assumed-role') return { kind: 'session', arn: target, sessionName: parts[parts.length - 1] };
  return { kind: type as 'user' | 'role', arn: target, account, name: parts[parts.length - 1] };
}

/** A user or role ARN's account and name, whatever its path. */
const nameOf = (arn?: string) => /^arn:aws[a-z-]*:iam::(\d{12}):(?:user|role)\/(?:.*\/)?([^/]+)$/.exec(arn ?? '')?.slice(1, 3).join(' ');

/** Whether the event was made by the target itself, not merely by someone with the same name. */
export function madeBy(t: Trail, who: Who): boolean {
  const id = t.identity;
  switch (who.kind) {
    case 'key':
      return id.accessKeyId === who.accessKeyId;
    case 'user':
      return id.type === 'IAMUser' && (id.arn === who.arn || nameOf(id.arn) === `${who.account} ${who.name}`);
    case 'session':
      return id.type === 'AssumedRole' && id.arn === who.arn;
    case 'role':
      return id.type === 'AssumedRole' && (id.issuerArn === who.arn || nameOf(id.issuerArn) === `${who.account} ${who.name}`);
  }
}

/** The lookup that finds the target's candidate events, and whose events are kept, in words. */
function lookupFor(who: Who, userName?: string): { attr: LookupAttribute; scope: string } {
  switch (who.kind) {
    case 'key':
      return {
        attr: { AttributeKey: 'AccessKeyId', AttributeValue: who.accessKeyId },
        scope: `only calls CloudTrail attributes to access key ${who.accessKeyId} (userIdentity.accessKeyId), not everything ${userName ? `user ${userName}` : 'its user'} did: ask for the user's ARN to widen`,
      };
    case 'user':
      return {
        attr: { AttributeKey: 'Username', AttributeValue: who.name },
        scope: `everything user ${who.name} did with any of its credentials (every access key, console sign-in, its temporary sessions): widened on purpose to the user, by userIdentity.arn; role sessions that happen to be named ${who.name} are left out`,
      };
    case 'session':
      return {
        attr: { AttributeKey: 'Username', AttributeValue: who.sessionName },
        scope: `only calls of the role session ${who.arn} (userIdentity.arn); other sessions named ${who.sessionName} are left out`,
      };
    case 'role':
      return {
        attr: { AttributeKey: 'ReadOnly', AttributeValue: 'false' },
        scope: `every session of role ${who.name} (userIdentity.sessionContext.sessionIssuer.arn), found among all writes in the window: role sessions have no lookup key of their own`,
      };
  }
}

/** Where the events come from, in words. */
export function regionsRead(region: string): string {
  const global = globalEventRegion(region);
  return global === region ? `in ${region}` : `in ${region}, and IAM/STS/sign-in events in ${global} (CloudTrail keeps them there only)`;
}

/** Services CloudTrail records in the partition's global-event region only. */
const GLOBAL_SOURCES = new Set(['iam.amazonaws.com', 'sts.amazonaws.com', 'signin.amazonaws.com']);

/**
 * Waits until one LookupEvents call to `client` may go. AWS's 2 calls/s is per account and region
 * for every caller together, so the worker's shared budget (Redis) is spent for the region the call
 * goes to: the global-event region's reads count against that region, not the request's. Without
 * a worker (tests of one action) calls are paced in this process, per client.
 */
export async function cloudTrailTurn(ctx: ActionContext, client: CloudTrailClient, lastCall: Map<CloudTrailClient, number>): Promise<void> {
  const { aws } = ctx;
  if (ctx.cloudTrailCall) return ctx.cloudTrailCall(client === aws.clients.cloudTrail ? aws.region : globalEventRegion(aws.region));
  const wait = (lastCall.get(client) ?? 0) + 1000 / ctx.blastRadius.lookupsPerSecond - Date.now();
  if (wait > 0) await ctx.sleep(wait);
  lastCall.set(client, Date.now());
}

/** LookupEvents, every page, each within CloudTrail's budget of the region it goes to. */
async function lookupAll(ctx: ActionContext, client: CloudTrailClient, attr: LookupAttribute, start: Date, budget: { left: number; lastCall: Map<CloudTrailClient, number> }): Promise<{ events: Event[]; partial: boolean }> {
  const { aws } = ctx;
  const events: Event[] = [];
  let token: string | undefined;
  do {
    await cloudTrailTurn(ctx, client, budget.lastCall);
    const page = await aws.send(client, new LookupEventsCommand({ LookupAttributes: [attr], StartTime: start, EndTime: ctx.now(), NextToken: token, MaxResults: 50 }));
    events.push(...(page.Events ?? []));
    budget.left -= page.Events?.length ?? 0;
    token = page.NextToken;
    if (token && budget.left <= 0) return { events, partial: true };
  } while (token);
  return { events, partial: false };
}

async function stateOf(aws: Responder, resources: TouchedResource[]): Promise<void> {
  const ids = (kind: ResourceKind) => resources.filter((r) => r.kind === kind);
  const instances = ids('instance');
  if (instances.length) {
    const out = await aws.send(aws.clients.ec2, new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: instances.map((r) => r.id) }] }));
    const now = new Map((out.Reservations ?? []).flatMap((x) => x.Instances ?? []).map((i) => [i.InstanceId!, i.State?.Name ?? 'unknown']));
    for (const r of instances) r.state = now.get(r.id) ?? 'gone';
  }
  const groups = ids('security-group').filter((r) => r.id.startsWith('sg-'));
  if (groups.length) {
    const out = await aws.send(aws.clients.ec2, new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: groups.map((r) => r.id) }] }));
    const now = new Map((out.SecurityGroups ?? []).map((g) => [g.GroupId!, g]));
    for (const r of groups) {
      const g = now.get(r.id);
      r.state = g ? `exists, ${(g.IpPermissions ?? []).length} inbound rule(s)` : 'gone';
    }
  }
  const keys = ids('key-pair');
  if (keys.length) {
    const out = await aws.send(aws.clients.ec2, new DescribeKeyPairsCommand({ Filters: [{ Name: 'key-name', Values: keys.map((r) => r.id) }] }));
    const now = new Set((out.KeyPairs ?? []).map((k) => k.KeyName));
    for (const r of keys) r.state = now.has(r.id) ? 'exists' : 'gone';
  }
  for (const r of ids('iam-user')) {
    try {
      await aws.send(aws.clients.iam, new GetUserCommand({ UserName: r.id }));
      const k = await aws.send(aws.clients.iam, new ListAccessKeysCommand({ UserName: r.id }));
      r.state = `exists, access keys: ${(k.AccessKeyMetadata ?? []).map((x) => `${x.AccessKeyId} ${x.Status}`).join(', ') || 'none'}`;
    } catch (err) {
      if (!(err instanceof AwsCallError && err.kind === 'not-found')) throw err;
      r.state = 'gone';
    }
  }
}

async function plan(targets: string[], ctx: ActionContext): Promise<PlanView> {
  const target = targets[0];
  if (!/^(AKIA|ASIA)[A-Z0-9]{16}$/.test(target) && !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role)\//.test(target)) {
    return blockedPlan(`${target} is neither an access key id nor an IAM principal ARN`);
  }
  const days = ctx.blastRadius.lookbackDays;
  return {
    summary: [
      `read every write ${target} made in the last ${days} days from CloudTrail's event history ${regionsRead(ctx.aws.region)} (all pages, at most ${ctx.blastRadius.lookupsPerSecond} lookups/s per region), group it by resource and read each resource's current state`,
      `attribution: ${lookupFor(whoOf(target)).scope}`,
    ],
    warnings: days >= 90 ? ['CloudTrail event history holds 90 days of management events in this region only: older activity, data events and other regions need an Athena hunt over the trail.'] : [],
    steps: ['read CloudTrail', 'read current state'],
    fingerprint: fingerprint([target, days]),
    data: { target },
  };
}

/**
 * Every write the target itself made in the window, refused ones included: candidates from this
 * region and, for IAM/STS/sign-in, from the partition's global-event region, kept by userIdentity.
 * When the global read fails the IAM part is unknown (`iamUnknown`), never an empty all-clear.
 */
export async function principalWrites(
  ctx: ActionContext,
  target: string,
): Promise<{ principal: BlastRadius['principal']; trails: Trail[]; partial: boolean; scope: string; iamUnknown?: string }> {
  const { aws } = ctx;
  const who = whoOf(target);
  const principal: BlastRadius['principal'] = who.kind === 'key' ? { accessKeyId: who.accessKeyId } : { arn: who.arn, userName: who.kind === 'user' ? who.name : undefined };
  if (who.kind === 'key') {
    try {
      const out = await aws.send(aws.clients.iam, new GetAccessKeyLastUsedCommand({ AccessKeyId: who.accessKeyId }));
      principal.userName = out.UserName;
    } catch (err) {
      // Temporary (ASIA) keys and keys of other accounts have no user here; the name is only shown.
      if (!(err instanceof AwsCallError && (err.kind === 'not-found' || err.kind === 'access-denied' || err.kind === 'invalid'))) throw err;
    }
  }
  const { attr, scope } = lookupFor(who, principal.userName);
  const start = new Date(ctx.now().getTime() - ctx.blastRadius.lookbackDays * 86_400_000);
  const budget = { left: ctx.blastRadius.maxEvents, lastCall: new Map<CloudTrailClient, number>() };
  const seen = new Map<string, Event>();
  const keep = (events: Event[], only?: (t: Trail) => boolean) => {
    for (const e of events) {
      const t = parse(e);
      if (t && (!only || only(t))) seen.set(e.EventId ?? `${t.eventTime} ${t.eventName} ${t.eventSource}`, e);
    }
  };
  const regional = await lookupAll(ctx, aws.clients.cloudTrail, attr, start, budget);
  keep(regional.events);
  let partial = regional.partial;
  let iamUnknown: string | undefined;
  if (aws.clients.cloudTrailGlobal !== aws.clients.cloudTrail) {
    try {
      const global = await lookupAll(ctx, aws.clients.cloudTrailGlobal, attr, start, budget);
      // Only the global services: that region's own EC2 writes are about other resources than ours.
      keep(global.events, (t) => GLOBAL_SOURCES.has(t.eventSource));
      partial ||= global.partial;
    } catch (err) {
      if (!(err instanceof AwsCallError)) throw err;
      iamUnknown = `IAM, STS and sign-in events could not be read from ${globalEventRegion(aws.region)}, where CloudTrail keeps them (${err.message}): what this principal did in IAM is unknown`;
    }
  }
  const trails = [...seen.values()].map(parse).filter((t): t is Trail => !!t && !t.readOnly && madeBy(t, who));
  return { principal, trails, partial, scope, iamUnknown };
}

async function mapBlastRadius(ctx: ActionContext, target: string): Promise<BlastRadius> {
  const { principal, trails, partial, scope, iamUnknown } = await principalWrites(ctx, target);
  const ok = trails.filter((t) => !t.errorCode);
  return { principal, scope, iamUnknown, writes: ok.length, failedWrites: trails.length - ok.length, partial, resources: groupWrites(ok) };
}

export function blastRadiusLines(b: BlastRadius, days: number): string[] {
  const who = b.principal.accessKeyId ? `${b.principal.accessKeyId}${b.principal.userName ? ` (key of user ${b.principal.userName})` : ''}` : (b.principal.arn ?? '?');
  const head = `${who}: ${b.writes} write(s) in ${days} days${b.failedWrites ? ` and ${b.failedWrites} refused` : ''}, touching ${b.resources.length} resource(s)${b.partial ? ' (partial: the event limit was reached)' : ''}${b.iamUnknown ? ' (IAM part unknown)' : ''}`;
  const counts = ORDER.map((k) => [k, b.resources.filter((r) => r.kind === k).length] as const).filter(([, n]) => n > 0);
  const byKind = counts.map(([k, n]) => `${n} ${KIND_LABEL[k]}${n > 1 && !KIND_LABEL[k].endsWith('s') ? 's' : ''}`).join(', ');
  return [
    head,
    ...(b.iamUnknown ? [b.iamUnknown] : []),
    ...(byKind ? [byKind] : []),
    ...b.resources.map((r) => `${KIND_LABEL[r.kind]} ${r.id}: ${[...new Set(r.events)].join(', ')} from ${r.firstAt}${r.detail.length ? `; ${r.detail.join('; ')}` : ''}${r.state ? `; now ${r.state}` : ''}`),
  ];
}

async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const { target } = p.data as { target: string };
  let b: BlastRadius | undefined;
  await runSteps(ctx, [
    {
      label: 'read CloudTrail',
      run: async () => {
        b = await mapBlastRadius(ctx, target);
        return undefined;
      },
    },
    { label: 'read current state', run: async () => (await stateOf(ctx.aws, b!.resources), undefined) },
  ]);
  const radius = b!;
  const rogue = radius.resources.filter((r) => r.kind === 'instance' && r.events.includes('RunInstances') && r.state && !['terminated', 'shutting-down', 'gone'].includes(r.state)).map((r) => r.id);
  const pivots: NonNullable<ActionOutcome['pivots']> = [];
  if (radius.principal.accessKeyId) pivots.push({ kind: 'accessKey', value: radius.principal.accessKeyId });
  if (radius.principal.arn && /:user\//.test(radius.principal.arn)) pivots.push({ kind: 'deny', value: radius.principal.arn });
  for (const k of radius.resources.filter((r) => r.kind === 'access-key' && r.events.includes('CreateAccessKey') && /^AKIA/.test(r.id))) pivots.push({ kind: 'accessKey', value: k.id });
  return {
    ok: true,
    lines: blastRadiusLines(radius, ctx.blastRadius.lookbackDays),
    notes: [
      `From CloudTrail event history (management events ${regionsRead(ctx.aws.region)}, ${ctx.blastRadius.lookbackDays} days). Refused calls are counted, not listed. Instances it launched can be terminated once snapshotted: \`/ir terminate ${target} <instance-id>…\`.`,
    ],
    pivots,
    rogueInstances: rogue,
  };
}

export const blastRadiusAction: ResponseAction = { plan, execute };

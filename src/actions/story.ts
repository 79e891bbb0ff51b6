import { LookupEventsCommand, type Event } from '@aws-sdk/client-cloudtrail';
import { DescribeImagesCommand, DescribeInstanceAttributeCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, type IpPermission } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand } from '@aws-sdk/client-iam';
import type { Responder } from '../aws/responder';
import { AwsCallError } from '../aws/errors';
import { autoScalingGroupOf, findInstance, registrationsIn, vpcTargets, type VpcTargets } from './instance';
import { redactSecrets } from '../redact';
import { ADVISORY_TIMEOUT_MS, advisory, whyUnchecked, within, type Checked } from './advisory';

/**
 * The instance's story for the alert's thread (read-only): what it is, what its user data does,
 * and who launched it, plus everything else that principal launched. No Slack in here.
 */
export interface UserDataMatch {
  line: number;
  text: string;
  indicator: string;
}

export interface LaunchInfo {
  principal: string;
  accessKeyId?: string;
  sourceIp?: string;
  userAgent?: string;
  at: string;
}

export interface Story {
  instanceId: string;
  name?: string;
  type?: string;
  state: string;
  launchTime?: string;
  vpcId?: string;
  subnetId?: string;
  privateIps: string[];
  publicIps: string[];
  tags: Record<string, string>;
  imdsV1: boolean;
  profileArn?: string;
  roleName?: string;
  ami: { id?: string; name?: string; ownerId?: string; ownerAlias?: string };
  securityGroups: { id: string; name: string; inbound: string[]; openToWorld: boolean }[];
  /** What serves production through it: its Auto Scaling group and the target groups it is registered in (empty when unchecked; absent in stories kept from before it was read). */
  production?: { autoScalingGroup?: string; targetGroups: { name: string; port?: number; healthy: boolean; otherHealthy: number }[] };
  userData?: { text: string; lines: number; matches: UserDataMatch[] };
  launch?: LaunchInfo;
  /** Why "who launched it" is unknown, when it is. */
  launchUnknown?: string;
  /** "Who launched it" is still being looked up (CloudTrail's budget): the message is updated later. */
  launchPending?: boolean;
  /** Other instances the same principal launched in the window. */
  siblings: { id: string; state: string; launchTime?: string }[];
  flags: string[];
  /** Sections that could not be checked, and why (denied, throttled, not available, timed out). */
  unchecked?: { section: StorySection; why: string }[];
}

export interface StorySettings {
  lookbackDays: number;
  trustedAmiOwners: string[];
}

/** Indicators from the crypto-mining playbook and common persistence tricks. */
const INDICATORS: { name: string; re: RegExp }[] = [
  { name: 'miner', re: /\b(xmrig|minerd|cpuminer|cgminer|xmr-stak|cryptonight|nicehash|minergate)\b/i },
  { name: 'mining pool', re: /stratum\+(tcp|ssl|tls):\/\//i },
  { name: 'pipe to shell', re: /\b(curl|wget)\b[^|\n]*\|\s*(sudo\s+)?(ba|z|da)?sh\b/i },
  { name: 'decode and run', re: /base64\s+(-d|--decode)[^|\n]*\|\s*(ba)?sh\b/i },
  { name: 'cron persistence', re: /(crontab\b|\/etc\/cron|@reboot)/i },
  { name: 'ssh key persistence', re: /authorized_keys/i },
  { name: 'hidden background job', re: /\bnohup\b.*&\s*$/i },
  { name: 'executable in /tmp', re: /chmod\s+\+?[0-7]*x?\s+\/(tmp|dev\/shm|var\/tmp)\//i },
  { name: 'new user', re: /\buseradd\b|\badduser\b/i },
];

export function scanUserData(text: string): UserDataMatch[] {
  const out: UserDataMatch[] = [];
  text.split('\n').forEach((line, i) => {
    const names = INDICATORS.filter((ind) => ind.re.test(line)).map((ind) => ind.name);
    if (names.length) out.push({ line: i + 1, text: line.slice(0, 300), indicator: names.join(', ') });
  });
  return out;
}

function summariseRule(p: IpPermission): { text: string; world: boolean } {
  const proto = p.IpProtocol === '-1' ? 'all traffic' : `${p.IpProtocol}${p.FromPort !== undefined ? ` ${p.FromPort === p.ToPort ? p.FromPort : `${p.FromPort}-${p.ToPort}`}` : ''}`;
  const sources = [
    ...(p.IpRanges ?? []).map((r) => r.CidrIp!),
    ...(p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6!),
    ...(p.UserIdGroupPairs ?? []).map((g) => g.GroupId!),
    ...(p.PrefixListIds ?? []).map((x) => x.PrefixListId!),
  ];
  const world = sources.includes('0.0.0.0/0') || sources.includes('::/0');
  return { text: `${proto} from ${sources.join(', ') || 'nowhere'}`, world };
}

/** A RunInstances event as the story needs it: small enough to cache, parsed once. */
export interface TrailLaunch {
  name: string;
  at: string;
  username?: string;
  arn?: string;
  accessKeyId?: string;
  sourceIp?: string;
  userAgent?: string;
  instanceIds: string[];
}

function parseTrail(e: Event): TrailLaunch {
  const base = { name: e.EventName ?? '', at: (e.EventTime ?? new Date()).toISOString(), username: e.Username, accessKeyId: e.AccessKeyId };
  try {
    const d = JSON.parse(e.CloudTrailEvent ?? '{}');
    return {
      ...base,
      arn: d.userIdentity?.arn,
      accessKeyId: d.userIdentity?.accessKeyId ?? base.accessKeyId,
      sourceIp: d.sourceIPAddress,
      userAgent: d.userAgent,
      instanceIds: (d.responseElements?.instancesSet?.items ?? []).map((x: { instanceId?: string }) => x.instanceId).filter(Boolean),
    };
  } catch {
    return { ...base, instanceIds: [] };
  }
}

/**
 * How the story reaches CloudTrail's event history, which allows 2 LookupEvents per second per
 * account and region for every caller together: `beforeCall` waits for the shared budget (or
 * throws to hand the job back until it allows one), and repeated lookups of the same instance or
 * key are answered from a short cache.
 */
export interface TrailAccess {
  beforeCall(): Promise<void>;
  /** Bound of each LookupEvents call (the budget's waits do not count). */
  callTimeoutMs?: number;
  cached?(lookup: string): Promise<TrailLaunch[] | undefined>;
  remember?(lookup: string, launches: TrailLaunch[]): Promise<void>;
}

const UNPACED: TrailAccess = { beforeCall: async () => undefined };

type LookupKey = 'ResourceName' | 'AccessKeyId' | 'EventName';

/** The RunInstances events among a lookup's results (all pages, up to `maxPages`). */
async function launches(aws: Responder, trail: TrailAccess, attr: { AttributeKey: LookupKey; AttributeValue: string }, start: Date, maxPages = 10): Promise<TrailLaunch[]> {
  const name = `${attr.AttributeKey}=${attr.AttributeValue}`;
  const hit = await trail.cached?.(name);
  if (hit) return hit;
  const out: TrailLaunch[] = [];
  let token: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    await trail.beforeCall();
    const call = aws.send(aws.clients.cloudTrail, new LookupEventsCommand({ LookupAttributes: [attr], StartTime: start, EndTime: new Date(), NextToken: token, MaxResults: 50 }));
    const res = trail.callTimeoutMs ? await within(trail.callTimeoutMs, call) : await call;
    out.push(...(res.Events ?? []).filter((e) => e.EventName === 'RunInstances').map(parseTrail));
    token = res.NextToken;
    if (!token) break;
  }
  await trail.remember?.(name, out);
  return out;
}

/** The story's sections that are looked up apart from the instance itself; each may fail alone. */
export type StorySection = 'AMI' | 'security groups' | 'user data' | 'instance role' | 'launcher' | 'Auto Scaling group' | 'target groups';

export interface StoryOptions {
  /** Bound of each section's lookup (ms). */
  sectionTimeoutMs?: number;
  /**
   * false: leave "who launched it" for later (`launchPending`), so the rest posts at once while
   * CloudTrail's budget is spent elsewhere; `fillLauncher` completes it.
   */
  launcher?: false | TrailAccess;
  /**
   * How a VPC's target groups are read: a caller telling many stories at once shares one read per
   * VPC, since each read is a DescribeTargetHealth per group (ELB's request rate is the account's).
   */
  vpcTargets?: (aws: Responder, vpcId: string | undefined) => Promise<VpcTargets>;
}

export interface LauncherPart {
  launch?: LaunchInfo;
  launchUnknown?: string;
  siblings: Story['siblings'];
}

/** Who launched the instance (its RunInstances event), then everything that principal launched. */
export async function findLauncher(aws: Responder, instanceId: string, launchTime: string | undefined, settings: StorySettings, trail: TrailAccess = UNPACED): Promise<LauncherPart> {
  const start = new Date(Date.now() - settings.lookbackDays * 86_400_000);
  const siblings: Story['siblings'] = [];
  const launchedAt = launchTime ? new Date(launchTime) : undefined;
  if (launchedAt && launchedAt < start) {
    return {
      siblings,
      launchUnknown: `it was launched ${launchedAt.toISOString().slice(0, 10)}, before CloudTrail's ${settings.lookbackDays}-day event history: run the Athena hunt "instances launched by a principal" over your CloudTrail table`,
    };
  }
  const run = (await launches(aws, trail, { AttributeKey: 'ResourceName', AttributeValue: instanceId }, start))[0];
  if (!run) {
    return {
      siblings,
      launchUnknown: `CloudTrail's event history in ${aws.region} has no RunInstances for it (older than ${settings.lookbackDays} days, or launched from another account or region): run the Athena hunt over your organisation's CloudTrail`,
    };
  }
  const launch: LaunchInfo = { principal: run.arn ?? run.username ?? 'unknown', accessKeyId: run.accessKeyId, sourceIp: run.sourceIp, userAgent: run.userAgent, at: run.at };
  const byKey = launch.accessKeyId
    ? await launches(aws, trail, { AttributeKey: 'AccessKeyId', AttributeValue: launch.accessKeyId }, start)
    : await launches(aws, trail, { AttributeKey: 'EventName', AttributeValue: 'RunInstances' }, start);
  const ids = new Set<string>();
  for (const p of byKey) {
    if (p.arn && p.arn !== launch.principal) continue;
    for (const id of p.instanceIds) if (id !== instanceId) ids.add(id);
  }
  if (ids.size) {
    const out = await aws.send(aws.clients.ec2, new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [...ids] }] }));
    const known = new Map((out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((x) => [x.InstanceId!, x]));
    for (const id of ids) {
      const x = known.get(id);
      siblings.push({ id, state: x?.State?.Name ?? 'gone', launchTime: x?.LaunchTime ? new Date(x.LaunchTime).toISOString() : undefined });
    }
  }
  return { launch, siblings };
}

/**
 * The launcher section of a story posted without it: filled in, or marked as not checked (each
 * CloudTrail call is bounded by `trail.callTimeoutMs`). Never throws for an AWS failure; a budget
 * wait (thrown by `trail.beforeCall`, recognised by `isWait`) passes through.
 */
export async function fillLauncher(aws: Responder, story: Story, settings: StorySettings, trail: TrailAccess, isWait: (err: unknown) => boolean = () => false): Promise<Story> {
  try {
    const part = await findLauncher(aws, story.instanceId, story.launchTime, settings, trail);
    return { ...story, ...part, launchPending: false };
  } catch (err) {
    if (isWait(err)) throw err;
    return { ...story, launchPending: false, unchecked: [...(story.unchecked ?? []).filter((u) => u.section !== 'launcher'), { section: 'launcher', why: whyUnchecked(err) }] };
  }
}

/**
 * The story: the instance itself must be readable (else there is nothing to tell); every other
 * section is looked up on its own, bounded by its own timeout, and one that fails (denied,
 * throttled, not available, timed out) is listed in `unchecked` while the rest is told.
 */
export async function buildStory(aws: Responder, instanceId: string, settings: StorySettings, opts: StoryOptions = {}): Promise<Story> {
  const timeoutMs = opts.sectionTimeoutMs ?? ADVISORY_TIMEOUT_MS;
  const i = await findInstance(aws, instanceId);
  const tags = Object.fromEntries((i.Tags ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? '']));
  const flags: string[] = [];
  const unchecked: NonNullable<Story['unchecked']> = [];
  const note = <T>(section: StorySection, c: Checked<T>): T | undefined => {
    if (c.ok) return c.value;
    unchecked.push({ section, why: c.why });
    return undefined;
  };
  const groupIds = (i.SecurityGroups ?? []).map((g) => g.GroupId!).filter(Boolean);
  const profileArn = i.IamInstanceProfile?.Arn;
  const launchedAt = i.LaunchTime ? new Date(i.LaunchTime) : undefined;
  const [imageC, groupsC, userDataC, roleC, asgC, targetsC, launcherC] = await Promise.all([
    advisory(timeoutMs, async () => (i.ImageId ? (await aws.send(aws.clients.ec2, new DescribeImagesCommand({ ImageIds: [i.ImageId] }))).Images?.[0] ?? null : null)),
    advisory(timeoutMs, async () => (groupIds.length ? ((await aws.send(aws.clients.ec2, new DescribeSecurityGroupsCommand({ GroupIds: groupIds }))).SecurityGroups ?? []) : [])),
    advisory(timeoutMs, async () => (await aws.send(aws.clients.ec2, new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }))).UserData?.Value),
    advisory(timeoutMs, () => roleOf(aws, profileArn)),
    advisory(timeoutMs, () => autoScalingGroupOf(aws, instanceId)),
    advisory(timeoutMs, async () => registrationsIn(await (opts.vpcTargets ?? vpcTargets)(aws, i.VpcId), instanceId)),
    opts.launcher === false ? Promise.resolve(undefined) : advisory(timeoutMs, () => findLauncher(aws, instanceId, launchedAt?.toISOString(), settings, opts.launcher || UNPACED)),
  ]);

  const image = note('AMI', imageC);
  const ami = { id: i.ImageId, name: image?.Name, ownerId: image?.OwnerId, ownerAlias: image?.ImageOwnerAlias };
  if (imageC.ok && !image) flags.push(`AMI ${i.ImageId ?? '?'} is no longer visible (deregistered or private to another account)`);
  else if (image && ami.ownerAlias !== 'amazon' && ami.ownerId !== aws.account && !settings.trustedAmiOwners.includes(ami.ownerId ?? '')) {
    flags.push(`AMI ${ami.id} is owned by account ${ami.ownerId}: not Amazon, not this account, not a trusted owner`);
  }
  const securityGroups = (note('security groups', groupsC) ?? []).map((g) => {
    const rules = (g.IpPermissions ?? []).map(summariseRule);
    return { id: g.GroupId!, name: g.GroupName ?? g.GroupId!, inbound: rules.map((r) => r.text), openToWorld: rules.some((r) => r.world) };
  });
  for (const g of securityGroups.filter((x) => x.openToWorld)) flags.push(`security group ${g.id} (${g.name}) allows inbound from anywhere (0.0.0.0/0 or ::/0)`);
  const imdsV1 = i.MetadataOptions?.HttpTokens !== 'required';
  if (imdsV1) flags.push('IMDSv1 is still allowed (HttpTokens optional): credentials can be stolen through SSRF');

  let userData: Story['userData'];
  const raw = note('user data', userDataC);
  if (raw) {
    // Secrets in user data (keys, passwords, connection strings) never reach Slack.
    const text = redactSecrets(Buffer.from(raw, 'base64').toString('utf8'));
    const matches = scanUserData(text);
    userData = { text, lines: text.split('\n').length, matches };
    if (matches.length) flags.push(`user data has ${matches.length} suspicious line(s): ${[...new Set(matches.flatMap((m) => m.indicator.split(', ')))].join(', ')}`);
  }
  const roleName = note('instance role', roleC);
  const launcher = launcherC ? note('launcher', launcherC) : undefined;
  const production: Story['production'] = {
    autoScalingGroup: note('Auto Scaling group', asgC),
    targetGroups: (note('target groups', targetsC) ?? []).map((t) => ({ name: t.name, port: t.port, healthy: t.healthy, otherHealthy: t.otherHealthy })),
  };
  return {
    instanceId,
    name: tags.Name,
    type: i.InstanceType,
    state: i.State?.Name ?? 'unknown',
    launchTime: launchedAt?.toISOString(),
    vpcId: i.VpcId,
    subnetId: i.SubnetId,
    privateIps: (i.NetworkInterfaces ?? []).flatMap((n) => (n.PrivateIpAddresses ?? []).map((p) => p.PrivateIpAddress!)).filter(Boolean),
    publicIps: [i.PublicIpAddress, ...(i.NetworkInterfaces ?? []).map((n) => n.Association?.PublicIp)].filter((x, k, a): x is string => !!x && a.indexOf(x) === k),
    tags,
    imdsV1,
    profileArn,
    roleName,
    ami,
    securityGroups,
    production,
    userData,
    launch: launcher?.launch,
    launchUnknown: launcher?.launchUnknown,
    launchPending: opts.launcher === false,
    siblings: launcher?.siblings ?? [],
    flags,
    unchecked,
  };
}

/** The instance profile's role; a profile deleted since is simply no role. */
async function roleOf(aws: Responder, profileArn: string | undefined): Promise<string | undefined> {
  if (!profileArn) return undefined;
  try {
    const prof = await aws.send(aws.clients.iam, new GetInstanceProfileCommand({ InstanceProfileName: profileArn.split('/').pop()! }));
    return prof.InstanceProfile?.Roles?.[0]?.RoleName;
  } catch (err) {
    if (err instanceof AwsCallError && err.kind === 'not-found') return undefined;
    throw err;
  }
}

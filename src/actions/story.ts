import { LookupEventsCommand, type Event } from '@aws-sdk/client-cloudtrail';
import { DescribeImagesCommand, DescribeInstanceAttributeCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, type IpPermission } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand } from '@aws-sdk/client-iam';
import type { Responder } from '../aws/responder';
import { AwsCallError } from '../aws/errors';
import { findInstance } from './instance';
import { redactSecrets } from '../redact';

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
  userData?: { text: string; lines: number; matches: UserDataMatch[] };
  launch?: LaunchInfo;
  /** Why "who launched it" is unknown, when it is. */
  launchUnknown?: string;
  /** Other instances the same principal launched in the window. */
  siblings: { id: string; state: string; launchTime?: string }[];
  flags: string[];
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

function parseTrail(e: Event): { arn?: string; accessKeyId?: string; sourceIp?: string; userAgent?: string; instanceIds: string[] } {
  try {
    const d = JSON.parse(e.CloudTrailEvent ?? '{}');
    return {
      arn: d.userIdentity?.arn,
      accessKeyId: d.userIdentity?.accessKeyId,
      sourceIp: d.sourceIPAddress,
      userAgent: d.userAgent,
      instanceIds: (d.responseElements?.instancesSet?.items ?? []).map((x: { instanceId?: string }) => x.instanceId).filter(Boolean),
    };
  } catch {
    return { instanceIds: [] };
  }
}

async function lookup(aws: Responder, attr: { AttributeKey: 'ResourceName' | 'AccessKeyId' | 'EventName'; AttributeValue: string }, start: Date, maxPages = 10): Promise<Event[]> {
  const out: Event[] = [];
  let token: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const res = await aws.send(aws.clients.cloudTrail, new LookupEventsCommand({ LookupAttributes: [attr], StartTime: start, EndTime: new Date(), NextToken: token, MaxResults: 50 }));
    out.push(...(res.Events ?? []));
    token = res.NextToken;
    if (!token) break;
  }
  return out;
}

export async function buildStory(aws: Responder, instanceId: string, settings: StorySettings): Promise<Story> {
  const i = await findInstance(aws, instanceId);
  const tags = Object.fromEntries((i.Tags ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? '']));
  const flags: string[] = [];
  const groupIds = (i.SecurityGroups ?? []).map((g) => g.GroupId!).filter(Boolean);
  const [images, groups, userDataAttr] = await Promise.all([
    i.ImageId ? aws.send(aws.clients.ec2, new DescribeImagesCommand({ ImageIds: [i.ImageId] })) : Promise.resolve(undefined),
    groupIds.length ? aws.send(aws.clients.ec2, new DescribeSecurityGroupsCommand({ GroupIds: groupIds })) : Promise.resolve(undefined),
    aws.send(aws.clients.ec2, new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' })),
  ]);
  const image = images?.Images?.[0];
  const ami = { id: i.ImageId, name: image?.Name, ownerId: image?.OwnerId, ownerAlias: image?.ImageOwnerAlias };
  if (!image) flags.push(`AMI ${i.ImageId ?? '?'} is no longer visible (deregistered or private to another account)`);
  else if (ami.ownerAlias !== 'amazon' && ami.ownerId !== aws.account && !settings.trustedAmiOwners.includes(ami.ownerId ?? '')) {
    flags.push(`AMI ${ami.id} is owned by account ${ami.ownerId}: not Amazon, not this account, not a trusted owner`);
  }
  const securityGroups = (groups?.SecurityGroups ?? []).map((g) => {
    const rules = (g.IpPermissions ?? []).map(summariseRule);
    return { id: g.GroupId!, name: g.GroupName ?? g.GroupId!, inbound: rules.map((r) => r.text), openToWorld: rules.some((r) => r.world) };
  });
  for (const g of securityGroups.filter((x) => x.openToWorld)) flags.push(`security group ${g.id} (${g.name}) allows inbound from anywhere (0.0.0.0/0 or ::/0)`);
  const imdsV1 = i.MetadataOptions?.HttpTokens !== 'required';
  if (imdsV1) flags.push('IMDSv1 is still allowed (HttpTokens optional): credentials can be stolen through SSRF');

  let userData: Story['userData'];
  const raw = userDataAttr.UserData?.Value;
  if (raw) {
    // Secrets in user data (keys, passwords, connection strings) never reach Slack.
    const text = redactSecrets(Buffer.from(raw, 'base64').toString('utf8'));
    const matches = scanUserData(text);
    userData = { text, lines: text.split('\n').length, matches };
    if (matches.length) flags.push(`user data has ${matches.length} suspicious line(s): ${[...new Set(matches.flatMap((m) => m.indicator.split(', ')))].join(', ')}`);
  }

  let roleName: string | undefined;
  const profileArn = i.IamInstanceProfile?.Arn;
  if (profileArn) {
    try {
      const prof = await aws.send(aws.clients.iam, new GetInstanceProfileCommand({ InstanceProfileName: profileArn.split('/').pop()! }));
      roleName = prof.InstanceProfile?.Roles?.[0]?.RoleName;
    } catch (err) {
      if (!(err instanceof AwsCallError && (err.kind === 'not-found' || err.kind === 'access-denied'))) throw err;
    }
  }

  // Who launched it: the RunInstances event for this instance, then everything that principal launched.
  const start = new Date(Date.now() - settings.lookbackDays * 86_400_000);
  let launch: LaunchInfo | undefined;
  let launchUnknown: string | undefined;
  const siblings: Story['siblings'] = [];
  const launchedAt = i.LaunchTime ? new Date(i.LaunchTime) : undefined;
  if (launchedAt && launchedAt < start) {
    launchUnknown = `it was launched ${launchedAt.toISOString().slice(0, 10)}, before CloudTrail's ${settings.lookbackDays}-day event history: run the Athena hunt "instances launched by a principal" over your CloudTrail table`;
  } else {
    const events = await lookup(aws, { AttributeKey: 'ResourceName', AttributeValue: instanceId }, start);
    const run = events.find((e) => e.EventName === 'RunInstances');
    if (!run) {
      launchUnknown = `CloudTrail's event history in ${aws.region} has no RunInstances for it (older than ${settings.lookbackDays} days, or launched from another account or region): run the Athena hunt over your organisation's CloudTrail`;
    } else {
      const t = parseTrail(run);
      launch = { principal: t.arn ?? run.Username ?? 'unknown', accessKeyId: t.accessKeyId ?? run.AccessKeyId, sourceIp: t.sourceIp, userAgent: t.userAgent, at: (run.EventTime ?? new Date()).toISOString() };
      const byKey = launch.accessKeyId
        ? await lookup(aws, { AttributeKey: 'AccessKeyId', AttributeValue: launch.accessKeyId }, start)
        : await lookup(aws, { AttributeKey: 'EventName', AttributeValue: 'RunInstances' }, start);
      const ids = new Set<string>();
      for (const e of byKey.filter((x) => x.EventName === 'RunInstances')) {
        const p = parseTrail(e);
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
    }
  }
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
    userData,
    launch,
    launchUnknown,
    siblings,
    flags,
  };
}

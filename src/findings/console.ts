/**
 * AWS console links. Region, partition and ids come from the finding, so an attacker who can shape
 * a finding could otherwise point a trusted-looking "Open in AWS console" link anywhere: the
 * region and partition are checked against AWS's formats, ids are percent-encoded, and the built
 * URL is parsed back and must still be https on the partition's console host.
 */
import { PARTITIONS, REGION, type ResourceKind } from './model';

type Partition = (typeof PARTITIONS)[number];

const GLOBAL_HOST: Record<Partition, string> = {
  aws: 'console.aws.amazon.com',
  'aws-cn': 'console.amazonaws.cn',
  'aws-us-gov': 'console.amazonaws-us-gov.com',
};

/** Every host a link may point at: the global consoles and `<region>.console.aws.amazon.com`. */
export function isConsoleHost(hostname: string): boolean {
  if (Object.values(GLOBAL_HOST).includes(hostname)) return true;
  const m = /^([a-z0-9-]+)\.console\.aws\.amazon\.com$/.exec(hostname);
  return m !== null && REGION.test(m[1]);
}

function hostFor(partition: string, region: string | undefined): string | undefined {
  if (!(PARTITIONS as readonly string[]).includes(partition)) return undefined;
  const p = partition as Partition;
  if (p === 'aws' && region) return `${region}.console.aws.amazon.com`;
  return GLOBAL_HOST[p];
}

/** `https://<console host>/<path>`, or undefined when the inputs are not AWS's or the result left the host. */
export function consoleLink(partition: string | undefined, region: string | undefined, path: string): string | undefined {
  if (region !== undefined && !REGION.test(region)) return undefined;
  const host = hostFor(partition ?? 'aws', region);
  if (!host) return undefined;
  const url = `https://${host}/${path.replace(/^\/+/, '')}`;
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' || u.username || u.password || u.port || u.hostname !== host || !isConsoleHost(u.hostname)) return undefined;
    return url;
  } catch {
    return undefined;
  }
}

const enc = encodeURIComponent;

export function guardDutyConsoleUrl(partition: string, region: string, findingId: string): string {
  return (
    consoleLink(partition, region, `guardduty/home?region=${region}#/findings?macros=current&fId=${enc(findingId)}`) ??
    `https://${GLOBAL_HOST.aws}/guardduty/home#/findings`
  );
}

export function securityHubConsoleUrl(partition: string, region: string, findingId: string): string {
  const search = enc(`Id=\\operator\\:EQUALS\\:${findingId}`);
  return consoleLink(partition, region, `securityhub/home?region=${region}#/findings?search=${search}`) ?? `https://${GLOBAL_HOST.aws}/securityhub/home`;
}

/** The new Security Hub (OCSF findings) has no per-finding deep link yet: its findings page, filtered by uid. */
export function securityHubV2ConsoleUrl(partition: string, region: string, findingUid: string): string {
  return (
    consoleLink(partition, region, `securityhub/v2/home?region=${region}#/findings?search=${enc(`finding_info.uid=\\operator\\:EQUALS\\:${findingUid}`)}`) ??
    `https://${GLOBAL_HOST.aws}/securityhub/v2/home`
  );
}

/** Last part of an ARN (`…:function:name`, `…:bucket`, `…/name`), or the id itself. */
export function nameOf(idOrArn: string): string {
  if (!idOrArn.startsWith('arn:')) return idOrArn;
  const rest = idOrArn.split(':').slice(5).join(':');
  return rest.split(/[/:]/).filter(Boolean).pop() ?? idOrArn;
}

const EC2_ID = (prefix: string) => new RegExp(`^${prefix}-[0-9a-f]{8,17}$`);
const IAM_NAME = /^[\w+=,.@-]{1,64}$/;

/**
 * Console pages by resource kind: which ids they take, and the path for a validated id (`q` is
 * `?region=…`). `global` pages (IAM) take no region; `anyRegion` ones (S3) do without one.
 */
const PAGES: Partial<Record<ResourceKind, { id: RegExp; path: (id: string, q: string, arn: string) => string; global?: boolean; anyRegion?: boolean; useArn?: boolean }>> = {
  'ec2-instance': { id: EC2_ID('i'), path: (id, q) => `ec2/home${q}#InstanceDetails:instanceId=${id}` },
  'security-group': { id: EC2_ID('sg'), path: (id, q) => `ec2/home${q}#SecurityGroup:groupId=${id}` },
  'ebs-volume': { id: EC2_ID('vol'), path: (id, q) => `ec2/home${q}#VolumeDetails:volumeId=${id}` },
  'ebs-snapshot': { id: EC2_ID('snap'), path: (id, q) => `ec2/home${q}#SnapshotDetails:snapshotId=${id}` },
  'network-interface': { id: EC2_ID('eni'), path: (id, q) => `ec2/home${q}#NetworkInterface:networkInterfaceId=${id}` },
  vpc: { id: EC2_ID('vpc'), path: (id, q) => `vpcconsole/home${q}#VpcDetails:VpcId=${id}` },
  subnet: { id: EC2_ID('subnet'), path: (id, q) => `vpcconsole/home${q}#SubnetDetails:subnetId=${id}` },
  's3-bucket': { id: /^[a-z0-9][a-z0-9.-]{1,62}$/, path: (id, q) => `s3/buckets/${enc(id)}${q}`, anyRegion: true },
  'iam-user': { id: IAM_NAME, path: (id) => `iam/home#/users/details/${enc(id)}`, global: true },
  'iam-role': { id: IAM_NAME, path: (id) => `iam/home#/roles/details/${enc(id)}`, global: true },
  'lambda-function': { id: /^[\w-]{1,64}$/, path: (id, q) => `lambda/home${q}#/functions/${enc(id)}` },
  'rds-instance': { id: /^[a-zA-Z][\w-]{0,62}$/, path: (id, q) => `rds/home${q}#database:id=${enc(id)};is-cluster=false` },
  'rds-cluster': { id: /^[a-zA-Z][\w-]{0,62}$/, path: (id, q) => `rds/home${q}#database:id=${enc(id)};is-cluster=true` },
  'rds-snapshot': { id: /^[a-zA-Z][\w:-]{0,254}$/, path: (id, q) => `rds/home${q}#db-snapshot:id=${enc(id)}` },
  'eks-cluster': { id: /^[\w-]{1,100}$/, path: (id, q) => `eks/home${q}#/clusters/${enc(id)}` },
  'ecs-cluster': { id: /^[\w-]{1,255}$/, path: (id, q) => `ecs/v2/clusters/${enc(id)}${q}` },
  'kms-key': { id: /^[0-9a-f-]{36}$/, path: (id, q) => `kms/home${q}#/kms/keys/${id}` },
  'cloudtrail-trail': { id: /^arn:/, path: (_id, q, arn) => `cloudtrail/home${q}#/trails/${enc(arn)}`, useArn: true },
};

/** The console page of a resource, where AWS has one. */
export function resourceConsoleUrl(kind: ResourceKind, id: string, region: string | undefined, partition: string | undefined): string | undefined {
  const page = PAGES[kind];
  if (!page) return undefined;
  const name = page.useArn ? id : nameOf(id);
  const r = region && REGION.test(region) ? region : undefined;
  if (!page.id.test(name) || (!r && !page.global && !page.anyRegion)) return undefined;
  return consoleLink(partition, page.global ? undefined : r, page.path(name, r ? `?region=${r}` : '', id));
}

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

/** The console page of a resource, where AWS has one. */
export function resourceConsoleUrl(kind: ResourceKind, id: string, region: string | undefined, partition: string | undefined): string | undefined {
  const name = nameOf(id);
  const r = region && REGION.test(region) ? region : undefined;
  const at = (path: string) => consoleLink(partition, r, path);
  const q = r ? `?region=${r}` : '';
  switch (kind) {
    case 'ec2-instance':
      return /^i-[0-9a-f]{8,17}$/.test(name) && r ? at(`ec2/home${q}#InstanceDetails:instanceId=${name}`) : undefined;
    case 'security-group':
      return /^sg-[0-9a-f]{8,17}$/.test(name) && r ? at(`ec2/home${q}#SecurityGroup:groupId=${name}`) : undefined;
    case 'ebs-volume':
      return /^vol-[0-9a-f]{8,17}$/.test(name) && r ? at(`ec2/home${q}#VolumeDetails:volumeId=${name}`) : undefined;
    case 'ebs-snapshot':
      return /^snap-[0-9a-f]{8,17}$/.test(name) && r ? at(`ec2/home${q}#SnapshotDetails:snapshotId=${name}`) : undefined;
    case 'network-interface':
      return /^eni-[0-9a-f]{8,17}$/.test(name) && r ? at(`ec2/home${q}#NetworkInterface:networkInterfaceId=${name}`) : undefined;
    case 'vpc':
      return /^vpc-[0-9a-f]{8,17}$/.test(name) && r ? at(`vpcconsole/home${q}#VpcDetails:VpcId=${name}`) : undefined;
    case 'subnet':
      return /^subnet-[0-9a-f]{8,17}$/.test(name) && r ? at(`vpcconsole/home${q}#SubnetDetails:subnetId=${name}`) : undefined;
    case 's3-bucket':
      return /^[a-z0-9][a-z0-9.-]{1,62}$/.test(name) ? at(`s3/buckets/${enc(name)}${q}`) : undefined;
    case 'iam-user':
      return /^[\w+=,.@-]{1,64}$/.test(name) ? consoleLink(partition, undefined, `iam/home#/users/details/${enc(name)}`) : undefined;
    case 'iam-role':
      return /^[\w+=,.@-]{1,64}$/.test(name) ? consoleLink(partition, undefined, `iam/home#/roles/details/${enc(name)}`) : undefined;
    case 'lambda-function':
      return r && /^[\w-]{1,64}$/.test(name) ? at(`lambda/home${q}#/functions/${enc(name)}`) : undefined;
    case 'rds-instance':
    case 'rds-cluster':
      return r && /^[a-zA-Z][\w-]{0,62}$/.test(name) ? at(`rds/home${q}#database:id=${enc(name)};is-cluster=${kind === 'rds-cluster'}`) : undefined;
    case 'rds-snapshot':
      return r && /^[a-zA-Z][\w:-]{0,254}$/.test(name) ? at(`rds/home${q}#db-snapshot:id=${enc(name)}`) : undefined;
    case 'eks-cluster':
      return r && /^[\w-]{1,100}$/.test(name) ? at(`eks/home${q}#/clusters/${enc(name)}`) : undefined;
    case 'ecs-cluster':
      return r && /^[\w-]{1,255}$/.test(name) ? at(`ecs/v2/clusters/${enc(name)}${q}`) : undefined;
    case 'kms-key':
      return r && /^[0-9a-f-]{36}$/.test(name) ? at(`kms/home${q}#/kms/keys/${name}`) : undefined;
    case 'cloudtrail-trail':
      return r && id.startsWith('arn:') ? at(`cloudtrail/home${q}#/trails/${enc(id)}`) : undefined;
    default:
      return undefined;
  }
}

import { z } from 'zod';
import {
  ACCESS_KEY_ID,
  INSTANCE_ID,
  SEVERITY_OF_LABEL,
  type ActionType,
  type Finding,
  type InstanceRef,
  type PrincipalRef,
  type RemoteRef,
  type SeverityLabel,
  findingKey,
  guardDutyCanonicalId,
  REGION_PATTERN,
  principalArn,
  securityHubConsoleUrl,
  severityLabelOf,
} from './model';
import { arr, compact, num, obj, str, uniq, type Json, isoDate } from './loose';

/** ASFF's mandatory attributes that we rely on. */
export const asffRequired = z.looseObject({
  Id: z.string().min(1),
  ProductArn: z.string().regex(/^arn:aws(-[a-z]+){0,3}:securityhub:([a-z]{2}(-[a-z]+)+-\d{1,2})?:/, 'must be a Security Hub product ARN'),
  Region: z.string().regex(REGION_PATTERN, 'must be an AWS region such as us-east-1').optional(),
  AwsAccountId: z.string().regex(/^\d{12}$/, 'must be a 12-digit account ID'),
  CreatedAt: isoDate,
  UpdatedAt: isoDate,
  Severity: z.looseObject({}),
  Title: z.string(),
  Resources: z.array(z.looseObject({ Type: z.string(), Id: z.string() })).min(1),
});

type Asff = z.infer<typeof asffRequired>;

const GD_FINDING_ARN = /^arn:[^:]+:guardduty:([a-z0-9-]+):(\d{12}):detector\/[^/]+\/finding\/([^/]+)$/;
const LABELS = Object.keys(SEVERITY_OF_LABEL) as SeverityLabel[];

function severityOf(f: Asff, isGuardDuty: boolean): number {
  const s = obj(f.Severity);
  // GuardDuty's own 0-10 score survives in Original/Product; routing config uses that scale.
  if (isGuardDuty) {
    const original = num(s.Original) ?? num(s.Product);
    if (original !== undefined && original >= 0 && original <= 10) return original;
  }
  const normalized = num(s.Normalized);
  if (normalized !== undefined) return Math.round(normalized) / 10;
  const label = str(s.Label);
  return label && (LABELS as string[]).includes(label) ? SEVERITY_OF_LABEL[label as SeverityLabel] : 0;
}

/** "TTPs/Command and Control/Backdoor:EC2-C&CActivity.B" → "Backdoor:EC2/C&CActivity.B" */
function guardDutyTypeOf(f: Asff): string | undefined {
  for (const t of arr(f.Types)) {
    const last = typeof t === 'string' ? t.split('/').pop() : undefined;
    const m = last?.match(/^([A-Za-z]+):([A-Za-z0-9]+)-(.+)$/);
    if (m) return `${m[1]}:${m[2]}/${m[3]}`;
  }
  return undefined;
}

function instanceOf(resources: Json[]): InstanceRef | undefined {
  const r = resources.find((x) => x.Type === 'AwsEc2Instance');
  const id = r ? str(r.Id)?.match(INSTANCE_ID)?.[0] : undefined;
  if (!r || !id) return undefined;
  const d = obj(obj(r.Details).AwsEc2Instance);
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(r.Tags))) if (typeof v === 'string') tags[k] = v;
  const ips = arr(d.IpV4Addresses).map(str);
  const isPrivate = (ip: string) => /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(ip);
  return compact({
    id,
    name: tags.Name || undefined,
    type: str(d.Type),
    imageId: str(d.ImageId),
    vpcId: str(d.VpcId),
    subnetId: str(d.SubnetId),
    privateIps: uniq(ips.filter((ip) => ip !== undefined && isPrivate(ip))),
    publicIps: uniq(ips.filter((ip) => ip !== undefined && !isPrivate(ip))),
    networkInterfaceIds: uniq(arr(d.NetworkInterfaces).map((n) => str(obj(n).NetworkInterfaceId))),
    instanceProfileArn: str(d.IamInstanceProfileArn),
    launchTime: str(d.LaunchedAt),
    tags,
  });
}

function principalOf(resources: Json[], partition: string, accountId: string): PrincipalRef | undefined {
  const key = resources.find((x) => x.Type === 'AwsIamAccessKey');
  if (key) {
    const d = obj(obj(key.Details).AwsIamAccessKey);
    const userName = str(d.PrincipalName) ?? str(d.UserName);
    const userType = str(d.PrincipalType);
    return compact({
      accessKeyId: str(key.Id)?.match(ACCESS_KEY_ID)?.[0],
      userName,
      userType,
      arn: principalArn(partition, accountId, userType, userName),
    });
  }
  const iam = resources.find((x) => x.Type === 'AwsIamUser' || x.Type === 'AwsIamRole');
  const arn = iam ? str(iam.Id) : undefined;
  if (!iam || !arn?.startsWith('arn:')) return undefined;
  return { arn, userName: arn.split('/').pop(), userType: iam.Type === 'AwsIamUser' ? 'IAMUser' : 'Role' };
}

function remoteOf(f: Asff): { remote?: RemoteRef; localPort?: number; actionType?: ActionType; apiCall?: Finding['apiCall'] } {
  const action = obj(f.Action);
  const network = obj(f.Network);
  const t = str(action.ActionType);
  const ipDetails = (d: Json): RemoteRef =>
    compact({
      ip: str(d.IpAddressV4),
      country: str(obj(d.Country).CountryName),
      organization: str(obj(d.Organization).AsnOrg) ?? str(obj(d.Organization).Org),
    });
  switch (t) {
    case 'DNS_REQUEST':
      return { actionType: t, remote: compact({ domain: str(obj(action.DnsRequestAction).Domain) }) };
    case 'NETWORK_CONNECTION': {
      const a = obj(action.NetworkConnectionAction);
      return {
        actionType: t,
        remote: compact({ ...ipDetails(obj(a.RemoteIpDetails)), port: num(obj(a.RemotePortDetails).Port) }),
        localPort: num(obj(a.LocalPortDetails).Port),
      };
    }
    case 'PORT_PROBE': {
      const first = obj(arr(obj(action.PortProbeAction).PortProbeDetails)[0]);
      return { actionType: t, remote: ipDetails(obj(first.RemoteIpDetails)), localPort: num(obj(first.LocalPortDetails).Port) };
    }
    case 'AWS_API_CALL': {
      const a = obj(action.AwsApiCallAction);
      return {
        actionType: t,
        remote: compact({ ...ipDetails(obj(a.RemoteIpDetails)), domain: str(obj(a.DomainDetails).Domain) }),
        apiCall: compact({ service: str(a.ServiceName), name: str(a.Api), userAgent: undefined, errorCode: undefined }),
      };
    }
    default: {
      const outbound = str(network.Direction) === 'OUT';
      const remote = compact({
        ip: outbound ? str(network.DestinationIpV4) : str(network.SourceIpV4),
        domain: outbound ? str(network.DestinationDomain) : str(network.SourceDomain),
        port: outbound ? num(network.DestinationPort) : num(network.SourcePort),
      });
      return { actionType: t ? 'OTHER' : undefined, remote: Object.keys(remote).length > 0 ? remote : undefined };
    }
  }
}

/** ASFF finding → Finding. Call after asffRequired has passed. */
export function fromAsff(f: Asff): Finding {
  const productArnParts = f.ProductArn.split(':');
  const partition = productArnParts[1] || 'aws';
  const region = str(f.Region) ?? productArnParts[3] ?? 'unknown';
  const productName = str(f.ProductName) ?? f.ProductArn.split('/').pop() ?? 'Security Hub';
  const gd = f.Id.match(GD_FINDING_ARN);
  const isGuardDuty = gd !== null || /\/guardduty$/.test(f.ProductArn);
  const severity = severityOf(f, isGuardDuty);
  const resources = f.Resources as Json[];
  const fields = obj(f.ProductFields);
  const { remote, localPort, actionType, apiCall } = remoteOf(f);
  const workflow = obj(f.Workflow);
  const canonical = gd ? guardDutyCanonicalId(gd[2], gd[1], gd[3]) : `securityhub/${f.ProductArn}/${f.Id}`;
  const type = (isGuardDuty ? guardDutyTypeOf(f) : undefined) ?? str(arr(f.Types)[0]) ?? str(f.GeneratorId) ?? 'Unknown';
  const label = str(obj(f.Severity).Label);
  return compact({
    key: findingKey(canonical),
    id: f.Id,
    source: 'securityhub' as const,
    product: productName,
    type,
    title: f.Title || type,
    description: str(f.Description) ?? '',
    severity,
    severityLabel: label && (LABELS as string[]).includes(label) && !isGuardDuty ? (label as SeverityLabel) : severityLabelOf(severity),
    accountId: f.AwsAccountId,
    region,
    partition,
    firstSeen: str(f.FirstObservedAt) ?? f.CreatedAt,
    lastSeen: str(f.LastObservedAt) ?? f.UpdatedAt,
    updatedAt: f.UpdatedAt,
    count: num(fields['aws/guardduty/service/count']) ?? 1,
    actionType,
    instance: instanceOf(resources),
    principal: principalOf(resources, partition, f.AwsAccountId),
    remote,
    localPort,
    apiCall: apiCall && Object.keys(apiCall).length > 0 ? apiCall : undefined,
    workflowStatus: str(workflow.Status) ?? str(f.WorkflowState),
    securityHub: { id: f.Id, productArn: f.ProductArn },
    recordState: str(f.RecordState),
    consoleUrl: securityHubConsoleUrl(region, f.Id),
  });
}

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
  principalArn,
  severityLabelOf,
  ACCOUNT_ID,
  PARTITIONS,
  REGION,
  type ResourceRef,
} from './model';
import { securityHubConsoleUrl } from './console';
import { arr, compact, confidenceOf, dateOf, EPOCH, notFuture, num, obj, str, typed, uniq, type Json } from './loose';
import { fromAsffResource } from './resources';
import { asffClosure, providerFields } from './lifecycle';

/**
 * What makes a JSON object an ASFF finding at all: its Id. Everything else is read leniently
 * (see `fromAsff`), and what was odd is noted on the card rather than refusing the alert.
 */
export const asffRequired = z
  .looseObject({
    Id: z.union([z.string().min(1), z.number()], { error: 'required: an ASFF finding needs its Id' }),
  })
  .refine((f) => ['ProductArn', 'AwsAccountId', 'Title'].some((k) => f[k] !== undefined && f[k] !== null), {
    error: 'not an ASFF finding: it has an Id but none of ProductArn, AwsAccountId, Title',
  });

type Asff = Json & { Id: string | number };

/** GuardDuty finding ARNs; tolerates the doubled colon seen in AWS's own documentation example. */
const GD_FINDING_ARN = /^arn:[^:]+:+guardduty:([a-z0-9-]+):(\d{12}):detector\/[^/]+\/finding\/([^/]+)$/;
/** GuardDuty's own product ARN: only it may speak for a GuardDuty finding id (Security Hub sets ProductArn; importers cannot). */
const GD_PRODUCT_ARN = /^arn:[a-z-]*:+securityhub:[a-z0-9-]*:+product\/aws\/guardduty$/;
const PRODUCT_ARN = /^arn:(aws|aws-cn|aws-us-gov):securityhub:([a-z0-9-]*):(\d{12})?:product\/[^/]+\/[^/]+/;
const PRODUCT_ARN_LOOSE = /^arn:([a-z-]+):+securityhub:([a-z0-9-]*):/;
const LABELS = Object.keys(SEVERITY_OF_LABEL) as SeverityLabel[];

function severityOf(f: Asff, isGuardDuty: boolean, notes: string[]): number {
  // BatchImportFindings takes severity under FindingProviderFields; the top level wins when both are there.
  const s = f.Severity === undefined || f.Severity === null ? (providerFields(f).severity ?? {}) : obj(f.Severity);
  // GuardDuty's own 0-10 score survives in Original/Product; routing config uses that scale.
  if (isGuardDuty) {
    const original = num(s.Original) ?? num(s.Product);
    if (original !== undefined && original >= 0 && original <= 10) return original;
  }
  const normalized = num(s.Normalized);
  if (normalized !== undefined) return Math.round(normalized) / 10;
  const label = str(s.Label);
  // FindingProviderFields.Severity.Original is the product's own text: a 0-10 score within the label's band is kept.
  const original = num(s.Original);
  if (label && (LABELS as string[]).includes(label) && original !== undefined && original >= 0 && original <= 10 && severityLabelOf(original) === label) return original;
  if (label && (LABELS as string[]).includes(label)) return SEVERITY_OF_LABEL[label as SeverityLabel];
  notes.push('no usable Severity: shown as 0');
  return 0;
}

/** "TTPs/Command and Control/Backdoor:EC2-C&CActivity.B" → "Backdoor:EC2/C&CActivity.B" */
function guardDutyTypeOf(f: Json): string | undefined {
  for (const t of typesOf(f)) {
    const last = typeof t === 'string' ? t.split('/').pop() : undefined;
    const m = last?.match(/^([A-Za-z]+):([A-Za-z0-9]+)-(.+)$/);
    if (m) return `${m[1]}:${m[2]}/${m[3]}`;
  }
  return undefined;
}

/** Top-level Types, else FindingProviderFields.Types. */
function typesOf(f: Json): unknown[] {
  const top = arr(f.Types);
  return top.length > 0 ? top : providerFields(f).types;
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

function remoteOf(f: Json): { remote?: RemoteRef; localPort?: number; actionType?: ActionType; apiCall?: Finding['apiCall'] } {
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

/** ASFF finding → Finding. Call after asffRequired has passed; `notes` collects what was odd. */
export function fromAsff(f: Asff, context: { region?: string } = {}): Finding {
  const notes: string[] = [];
  const id = typed(f.Id, 'Id', notes) ?? String(f.Id);
  const rawProductArn = typed(f.ProductArn, 'ProductArn', notes);
  const strict = rawProductArn?.match(PRODUCT_ARN);
  const loose = strict ?? rawProductArn?.match(PRODUCT_ARN_LOOSE);
  if (!rawProductArn) notes.push('no ProductArn');
  else if (!strict) notes.push(`ProductArn ${JSON.stringify(rawProductArn.slice(0, 120))} is not in Security Hub's product ARN form`);
  const productArn = rawProductArn ?? 'unknown';
  const partition = loose?.[1] && (PARTITIONS as readonly string[]).includes(loose[1]) ? loose[1] : 'aws';
  const region = str(f.Region) ?? (loose?.[2] || undefined) ?? context.region ?? 'unknown';
  if (!REGION.test(region)) notes.push(`region ${JSON.stringify(region.slice(0, 40))} is not an AWS region`);
  const accountId = typed(f.AwsAccountId, 'AwsAccountId', notes) ?? 'unknown';
  if (!ACCOUNT_ID.test(accountId)) notes.push(`account ID ${JSON.stringify(accountId.slice(0, 40))} is not 12 digits: no response that acts in AWS is offered`);
  const productName = str(f.ProductName) ?? productArn.split('/').pop() ?? 'Security Hub';
  const fromGuardDuty = GD_PRODUCT_ARN.test(productArn);
  // Another product's finding with a GuardDuty-shaped Id keeps its own key: it must not take over GuardDuty's card.
  const gd = fromGuardDuty ? id.match(GD_FINDING_ARN) : null;
  if (!fromGuardDuty && GD_FINDING_ARN.test(id)) notes.push(`Id is a GuardDuty finding ARN but ProductArn is not GuardDuty's: kept apart from GuardDuty's own finding`);
  const isGuardDuty = fromGuardDuty;
  const severity = severityOf(f, isGuardDuty, notes);
  const rawResources = arr(f.Resources).map(obj);
  if (rawResources.length === 0) notes.push('no Resources listed');
  const resources = rawResources.map((r) => fromAsffResource(r, { region, partition })).filter((r): r is ResourceRef => r !== undefined);
  const fields = obj(f.ProductFields);
  const { remote, localPort, actionType, apiCall } = remoteOf(f);
  const workflow = obj(f.Workflow);
  const canonical = gd ? guardDutyCanonicalId(gd[2], gd[1], gd[3]) : `securityhub/${productArn}/${id}`;
  const type = (isGuardDuty ? guardDutyTypeOf(f) : undefined) ?? str(typesOf(f)[0]) ?? str(f.GeneratorId) ?? 'Unknown';
  const label = str(obj(f.Severity ?? providerFields(f).severity).Label);
  const closed = asffClosure(f, notes);
  const title = typed(f.Title, 'Title', notes);
  if (!title) notes.push('no Title');
  const createdAt = dateOf(f.CreatedAt, 'CreatedAt', notes);
  const updatedAt = notFuture(dateOf(f.UpdatedAt, 'UpdatedAt', notes) ?? createdAt ?? EPOCH, 'UpdatedAt', notes);
  const process = obj(f.Process);
  return compact({
    key: findingKey(canonical),
    id,
    source: 'securityhub' as const,
    format: 'asff' as const,
    product: productName,
    type,
    title: title ?? type,
    description: str(f.Description) ?? '',
    severity,
    severityLabel: label && (LABELS as string[]).includes(label) && !isGuardDuty ? (label as SeverityLabel) : severityLabelOf(severity),
    confidence: confidenceOf(num(f.Confidence)),
    accountId,
    region,
    partition,
    firstSeen: str(f.FirstObservedAt) ?? createdAt ?? updatedAt,
    lastSeen: str(f.LastObservedAt) ?? updatedAt,
    updatedAt,
    count: num(fields['aws/guardduty/service/count']) ?? 1,
    actionType,
    instance: instanceOf(rawResources),
    principal: principalOf(rawResources, partition, accountId),
    resources,
    process: Object.keys(process).length > 0 ? compact({ name: str(process.Name), path: str(process.Path), pid: num(process.Pid) }) : undefined,
    remote,
    localPort,
    apiCall: apiCall && Object.keys(apiCall).length > 0 ? apiCall : undefined,
    workflowStatus: str(workflow.Status) ?? str(f.WorkflowState),
    securityHub: rawProductArn ? { id, productArn } : undefined,
    recordState: str(f.RecordState),
    closed,
    notes: notes.length > 0 ? notes : undefined,
    consoleUrl: securityHubConsoleUrl(partition, region, id),
  });
}

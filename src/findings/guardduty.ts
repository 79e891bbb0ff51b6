import { z } from 'zod';
import {
  ACCESS_KEY_ID,
  type ActionType,
  type Finding,
  type InstanceRef,
  type PrincipalRef,
  type RemoteRef,
  findingKey,
  guardDutyCanonicalId,
  guardDutyConsoleUrl,
  PARTITION_PATTERN,
  REGION_PATTERN,
  principalArn,
  severityLabelOf,
} from './model';
import { arr, bool, compact, num, obj, str, uniq, type Json, isoDate } from './loose';

/** The fields without which a GuardDuty finding cannot be carded or acted on. */
export const guardDutyRequired = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  accountId: z.string().regex(/^\d{12}$/, 'must be a 12-digit account ID'),
  region: z.string().regex(REGION_PATTERN, 'must be an AWS region such as us-east-1'),
  partition: z.string().regex(PARTITION_PATTERN, 'must be an AWS partition such as aws').optional(),
  severity: z.number().min(0).max(10),
  createdAt: isoDate,
  updatedAt: isoDate,
  resource: z.looseObject({}),
});

const ACTION_TYPES: ActionType[] = ['DNS_REQUEST', 'NETWORK_CONNECTION', 'PORT_PROBE', 'AWS_API_CALL'];

function remoteFromIpDetails(d: Json): RemoteRef {
  return compact({
    ip: str(d.ipAddressV4) ?? str(d.ipAddressV6),
    country: str(obj(d.country).countryName),
    organization: str(obj(d.organization).asnOrg) ?? str(obj(d.organization).org),
  });
}

function instanceOf(resource: Json): InstanceRef | undefined {
  const d = obj(resource.instanceDetails);
  const id = str(d.instanceId);
  if (!id) return undefined;
  const enis = arr(d.networkInterfaces).map(obj);
  const tags: Record<string, string> = {};
  for (const t of arr(d.tags).map(obj)) {
    const k = str(t.key);
    if (k) tags[k] = typeof t.value === 'string' ? t.value : '';
  }
  return compact({
    id,
    name: tags.Name || undefined,
    type: str(d.instanceType),
    imageId: str(d.imageId),
    vpcId: str(enis[0]?.vpcId),
    subnetId: str(enis[0]?.subnetId),
    privateIps: uniq(enis.flatMap((e) => [str(e.privateIpAddress), ...arr(e.privateIpAddresses).map((p) => str(obj(p).privateIpAddress))])),
    publicIps: uniq(enis.map((e) => str(e.publicIp))),
    networkInterfaceIds: uniq(enis.map((e) => str(e.networkInterfaceId))),
    instanceProfileArn: str(obj(d.iamInstanceProfile).arn),
    launchTime: str(d.launchTime),
    tags,
  });
}

function principalOf(resource: Json, partition: string, accountId: string): PrincipalRef | undefined {
  // Instance findings carry placeholder accessKeyDetails; only AccessKey findings name a real principal.
  if (resource.resourceType !== 'AccessKey') return undefined;
  const k = obj(resource.accessKeyDetails);
  const accessKeyId = str(k.accessKeyId);
  const userName = str(k.userName);
  const userType = str(k.userType);
  if (!accessKeyId && !userName) return undefined;
  return compact({
    accessKeyId: accessKeyId && ACCESS_KEY_ID.test(accessKeyId) ? accessKeyId : undefined,
    userName,
    userType,
    arn: principalArn(partition, accountId, userType, userName),
  });
}

/** GuardDuty finding (EventBridge `detail`) → Finding. Call after guardDutyRequired has passed. */
export function fromGuardDuty(detail: z.infer<typeof guardDutyRequired>): Finding {
  const service = obj(detail.service);
  const action = obj(service.action);
  const rawActionType = str(action.actionType);
  const actionType = rawActionType
    ? ((ACTION_TYPES as string[]).includes(rawActionType) ? (rawActionType as ActionType) : 'OTHER')
    : undefined;
  const partition = str(detail.partition) ?? 'aws';

  let remote: RemoteRef | undefined;
  let localPort: number | undefined;
  let apiCall: Finding['apiCall'];
  switch (actionType) {
    case 'DNS_REQUEST':
      remote = compact({ domain: str(obj(action.dnsRequestAction).domain) });
      break;
    case 'NETWORK_CONNECTION': {
      const a = obj(action.networkConnectionAction);
      remote = { ...remoteFromIpDetails(obj(a.remoteIpDetails)), ...compact({ port: num(obj(a.remotePortDetails).port) }) };
      localPort = num(obj(a.localPortDetails).port);
      break;
    }
    case 'PORT_PROBE': {
      const first = obj(arr(obj(action.portProbeAction).portProbeDetails)[0]);
      remote = remoteFromIpDetails(obj(first.remoteIpDetails));
      localPort = num(obj(first.localPortDetails).port);
      break;
    }
    case 'AWS_API_CALL': {
      const a = obj(action.awsApiCallAction);
      remote = compact({ ...remoteFromIpDetails(obj(a.remoteIpDetails)), domain: str(obj(a.domainDetails).domain) });
      apiCall = compact({
        service: str(a.serviceName),
        name: str(a.api),
        userAgent: str(a.userAgent) ?? str(obj(obj(service.additionalInfo).userAgent).fullUserAgent),
        errorCode: str(a.errorCode),
      });
      break;
    }
    default:
      break;
  }

  const count = num(service.count) ?? 1;
  const archived = bool(service.archived);
  return compact({
    key: findingKey(guardDutyCanonicalId(detail.accountId, detail.region, detail.id)),
    id: detail.id,
    source: 'guardduty' as const,
    product: 'GuardDuty',
    type: detail.type,
    title: str(detail.title) ?? detail.type,
    description: str(detail.description) ?? '',
    severity: detail.severity,
    severityLabel: severityLabelOf(detail.severity),
    accountId: detail.accountId,
    region: detail.region,
    partition,
    firstSeen: str(service.eventFirstSeen) ?? detail.createdAt,
    lastSeen: str(service.eventLastSeen) ?? detail.updatedAt,
    updatedAt: detail.updatedAt,
    count,
    actionType,
    instance: instanceOf(detail.resource),
    principal: principalOf(detail.resource, partition, detail.accountId),
    remote: remote && Object.keys(remote).length > 0 ? remote : undefined,
    localPort,
    apiCall: apiCall && Object.keys(apiCall).length > 0 ? apiCall : undefined,
    archived,
    // GuardDuty findings are imported into Security Hub under their own ARN.
    securityHub: str(detail.arn) ? { id: str(detail.arn)!, productArn: `arn:${partition}:securityhub:${detail.region}::product/aws/guardduty` } : undefined,
    consoleUrl: guardDutyConsoleUrl(detail.region, detail.id),
  });
}

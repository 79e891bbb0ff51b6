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
  principalArn,
  ACCOUNT_ID,
  PARTITIONS,
  REGION,
  type ProcessRef,
  type ResourceRef,
  type SequenceRef,
  severityLabelOf,
} from './model';
import { guardDutyConsoleUrl, nameOf } from './console';
import { arr, bool, compact, dateOf, EPOCH, notFuture, num, obj, str, typed, uniq, type Json } from './loose';
import { kindOfType, pickDetails, resource as resourceRef } from './resources';
import { guardDutyClosure } from './lifecycle';

/**
 * What makes a JSON object a GuardDuty finding at all: its id and type. Everything else is read
 * leniently (see `fromGuardDuty`), and what was odd is noted on the card instead of refusing it.
 */
export const guardDutyRequired = z.looseObject({
  id: z.string({ error: 'required: a GuardDuty finding needs its id' }).min(1),
  type: z.string({ error: 'required: a GuardDuty finding needs its type' }).min(1),
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

type Where = { region: string; partition: string; accountId: string };

const plainTags = (tags: unknown): [string, string][] =>
  arr(tags)
    .map(obj)
    .filter((t) => str(t.key) === 'Name' && str(t.value))
    .map((t) => ['Name', String(t.value)]);

/** Every resource GuardDuty names, kind by kind (the `resource` object holds one block per kind). */
function resourcesOf(resource: Json, action: Json, w: Where, principal: PrincipalRef | undefined): ResourceRef[] {
  const out: ResourceRef[] = [];
  const at = { region: w.region, partition: w.partition, accountId: w.accountId };
  const inst = obj(resource.instanceDetails);
  if (str(inst.instanceId)) {
    out.push(resourceRef('ec2-instance', 'Instance', str(inst.instanceId)!, { ...at, details: [...plainTags(inst.tags), ...pickDetails(inst, ['instanceId', 'tags'])].slice(0, 5) }));
  }
  if (principal) {
    if (principal.accessKeyId) out.push(resourceRef('iam-access-key', 'AccessKey', principal.accessKeyId, { ...at, name: principal.userName, details: principal.userType ? [['UserType', principal.userType]] : [] }));
    if (principal.arn && /:(user|role)\//.test(principal.arn)) {
      out.push(resourceRef(/:user\//.test(principal.arn) ? 'iam-user' : 'iam-role', principal.userType ?? 'Principal', principal.arn, { ...at, name: principal.userName }));
    } else if (!principal.accessKeyId && principal.userName) {
      out.push(resourceRef('other', principal.userType ?? 'Principal', principal.userName, at));
    }
  }
  for (const b of arr(resource.s3BucketDetails).map(obj)) {
    const id = str(b.arn) ?? str(b.name);
    if (!id) continue;
    const details: [string, string][] = [];
    const perm = str(obj(b.publicAccess).effectivePermission);
    if (perm) details.push(['Public access', perm]);
    const enc = str(obj(b.defaultServerSideEncryption).encryptionType);
    if (enc) details.push(['Encryption', enc]);
    if (str(obj(b.owner).id)) details.push(['Owner', str(obj(b.owner).id)!.slice(0, 64)]);
    if (str(b.type)) details.push(['Role', str(b.type)!]);
    out.push(resourceRef('s3-bucket', 'S3Bucket', id, { ...at, name: str(b.name), details }));
  }
  const eks = obj(resource.eksClusterDetails);
  if (str(eks.name) || str(eks.arn)) out.push(resourceRef('eks-cluster', 'EKSCluster', str(eks.arn) ?? str(eks.name)!, { ...at, name: str(eks.name), details: pickDetails(eks, ['name', 'arn', 'tags']) }));
  const k8s = obj(resource.kubernetesDetails);
  const workload = obj(k8s.kubernetesWorkloadDetails);
  if (str(workload.name) || str(workload.uid)) {
    const ns = str(workload.namespace);
    out.push(resourceRef('kubernetes-workload', 'KubernetesWorkload', `${ns ? `${ns}/` : ''}${str(workload.name) ?? str(workload.uid)}`, { ...at, details: pickDetails(workload, ['name', 'namespace', 'containers', 'volumes']) }));
  }
  const k8sUser = obj(k8s.kubernetesUserDetails);
  if (str(k8sUser.username)) {
    out.push(resourceRef('other', 'KubernetesUser', str(k8sUser.username)!, { ...at, details: arr(k8sUser.groups).length ? [['Groups', arr(k8sUser.groups).map(String).join(', ').slice(0, 100)]] : [] }));
  }
  const ecs = obj(resource.ecsClusterDetails);
  if (str(ecs.name) || str(ecs.arn)) out.push(resourceRef('ecs-cluster', 'ECSCluster', str(ecs.arn) ?? str(ecs.name)!, { ...at, name: str(ecs.name), details: pickDetails(ecs, ['name', 'arn', 'tags', 'taskDetails']) }));
  const task = obj(ecs.taskDetails);
  if (str(task.arn)) out.push(resourceRef('ecs-task', 'ECSTask', str(task.arn)!, { ...at, details: pickDetails(task, ['arn', 'containers']) }));
  for (const c of [...arr(task.containers), resource.containerDetails].map(obj)) {
    const id = str(c.id) ?? str(c.name);
    if (id) out.push(resourceRef('container', 'Container', id, { ...at, details: pickDetails(c, ['id', 'securityContext', 'volumeMounts']) }));
  }
  const rds = obj(resource.rdsDbInstanceDetails);
  const rdsId = str(rds.dbInstanceIdentifier) ?? str(rds.dbInstanceArn);
  if (rdsId) out.push(resourceRef('rds-instance', 'RDSDBInstance', rdsId, { ...at, details: pickDetails(rds, ['dbInstanceIdentifier', 'tags']) }));
  const rdsUser = obj(resource.rdsDbUserDetails);
  if (str(rdsUser.user)) out.push(resourceRef('rds-login', 'RDSDBUser', str(rdsUser.user)!, { ...at, details: pickDetails(rdsUser, ['user']) }));
  const lambda = obj(resource.lambdaDetails);
  const fn = str(lambda.functionArn) ?? str(lambda.functionName);
  if (fn) out.push(resourceRef('lambda-function', 'Lambda', fn, { ...at, name: str(lambda.functionName), details: pickDetails(lambda, ['functionArn', 'functionName', 'tags', 'vpcConfig']) }));
  for (const v of arr(obj(resource.ebsVolumeDetails).scannedVolumeDetails).map(obj)) {
    const arn = str(v.volumeArn);
    if (arn) out.push(resourceRef('ebs-volume', 'EBSVolume (scanned)', arn, { ...at, region: arn.split(':')[3] || w.region, details: pickDetails(v, ['volumeArn']) }));
  }
  // API-call findings name what the call touched (e.g. the role a policy was put on).
  for (const [type, id] of Object.entries(obj(obj(action.awsApiCallAction).affectedResources))) {
    if (typeof id === 'string' && id) out.push(resourceRef(kindOfType(type), type, id, at));
  }
  return dedupe(out);
}

function dedupe(list: ResourceRef[]): ResourceRef[] {
  const seen = new Set<string>();
  return list.filter((r) => !seen.has(`${r.kind}|${r.id}`) && seen.add(`${r.kind}|${r.id}`));
}

function processOf(service: Json): ProcessRef | undefined {
  const p = obj(obj(service.runtimeDetails).process);
  const ref = compact({ name: str(p.name), path: str(p.executablePath), pid: num(p.pid), sha256: str(p.executableSha256), user: str(p.user) });
  return Object.keys(ref).length > 0 ? ref : undefined;
}

/** Extended Threat Detection: `service.detection.sequence` (GuardDuty API `Sequence`). */
function sequenceOf(service: Json, w: Where): { sequence: SequenceRef; resources: ResourceRef[] } | undefined {
  const seq = obj(obj(service.detection).sequence);
  if (Object.keys(seq).length === 0) return undefined;
  const resources = arr(seq.resources)
    .map(obj)
    .flatMap((r) => {
      const type = str(r.resourceType) ?? 'Resource';
      const id = str(r.uid) ?? str(r.name);
      if (!id) return [];
      const partition = str(r.cloudPartition);
      return [resourceRef(kindOfType(type), type, id, { name: str(r.name), region: str(r.region) ?? w.region, partition: partition && (PARTITIONS as readonly string[]).includes(partition) ? partition : w.partition, accountId: str(r.accountId) ?? w.accountId, details: str(r.service) ? [['Service', str(r.service)!]] : [] })];
    });
  const actors = arr(seq.actors)
    .map(obj)
    .map((a) => {
      const u = obj(a.user);
      const who = [str(u.type), str(u.name) ?? str(u.uid)].filter(Boolean).join(' ');
      const key = str(u.credentialUid);
      const proc = str(obj(a.process).name);
      return [who, key && `key ${key}`, proc && `process ${proc}`].filter(Boolean).join(', ');
    })
    .filter((s) => s.length > 0);
  const endpoints = arr(seq.endpoints)
    .map(obj)
    .map((e) => {
      const where = [str(e.ip), str(e.domain)].filter(Boolean).join(' ');
      const port = num(e.port);
      const country = str(obj(e.location).country);
      const as = str(obj(e.autonomousSystem).name);
      return [where + (port !== undefined ? `:${port}` : ''), [country, as].filter(Boolean).join(', ')].filter(Boolean).join(' · ');
    })
    .filter((s) => s.length > 0);
  const signals = arr(seq.signals)
    .map(obj)
    .map((g) =>
      compact({
        type: str(g.type),
        name: str(g.name) ?? str(g.uid) ?? 'signal',
        description: str(g.description),
        count: num(g.count),
        severity: num(g.severity),
        firstSeen: dateOf(g.firstSeenAt, 'signal firstSeenAt', []),
        lastSeen: dateOf(g.lastSeenAt, 'signal lastSeenAt', []),
      }),
    );
  return { sequence: compact({ uid: str(seq.uid), description: str(seq.description), signals, actors, endpoints }), resources };
}

/** The first EC2 instance a sequence names, enough to offer isolation and snapshots for it. */
function bareInstance(r: ResourceRef): InstanceRef | undefined {
  const id = nameOf(r.id);
  return /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(id) ? { id, privateIps: [], publicIps: [], networkInterfaceIds: [], tags: {} } : undefined;
}

/**
 * GuardDuty finding (EventBridge `detail`) → Finding. Call after guardDutyRequired has passed;
 * `context` is what the EventBridge envelope says (used when the detail lacks it).
 */
export function fromGuardDuty(detail: z.infer<typeof guardDutyRequired>, context: { region?: string; accountId?: string } = {}): Finding {
  const notes: string[] = [];
  const service = obj(detail.service);
  const action = obj(service.action);
  const rawActionType = str(action.actionType);
  const actionType = rawActionType
    ? ((ACTION_TYPES as string[]).includes(rawActionType) ? (rawActionType as ActionType) : 'OTHER')
    : undefined;
  const rawPartition = str(detail.partition);
  const partition = rawPartition && (PARTITIONS as readonly string[]).includes(rawPartition) ? rawPartition : 'aws';
  if (rawPartition && partition !== rawPartition) notes.push(`partition ${JSON.stringify(rawPartition.slice(0, 30))} is not an AWS partition`);
  const arnParts = (str(detail.arn) ?? '').split(':');
  const region = str(detail.region) ?? (arnParts[3] || undefined) ?? context.region ?? 'unknown';
  if (!REGION.test(region)) notes.push(`region ${JSON.stringify(region.slice(0, 40))} is not an AWS region`);
  if (detail.accountId === undefined && context.accountId) notes.push('no accountId: taken from the event envelope');
  const accountId = typed(detail.accountId, 'accountId', notes) ?? context.accountId ?? 'unknown';
  if (!ACCOUNT_ID.test(accountId)) notes.push(`account ID ${JSON.stringify(accountId.slice(0, 40))} is not 12 digits: no response that acts in AWS is offered`);
  let severity = num(detail.severity);
  if (typeof detail.severity === 'string' && severity !== undefined) notes.push('severity was a string, not a number');
  if (severity === undefined || severity < 0 || severity > 10) {
    notes.push(`severity ${JSON.stringify(detail.severity ?? null).slice(0, 20)} is not a 0-10 number: shown as 0`);
    severity = 0;
  }
  const createdAt = dateOf(detail.createdAt, 'createdAt', notes);
  const updatedAt = notFuture(dateOf(detail.updatedAt, 'updatedAt', notes) ?? createdAt ?? EPOCH, 'updatedAt', notes);
  const hasResource = detail.resource !== null && typeof detail.resource === 'object';
  const rawResource = obj(detail.resource);
  const sequence = sequenceOf(service, { region, partition, accountId });
  if (!hasResource && !sequence) notes.push('no resource object: the affected resource is unknown');

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

  const principal = principalOf(rawResource, partition, accountId);
  const where = { region, partition, accountId };
  const resources = dedupe([...resourcesOf(rawResource, action, where, principal), ...(sequence?.resources ?? [])]);
  const instance = instanceOf(rawResource) ?? resources.filter((r) => r.kind === 'ec2-instance').map(bareInstance).find(Boolean);
  const count = num(service.count) ?? 1;
  const archived = bool(service.archived);
  const closed = guardDutyClosure(service, notes);
  const title = typed(detail.title, 'title', notes);
  return compact({
    key: findingKey(guardDutyCanonicalId(accountId, region, detail.id)),
    id: detail.id,
    source: 'guardduty' as const,
    format: 'guardduty' as const,
    product: 'GuardDuty',
    type: detail.type,
    title: title ?? detail.type,
    description: str(detail.description) ?? str(obj(obj(service.detection).sequence).description) ?? '',
    severity,
    severityLabel: severityLabelOf(severity),
    accountId,
    region,
    partition,
    firstSeen: str(service.eventFirstSeen) ?? createdAt ?? updatedAt,
    lastSeen: str(service.eventLastSeen) ?? updatedAt,
    updatedAt,
    count,
    actionType,
    instance,
    principal,
    resources,
    process: processOf(service),
    sequence: sequence?.sequence,
    remote: remote && Object.keys(remote).length > 0 ? remote : undefined,
    localPort,
    apiCall: apiCall && Object.keys(apiCall).length > 0 ? apiCall : undefined,
    archived,
    closed,
    notes: notes.length > 0 ? notes : undefined,
    // GuardDuty findings are imported into Security Hub under their own ARN.
    securityHub: str(detail.arn) ? { id: str(detail.arn)!, productArn: `arn:${partition}:securityhub:${region}::product/aws/guardduty` } : undefined,
    consoleUrl: guardDutyConsoleUrl(partition, region, detail.id),
  });
}

/**
 * The new Security Hub (GA late 2025) sends OCSF findings to EventBridge as `Findings Imported V2`
 * (one finding per event, in `detail.findings`). OCSF Detection/Compliance/Vulnerability Findings
 * share the fields read here: finding_info, metadata.product, cloud, resources[], severity_id,
 * evidences[] (actor, api, src/dst endpoints, process).
 */
import { z } from 'zod';
import { nameOf, securityHubV2ConsoleUrl } from './console';
import {
  ACCESS_KEY_ID,
  ACCOUNT_ID,
  PARTITIONS,
  REGION,
  SEVERITY_OF_LABEL,
  type Finding,
  type InstanceRef,
  type PrincipalRef,
  type ProcessRef,
  type RemoteRef,
  type ResourceRef,
  type SeverityLabel,
  findingKey,
  guardDutyCanonicalId,
  principalArn,
  severityLabelOf,
} from './model';
import { arr, compact, confidenceOf, dateOf, EPOCH, notFuture, num, obj, str, typed, type Json } from './loose';
import { kindOfType, pickDetails, resource } from './resources';
import { ocsfClosure } from './lifecycle';

/** What makes a JSON object an OCSF finding at all: finding_info.uid (Security Hub's dedupe key with the product and account). */
export const ocsfRequired = z.looseObject({
  finding_info: z.looseObject({ uid: z.string({ error: 'required: an OCSF finding needs finding_info.uid' }).min(1) }, { error: 'required: an OCSF finding needs finding_info' }),
});

/** OCSF severity_id: 0 Unknown, 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal, 99 Other. */
const LABEL_OF_SEVERITY_ID: Record<number, SeverityLabel> = { 1: 'INFORMATIONAL', 2: 'LOW', 3: 'MEDIUM', 4: 'HIGH', 5: 'CRITICAL', 6: 'CRITICAL' };

const GD_FINDING_ARN = /^arn:[^:]+:+guardduty:([a-z0-9-]+):(\d{12}):detector\/[^/]+\/finding\/([^/]+)$/;
const GD_TYPE = /^[A-Za-z]+:[A-Za-z0-9]+\/[\w.!&-]+$/;

/** `*_time_dt` (ISO) or `*_time` (epoch ms), whichever the producer sent. */
function timeOf(o: Json, name: string, notes: string[]): string | undefined {
  return dateOf(o[`${name}_dt`], `${name}_dt`, notes) ?? dateOf(o[name], name, notes);
}

function endpointOf(e: Json): RemoteRef {
  return compact({
    ip: str(e.ip),
    domain: str(e.domain) ?? str(e.hostname),
    port: num(e.port),
    country: str(obj(e.location).country),
    organization: str(obj(e.autonomous_system).name),
  });
}

function principalOf(evidences: Json[], resources: ResourceRef[], partition: string, accountId: string): PrincipalRef | undefined {
  for (const ev of evidences) {
    const u = obj(obj(ev.actor).user);
    const uid = str(u.uid);
    const name = str(u.name);
    const type = str(u.type);
    const key = str(u.credential_uid);
    if (!uid && !name && !key) continue;
    const arn = uid?.startsWith('arn:') ? uid : principalArn(partition, accountId, type, name);
    return compact({ accessKeyId: key?.match(ACCESS_KEY_ID)?.[0], userName: name ?? (arn ? nameOf(arn) : undefined), userType: type, arn });
  }
  const key = resources.find((r) => r.kind === 'iam-access-key');
  if (key) return compact({ accessKeyId: key.id.match(ACCESS_KEY_ID)?.[0], userName: key.name });
  const iam = resources.find((r) => (r.kind === 'iam-user' || r.kind === 'iam-role') && r.id.startsWith('arn:'));
  return iam ? { arn: iam.id, userName: nameOf(iam.id), userType: iam.kind === 'iam-user' ? 'IAMUser' : 'Role' } : undefined;
}

function processOf(evidences: Json[]): ProcessRef | undefined {
  for (const ev of evidences) {
    const p = obj(ev.process ?? obj(ev.actor).process);
    const file = obj(p.file);
    const sha = arr(file.hashes).map(obj).find((h) => /sha-?256/i.test(String(h.algorithm ?? '')));
    const ref = compact({ name: str(p.name), path: str(file.path) ?? str(p.path), pid: num(p.pid), sha256: str(sha?.value), user: str(obj(p.user).name) });
    if (Object.keys(ref).length > 0) return ref;
  }
  return undefined;
}

/** OCSF finding → Finding. Call after ocsfRequired has passed; `context` is the EventBridge envelope. */
export function fromOcsf(f: z.infer<typeof ocsfRequired>, context: { region?: string; accountId?: string } = {}): Finding {
  const notes: string[] = [];
  const info = obj(f.finding_info);
  const uid = f.finding_info.uid;
  const metadata = obj(f.metadata);
  const product = obj(metadata.product);
  const productName = str(product.name) ?? str(product.vendor_name) ?? 'Security Hub';
  const cloud = obj(f.cloud);
  const accountId = typed(obj(cloud.account).uid, 'cloud.account.uid', notes) ?? context.accountId ?? 'unknown';
  if (!ACCOUNT_ID.test(accountId)) notes.push(`account ID ${JSON.stringify(accountId.slice(0, 40))} is not 12 digits: no response that acts in AWS is offered`);
  const rawResources = arr(f.resources).map(obj);
  const region = str(cloud.region) ?? str(rawResources[0]?.region) ?? context.region ?? 'unknown';
  if (!REGION.test(region)) notes.push(`region ${JSON.stringify(region.slice(0, 40))} is not an AWS region`);
  const rawPartition = str(rawResources[0]?.cloud_partition);
  const partition = rawPartition && (PARTITIONS as readonly string[]).includes(rawPartition) ? rawPartition : 'aws';

  const severityId = num(f.severity_id);
  const label = (severityId !== undefined ? LABEL_OF_SEVERITY_ID[severityId] : undefined) ?? (str(f.severity)?.toUpperCase() as SeverityLabel | undefined);
  const known = label !== undefined && label in SEVERITY_OF_LABEL;
  if (!known) notes.push('no usable severity_id: shown as 0');
  const severity = known ? SEVERITY_OF_LABEL[label] + (severityId === 6 ? 1 : 0) : 0;

  if (rawResources.length === 0) notes.push('no resources listed');
  const resources = rawResources.flatMap((r) => {
    const type = str(r.type) ?? 'Resource';
    const id = str(r.uid) ?? str(r.name);
    if (!id) return [];
    const p = str(r.cloud_partition);
    return [
      resource(kindOfType(type), type, id, {
        name: str(r.name),
        region: str(r.region) ?? region,
        partition: p && (PARTITIONS as readonly string[]).includes(p) ? p : partition,
        accountId: str(obj(obj(r.owner).account).uid) ?? accountId,
        details: pickDetails(obj(r.data), []),
      }),
    ];
  });
  const firstInstance = resources.find((r) => r.kind === 'ec2-instance' && /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(nameOf(r.id)));
  const instance: InstanceRef | undefined = firstInstance
    ? { id: nameOf(firstInstance.id), privateIps: [], publicIps: [], networkInterfaceIds: [], tags: {}, ...(firstInstance.name ? { name: firstInstance.name } : {}) }
    : undefined;

  const evidences = arr(f.evidences).map(obj);
  const ev = evidences[0] ?? {};
  const inbound = /^in/i.test(String(obj(ev.connection_info).direction ?? ''));
  const outbound = /^out/i.test(String(obj(ev.connection_info).direction ?? ''));
  const src = endpointOf(obj(ev.src_endpoint));
  const dst = endpointOf(obj(ev.dst_endpoint));
  const remoteRaw = outbound ? dst : inbound ? src : Object.keys(src).length > 0 ? src : dst;
  const api = obj(ev.api);
  const apiCall = compact({ service: str(obj(api.service).name), name: str(api.operation), userAgent: str(obj(ev.http_request).user_agent), errorCode: str(obj(api.response).error) });

  // Only GuardDuty's own product uid speaks for a GuardDuty finding id (any product may call itself "GuardDuty").
  const fromGuardDuty = /^arn:[a-z-]*:securityhub:[a-z0-9-]*::product(?:v2)?\/aws\/guardduty$/.test(str(product.uid) ?? '');
  const gd = fromGuardDuty ? uid.match(GD_FINDING_ARN) : null;
  if (!fromGuardDuty && GD_FINDING_ARN.test(uid)) notes.push(`finding_info.uid is a GuardDuty finding ARN but metadata.product.uid is not GuardDuty's: kept apart from GuardDuty's own finding`);
  const isGuardDuty = fromGuardDuty;
  const bareGdId = isGuardDuty && !gd && /^[0-9a-f]{32}$/.test(uid);
  const canonical = gd ? guardDutyCanonicalId(gd[2], gd[1], gd[3]) : bareGdId ? guardDutyCanonicalId(accountId, region, uid) : `ocsf/${str(product.uid) ?? productName}/${uid}`;
  const types = arr(info.types).map(str).filter((t): t is string => t !== undefined);
  const type = types.find((t) => GD_TYPE.test(t)) ?? types[0] ?? str(f.class_name) ?? 'Unknown';
  const title = typed(info.title, 'finding_info.title', notes);
  if (!title) notes.push('no finding_info.title');
  const createdAt = timeOf(info, 'created_time', notes);
  const updatedAt = notFuture(timeOf(info, 'modified_time', notes) ?? timeOf(f, 'time', notes) ?? createdAt ?? EPOCH, 'modified_time', notes);
  const status = str(f.status);
  const closed = ocsfClosure(f, notes);
  return compact({
    key: findingKey(canonical),
    id: uid,
    source: 'securityhub' as const,
    format: 'ocsf' as const,
    product: productName,
    type,
    title: title ?? type,
    description: str(info.desc) ?? str(f.message) ?? '',
    severity,
    severityLabel: severityLabelOf(severity),
    confidence: confidenceOf(num(f.confidence_score)),
    accountId,
    region,
    partition,
    firstSeen: timeOf(info, 'first_seen_time', notes) ?? createdAt ?? updatedAt,
    lastSeen: timeOf(info, 'last_seen_time', notes) ?? updatedAt,
    updatedAt,
    count: num(f.count) ?? 1,
    actionType: str(api.operation) ? ('AWS_API_CALL' as const) : undefined,
    instance,
    principal: principalOf(evidences, resources, partition, accountId),
    resources,
    process: processOf(evidences),
    remote: Object.keys(remoteRaw).length > 0 ? remoteRaw : undefined,
    localPort: outbound ? src.port : inbound ? dst.port : undefined,
    apiCall: Object.keys(apiCall).length > 0 ? apiCall : undefined,
    workflowStatus: status ? status.toUpperCase().replace(/\s+/g, '_') : undefined,
    closed,
    // Updated where it came from: the new Security Hub (CSPM, if it is on at all, has its own copy).
    securityHubV2: ACCOUNT_ID.test(accountId) && str(product.uid) ? { cloudAccountUid: accountId, findingInfoUid: uid, metadataProductUid: str(product.uid)! } : undefined,
    notes: notes.length > 0 ? notes : undefined,
    consoleUrl: securityHubV2ConsoleUrl(partition, region, uid),
  });
}

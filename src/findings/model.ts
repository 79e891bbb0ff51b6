import { createHash } from 'node:crypto';

export type FindingSource = 'guardduty' | 'securityhub';
/** Which wire format the finding came in (GuardDuty's own JSON, ASFF, or OCSF from the new Security Hub). */
export type FindingFormat = 'guardduty' | 'asff' | 'ocsf';
export type SeverityLabel = 'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

/** What the finding says happened on the wire or the API, in GuardDuty's vocabulary. */
export type ActionType = 'DNS_REQUEST' | 'NETWORK_CONNECTION' | 'PORT_PROBE' | 'AWS_API_CALL' | 'OTHER';

export interface InstanceRef {
  id: string;
  name?: string;
  type?: string;
  imageId?: string;
  vpcId?: string;
  subnetId?: string;
  privateIps: string[];
  publicIps: string[];
  networkInterfaceIds: string[];
  instanceProfileArn?: string;
  launchTime?: string;
  tags: Record<string, string>;
}

export interface PrincipalRef {
  accessKeyId?: string;
  userName?: string;
  /** IAMUser, AssumedRole, Root, … as GuardDuty names it. */
  userType?: string;
  /** user or role ARN (derived from account + name when the source gives only the name). */
  arn?: string;
}

export interface RemoteRef {
  ip?: string;
  domain?: string;
  port?: number;
  country?: string;
  organization?: string;
}

/**
 * What a resource is, whatever the source calls it (ASFF `AwsS3Bucket`, GuardDuty `S3Bucket` or
 * `S3_BUCKET`, OCSF `AWS::S3::Bucket`). Decides the console link and which responses apply.
 */
export type ResourceKind =
  | 'ec2-instance'
  | 'security-group'
  | 'network-interface'
  | 'ebs-volume'
  | 'ebs-snapshot'
  | 'vpc'
  | 'subnet'
  | 's3-bucket'
  | 's3-object'
  | 'iam-user'
  | 'iam-role'
  | 'iam-access-key'
  | 'iam-policy'
  | 'lambda-function'
  | 'rds-instance'
  | 'rds-cluster'
  | 'rds-snapshot'
  | 'rds-login'
  | 'eks-cluster'
  | 'kubernetes-workload'
  | 'ecs-cluster'
  | 'ecs-task'
  | 'container'
  | 'ecr-image'
  | 'kms-key'
  | 'cloudtrail-trail'
  | 'account'
  | 'other';

/** One affected resource as the finding names it. Every string is raw: escape before display. */
export interface ResourceRef {
  kind: ResourceKind;
  /** The source's own type name, shown for kinds we do not know. */
  type: string;
  /** Id or ARN as given. */
  id: string;
  name?: string;
  region?: string;
  partition?: string;
  accountId?: string;
  /** The useful fields of the source's details, label → value, a handful at most. */
  details: [string, string][];
  /** Built by findings/console.ts from validated partition, region and id; always on the console host. */
  consoleUrl?: string;
}

/** A process the finding names (GuardDuty Runtime Monitoring, ASFF `Process`, OCSF actor.process). */
export interface ProcessRef {
  name?: string;
  path?: string;
  pid?: number;
  sha256?: string;
  user?: string;
}

/** GuardDuty Extended Threat Detection: the signals that make up an attack sequence. */
export interface SequenceRef {
  uid?: string;
  /** Raw, attacker-influenced text: escape before display. */
  description?: string;
  signals: { type?: string; name: string; description?: string; count?: number; severity?: number; firstSeen?: string; lastSeen?: string }[];
  /** Principals and sessions behind the sequence, as short readable strings. */
  actors: string[];
  /** Network endpoints (ip, domain, port, country), as short readable strings. */
  endpoints: string[];
}

export type ClosedState = 'resolved' | 'suppressed' | 'archived' | 'closed';

/** Why a finding counts as closed: its state, and the provider field that says so (shown on the card). */
export interface Closure {
  state: ClosedState;
  /** e.g. `Workflow.Status RESOLVED`: raw provider text, escape before display. */
  why: string;
}

/** One finding, whatever its source; everything the card, routing and the response actions need. */
export interface Finding {
  /** Stable internal key: safe in Redis keys, BullMQ job ids and Slack button values. */
  key: string;
  /** The provider's own id (GuardDuty finding id, or the ASFF Id). */
  id: string;
  source: FindingSource;
  /** Absent on findings stored before formats were recorded. */
  format?: FindingFormat;
  product: string;
  type: string;
  title: string;
  /** Raw, attacker-influenced text: escape before display. */
  description: string;
  severity: number;
  severityLabel: SeverityLabel;
  /** 0-100 when the source gives one (ASFF Confidence, OCSF confidence_score): autonomy rules may require it. */
  confidence?: number;
  accountId: string;
  region: string;
  partition: string;
  firstSeen: string;
  lastSeen: string;
  updatedAt: string;
  count: number;
  actionType?: ActionType;
  instance?: InstanceRef;
  principal?: PrincipalRef;
  remote?: RemoteRef;
  localPort?: number;
  apiCall?: { service?: string; name?: string; userAgent?: string; errorCode?: string };
  /** Every resource the finding names (the instance and principal above included). */
  resources?: ResourceRef[];
  process?: ProcessRef;
  sequence?: SequenceRef;
  /** What was odd about the input (shown on the card): the finding was kept anyway. */
  notes?: string[];
  workflowStatus?: string;
  /** How Security Hub names this finding (BatchUpdateFindings); GuardDuty's own events map onto it. */
  securityHub?: { id: string; productArn: string };
  /** How the new Security Hub names an OCSF finding (BatchUpdateFindingsV2). */
  securityHubV2?: OcsfFindingRef;
  recordState?: string;
  archived?: boolean;
  /** The provider closed it (resolved, suppressed, archived): the card says so and offers no containment. */
  closed?: Closure;
  /** An active version arrived after a closed one. */
  reopened?: { from: ClosedState; at: string };
  consoleUrl: string;
}

export interface OcsfFindingRef {
  cloudAccountUid: string;
  findingInfoUid: string;
  metadataProductUid: string;
}

/** GuardDuty's bands (Critical added in 2024); the same cut points serve ASFF's 0-10 mapping. */
export function severityLabelOf(severity: number): SeverityLabel {
  if (severity >= 9) return 'CRITICAL';
  if (severity >= 7) return 'HIGH';
  if (severity >= 4) return 'MEDIUM';
  if (severity >= 1) return 'LOW';
  return 'INFORMATIONAL';
}

export const SEVERITY_OF_LABEL: Record<SeverityLabel, number> = {
  INFORMATIONAL: 0,
  LOW: 1,
  MEDIUM: 4,
  HIGH: 7,
  CRITICAL: 9,
};

/**
 * A GuardDuty finding reaches us both directly and as its Security Hub copy; keying both on
 * account, region and GuardDuty id makes them one finding with one card.
 */
export function findingKey(canonicalId: string): string {
  return createHash('sha256').update(canonicalId).digest('hex').slice(0, 24);
}

export function guardDutyCanonicalId(accountId: string, region: string, findingId: string): string {
  return `guardduty/${accountId}/${region}/${findingId}`;
}

export const ACCOUNT_ID = /^\d{12}$/;
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
export const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'] as const;

export const INSTANCE_ID = /\bi-(?:[0-9a-f]{8}|[0-9a-f]{17})\b/;
export const ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/;

export function principalArn(partition: string, accountId: string, userType?: string, userName?: string): string | undefined {
  if (userType === 'Root') return `arn:${partition}:iam::${accountId}:root`;
  if (!userName) return undefined;
  if (userType === 'IAMUser') return `arn:${partition}:iam::${accountId}:user/${userName}`;
  if (userType === 'AssumedRole' || userType === 'Role') return `arn:${partition}:iam::${accountId}:role/${userName}`;
  return undefined;
}

export { ACCOUNT_PATTERN, PARTITION_PATTERN, REGION_PATTERN } from '../aws/identifiers';

/** Newer finding data wins; equal timestamps with a higher count (GuardDuty aggregation) win too. */
export function isNewer(candidate: Pick<Finding, 'updatedAt' | 'count'>, current: Pick<Finding, 'updatedAt' | 'count'>): boolean {
  const a = Date.parse(candidate.updatedAt);
  const b = Date.parse(current.updatedAt);
  return a > b || (a === b && candidate.count > current.count);
}

/** The resources in a finding that responses can act on, with the response family each takes. */
export interface ActionableTargets {
  instances: string[];
  /** Long-term access keys (AKIA…): temporary ones cannot be disabled, only their role's sessions revoked. */
  accessKeys: string[];
  /** IAM user and role ARNs. */
  principals: string[];
}

/**
 * Only where ir-bot can act: a well-formed account and region (responses run there), and ids in
 * the forms the actions take. An anonymised account id or a placeholder region offers nothing.
 */
export function actionableTargets(f: Pick<Finding, 'accountId' | 'region' | 'instance' | 'principal' | 'resources'>): ActionableTargets {
  const out: ActionableTargets = { instances: [], accessKeys: [], principals: [] };
  if (!ACCOUNT_ID.test(f.accountId) || !REGION.test(f.region)) return out;
  const add = (list: string[], v: string | undefined) => {
    if (v && !list.includes(v)) list.push(v);
  };
  const instanceId = (v: string) => /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.exec(v.split('/').pop() ?? '')?.[0];
  const akia = (v: string | undefined) => (v && /^AKIA[A-Z0-9]{16}$/.test(v) ? v : undefined);
  const iamArn = (v: string | undefined) => (v && v.length <= 120 && /^arn:aws[a-z-]*:iam::\d{12}:(user|role)\/[\w+=,.@/-]+$/.test(v) ? v : undefined);
  if (f.instance) add(out.instances, instanceId(f.instance.id));
  add(out.accessKeys, akia(f.principal?.accessKeyId));
  add(out.principals, iamArn(f.principal?.arn));
  for (const r of f.resources ?? []) {
    if (r.accountId && r.accountId !== f.accountId) continue;
    if (r.kind === 'ec2-instance') add(out.instances, instanceId(r.id));
    if (r.kind === 'iam-access-key') add(out.accessKeys, akia(r.id));
    if (r.kind === 'iam-user' || r.kind === 'iam-role') add(out.principals, iamArn(r.id));
  }
  return out;
}

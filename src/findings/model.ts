import { createHash } from 'node:crypto';

export type FindingSource = 'guardduty' | 'securityhub';
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

/** One finding, whatever its source; everything the card, routing and the response actions need. */
export interface Finding {
  /** Stable internal key: safe in Redis keys, BullMQ job ids and Slack button values. */
  key: string;
  /** The provider's own id (GuardDuty finding id, or the ASFF Id). */
  id: string;
  source: FindingSource;
  product: string;
  type: string;
  title: string;
  /** Raw, attacker-influenced text: escape before display. */
  description: string;
  severity: number;
  severityLabel: SeverityLabel;
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
  workflowStatus?: string;
  /** How Security Hub names this finding (BatchUpdateFindings); GuardDuty's own events map onto it. */
  securityHub?: { id: string; productArn: string };
  recordState?: string;
  archived?: boolean;
  consoleUrl: string;
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

export function guardDutyConsoleUrl(region: string, findingId: string): string {
  return `https://${region}.console.aws.amazon.com/guardduty/home?region=${region}#/findings?macros=current&fId=${encodeURIComponent(findingId)}`;
}

export function securityHubConsoleUrl(region: string, asffId: string): string {
  const search = encodeURIComponent(`Id=\\operator\\:EQUALS\\:${asffId}`);
  return `https://${region}.console.aws.amazon.com/securityhub/home?region=${region}#/findings?search=${search}`;
}

/** Newer finding data wins; equal timestamps with a higher count (GuardDuty aggregation) win too. */
export function isNewer(candidate: Pick<Finding, 'updatedAt' | 'count'>, current: Pick<Finding, 'updatedAt' | 'count'>): boolean {
  const a = Date.parse(candidate.updatedAt);
  const b = Date.parse(current.updatedAt);
  return a > b || (a === b && candidate.count > current.count);
}

import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { fileSchema, type FileConfig } from '../../src/config/schema';
import { checkPolicyNames, type PolicyNames } from './policy';

export const REPO_ROOT = join(__dirname, '../..');

/** What one deployment needs, from CDK context (`-c key=value` or deploy/cdk.json). */
export interface DeploySettings {
  /** The stack region: load balancer access logs need it at synth time. */
  region: string;
  /** The bot's config file, validated here as the bot would at start-up. */
  configFile: string;
  configText: string;
  /** Host name Slack and EventBridge call; the certificate must cover it. */
  domainName: string;
  certificateArn: string;
  /** Optional Route 53 zone to create the alias record in. */
  hostedZone?: { id: string; name: string };
  /** Existing Redis: a Secrets Manager secret holding the whole rediss://user:password@host:port URL. No ElastiCache then. */
  redisUrlSecretArn?: string;
  redisNodeType: string;
  botCount: number;
  workerCount: number;
  natGateways: number;
  /** EventBridge's calls per second to /aws/events at most. */
  eventRateLimitPerSecond: number;
  /** Optional SNS topic for the dead-letter and service alarms. */
  alarmTopicArn?: string;
  policyNames: PolicyNames;
  /** Memory evidence: the image key prefix, and what deploy/ manages around the evidence bucket. */
  evidence: {
    prefix: string;
    /** Attach the bucket policy member accounts' responder roles need (replaces the bucket's policy). */
    manageBucketPolicy: boolean;
    /** The organization whose ir-responder roles may write images; unset = the bot's account only. */
    organizationId?: string;
    /** Regions whose member accounts get the capture document (SSM documents are regional). */
    documentRegions: string[];
  };
  responders?: {
    organizationalUnitIds: string[];
    /** SELF from the management account, DELEGATED_ADMIN from a StackSets delegated administrator. */
    callAs: 'SELF' | 'DELEGATED_ADMIN';
    /** Account the bot runs in (its role is trusted); default: the account deploying. */
    botAccount?: string;
  };
}

export type Context = (key: string) => unknown;

function s3Bucket(url: string | undefined): string | undefined {
  return url ? /^s3:\/\/([^/]+)/.exec(url)?.[1] : undefined;
}

/** Every problem at once, like the bot's own config check. */
export function readSettings(ctx: Context): DeploySettings {
  const problems: string[] = [];
  const str = (key: string): string | undefined => {
    const v = ctx(key);
    if (v === undefined || v === null || v === '') return undefined;
    return String(v);
  };
  const need = (key: string, why: string): string => {
    const v = str(key);
    if (v === undefined) problems.push(`-c ${key}=… is required (${why})`);
    return v ?? '';
  };
  const int = (key: string, def: number, min: number, max: number): number => {
    const v = str(key);
    const n = v === undefined ? def : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`${key}: must be a whole number from ${min} to ${max}`);
    return n;
  };

  const configFile = need('configFile', 'the bot config YAML, e.g. config/ir-bot.yaml');
  let configText = '';
  let config: FileConfig | undefined;
  if (configFile) {
    try {
      configText = readFileSync(isAbsolute(configFile) ? configFile : join(REPO_ROOT, configFile), 'utf8');
      const r = fileSchema.safeParse(parse(configText));
      if (r.success) config = r.data;
      else problems.push(...r.error.issues.map((i) => `config file ${configFile} ${i.path.join('.')}: ${i.message}`));
    } catch (err) {
      problems.push(`config file ${configFile}: ${(err as Error).message}`);
    }
  }

  const region = str('region') ?? str('defaultRegion') ?? '';
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) problems.push(`-c region=… is required (the stack region, e.g. eu-west-1)${region ? `: "${region}" is not one` : ''}`);
  const domainName = need('domainName', 'the host name Slack and EventBridge call, covered by the certificate');
  if (domainName && !/^([a-z0-9-]+\.)+[a-z]{2,}$/i.test(domainName)) problems.push(`domainName: "${domainName}" is not a host name`);
  const certificateArn = need('certificateArn', 'an ACM certificate for domainName, in the stack region');
  if (certificateArn && !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[\w-]+$/.test(certificateArn)) problems.push(`certificateArn: "${certificateArn}" is not an ACM certificate ARN`);
  const zoneId = str('hostedZoneId');
  const zoneName = str('hostedZoneName');
  if (!!zoneId !== !!zoneName) problems.push('hostedZoneId and hostedZoneName go together');
  const redisUrlSecretArn = str('redisUrlSecretArn');
  if (redisUrlSecretArn && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/.test(redisUrlSecretArn)) problems.push(`redisUrlSecretArn: "${redisUrlSecretArn}" is not a Secrets Manager secret ARN`);
  const alarmTopicArn = str('alarmTopicArn');
  if (alarmTopicArn && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/.test(alarmTopicArn)) problems.push(`alarmTopicArn: "${alarmTopicArn}" is not an SNS topic ARN`);

  // The policy's example names: the config file knows most of them; context overrides.
  const results = config?.athena?.outputLocation && /^s3:\/\/([^/]+)\/?(.*)$/.exec(config.athena.outputLocation);
  const tools = [s3Bucket(config?.memory.tools.linux), s3Bucket(config?.memory.tools.windows)].filter((b): b is string => !!b);
  if (new Set(tools).size > 1 && !str('toolsBucket')) problems.push('memory.tools names two buckets; the policy has room for one: set -c toolsBucket=… (and keep both tools in it)');
  const prefix = str('athenaResultsPrefix') ?? (results ? results[2] : 'ir-bot/');
  const policyNames: PolicyNames = {
    athenaWorkgroup: str('athenaWorkgroup') ?? config?.athena?.workgroup ?? 'primary',
    athenaDatabase: str('athenaDatabase') ?? config?.athena?.database ?? 'security_logs',
    athenaResultsBucket: str('athenaResultsBucket') ?? (results ? results[1] : need('athenaResultsBucket', 'the bucket of athena.outputLocation')),
    athenaResultsPrefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
    cloudTrailBucket: need('cloudTrailBucket', 'the bucket of the CloudTrail logs the hunts read'),
    vpcFlowLogsBucket: need('vpcFlowLogsBucket', 'the bucket of the VPC Flow Logs the hunts read'),
    evidenceBucket: str('evidenceBucket') ?? config?.memory.evidenceBucket,
    toolsBucket: str('toolsBucket') ?? tools[0],
  };
  problems.push(...checkPolicyNames(policyNames).filter((p) => !p.includes('""')));

  const ous = (str('responderOrgUnitIds') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const ou of ous) if (!/^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$/.test(ou)) problems.push(`responderOrgUnitIds: "${ou}" is not an organizational unit or root id`);
  const callAs = str('responderCallAs') ?? 'DELEGATED_ADMIN';
  if (callAs !== 'SELF' && callAs !== 'DELEGATED_ADMIN') problems.push('responderCallAs: SELF or DELEGATED_ADMIN');
  const botAccount = str('botAccount');
  if (botAccount && !/^\d{12}$/.test(botAccount)) problems.push('botAccount: a 12-digit account id');

  const organizationId = str('organizationId');
  if (organizationId && !/^o-[a-z0-9]{10,32}$/.test(organizationId)) problems.push(`organizationId: "${organizationId}" is not an AWS Organizations id (o-…)`);
  const documentRegions = (str('memoryDocumentRegions') ?? region).split(',').map((r) => r.trim()).filter(Boolean);
  for (const r of documentRegions) if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(r)) problems.push(`memoryDocumentRegions: "${r}" is not a region`);
  const manageBucketPolicy = str('manageEvidenceBucketPolicy') === 'true';
  if (manageBucketPolicy && !policyNames.evidenceBucket) problems.push('manageEvidenceBucketPolicy needs an evidence bucket (memory.evidenceBucket or -c evidenceBucket=…)');

  const settings: DeploySettings = {
    region,
    configFile,
    configText,
    domainName,
    certificateArn,
    hostedZone: zoneId && zoneName ? { id: zoneId, name: zoneName } : undefined,
    redisUrlSecretArn,
    redisNodeType: str('redisNodeType') ?? 'cache.t4g.small',
    botCount: int('botCount', 2, 0, 20),
    workerCount: int('workerCount', 2, 0, 50),
    natGateways: int('natGateways', 2, 1, 3),
    eventRateLimitPerSecond: int('eventRateLimitPerSecond', 20, 1, 300),
    alarmTopicArn,
    policyNames,
    evidence: { prefix: config?.memory.prefix ?? 'memory/', manageBucketPolicy, organizationId, documentRegions },
    responders: ous.length ? { organizationalUnitIds: ous, callAs: callAs as 'SELF' | 'DELEGATED_ADMIN', botAccount } : undefined,
  };
  if (problems.length) throw new Error(`ir-bot deployment settings:\n  - ${problems.join('\n  - ')}`);
  return settings;
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

export const IAM_DIR = join(__dirname, '../../iam');

export function loadPolicy(file: string): PolicyDocument {
  return JSON.parse(readFileSync(join(IAM_DIR, file), 'utf8')) as PolicyDocument;
}

/** The names iam/ir-bot-policy.json leaves as examples; the deployment fills them in. */
export interface PolicyNames {
  athenaWorkgroup: string;
  athenaDatabase: string;
  athenaResultsBucket: string;
  /** Key prefix of athena.outputLocation inside the bucket, ending in / (or empty). */
  athenaResultsPrefix: string;
  cloudTrailBucket: string;
  vpcFlowLogsBucket: string;
  /** Unset: memory capture is off, and the statement keeps no evidence bucket. */
  evidenceBucket?: string;
  toolsBucket?: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function checkPolicyNames(n: PolicyNames): string[] {
  const problems: string[] = [];
  for (const key of ['athenaResultsBucket', 'cloudTrailBucket', 'vpcFlowLogsBucket', 'evidenceBucket', 'toolsBucket'] as const) {
    const v = n[key];
    if (v !== undefined && !BUCKET.test(v)) problems.push(`${key}: "${v}" is not an S3 bucket name`);
  }
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(n.athenaWorkgroup)) problems.push(`athenaWorkgroup: "${n.athenaWorkgroup}" is not an Athena workgroup name`);
  if (!/^[a-z0-9_]{1,255}$/.test(n.athenaDatabase)) problems.push(`athenaDatabase: "${n.athenaDatabase}" is not a Glue database name`);
  if (!/^([\w!.*'()=-]+\/)*$/.test(n.athenaResultsPrefix)) problems.push(`athenaResultsPrefix: "${n.athenaResultsPrefix}" must be empty or end with /`);
  return problems;
}

/**
 * iam/ir-bot-policy.json with its example names replaced by this deployment's. The file stays the
 * one reviewed source (test/iam-policy.test.ts checks it against the code); this only renames.
 * An unset evidence or tools bucket drops that resource (and a statement left with none).
 */
export function botPolicy(n: PolicyNames): PolicyDocument {
  const problems = checkPolicyNames(n);
  if (problems.length) throw new Error(`ir-bot policy names:\n  - ${problems.join('\n  - ')}`);
  const s3 = (bucket: string) => `arn:aws:s3:::${bucket}`;
  const renames: Array<[string, string | undefined]> = [
    [`${s3('example-athena-results')}/ir-bot/*`, `${s3(n.athenaResultsBucket)}/${n.athenaResultsPrefix}*`],
    [s3('example-athena-results'), s3(n.athenaResultsBucket)],
    [s3('example-cloudtrail-logs'), s3(n.cloudTrailBucket)],
    [s3('example-vpc-flow-logs'), s3(n.vpcFlowLogsBucket)],
    [`${s3('example-ir-evidence')}/*`, n.evidenceBucket && `${s3(n.evidenceBucket)}/*`],
    [s3('example-ir-evidence'), n.evidenceBucket && s3(n.evidenceBucket)],
    [`${s3('example-ir-tools')}/*`, n.toolsBucket && `${s3(n.toolsBucket)}/*`],
    ['arn:aws:athena:*:*:workgroup/primary', `arn:aws:athena:*:*:workgroup/${n.athenaWorkgroup}`],
    ['arn:aws:glue:*:*:database/security_logs', `arn:aws:glue:*:*:database/${n.athenaDatabase}`],
    ['arn:aws:glue:*:*:table/security_logs/*', `arn:aws:glue:*:*:table/${n.athenaDatabase}/*`],
  ];
  const rename = (r: string): string | undefined => {
    for (const [from, to] of renames) {
      if (r === from) return to;
      // The bucket's objects (…/*) follow the bucket.
      if (r === `${from}/*` && to !== undefined) return `${to}/*`;
    }
    return r;
  };
  const policy = loadPolicy('ir-bot-policy.json');
  const statements = policy.Statement.flatMap((s) => {
    const list = Array.isArray(s.Resource);
    const resources = [s.Resource].flat().map(rename).filter((r): r is string => r !== undefined);
    if (resources.length === 0) return [];
    return [{ ...s, Resource: list ? resources : resources[0] }];
  });
  return { ...policy, Statement: statements };
}

/** Name of the statement that lets the bot assume the responder roles; the responders themselves need not. */
export const ASSUME_RESPONDER_SID = 'AssumeResponderRole';

/** The role names the policy's Deny statement and the trust policy are written for. */
export const BOT_ROLE_NAME = 'ir-bot';
/** The managed deny-all the bot attaches (the only policy its iam:Attach*Policy may attach); in every account it acts in. */
export const DENY_ALL_POLICY_NAME = 'ir-bot-deny-all';
export const denyAllPolicy = (): PolicyDocument => loadPolicy('ir-bot-deny-all-policy.json');
export const RESPONDER_ROLE_NAME = 'ir-responder';

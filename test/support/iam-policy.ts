import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IAM_ACTION_OF_CALL } from '../../src/aws/responder';

export interface Statement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}
export interface Policy {
  Statement: Statement[];
}

export const shippedPolicy = (): Policy => JSON.parse(readFileSync(join(__dirname, '../../iam/ir-bot-policy.json'), 'utf8')) as Policy;
export const shippedReasons = (): Record<string, string> => JSON.parse(readFileSync(join(__dirname, '../../iam/ir-bot-policy.reasons.json'), 'utf8')) as Record<string, string>;

export const actions = (s: Statement): string[] => [s.Action].flat();
export const resources = (s: Statement): string[] => [s.Resource].flat();
export const isRead = (a: string): boolean => /:(Describe|Get|List|Lookup)/.test(a);

/** Writes a policy allows on Resource "*". */
export function writesOnStar(policy: Policy): string[] {
  return policy.Statement.filter((s) => s.Effect === 'Allow' && resources(s).includes('*'))
    .flatMap(actions)
    .filter((a) => !isRead(a));
}

/** Writes on "*" with no reason recorded in iam/ir-bot-policy.reasons.json: must be none. */
export function unjustifiedWritesOnStar(policy: Policy, reasons: Record<string, string> = shippedReasons()): string[] {
  return writesOnStar(policy).filter((a) => !reasons[a]?.trim());
}

/** An ARN's resource part (after the fifth colon) has a wildcard: any resource of that type. */
const wildcardResource = (r: string): boolean => r === '*' || r.split(':').slice(5).join(':').includes('*');

/**
 * Allow statements granting an IAM or EC2 write on a wildcard resource with no condition, and no
 * reason recorded under `sid:<Sid>` in iam/ir-bot-policy.reasons.json: must be none.
 */
export function unjustifiedWildcardStatements(policy: Policy, reasons: Record<string, string> = shippedReasons()): string[] {
  return policy.Statement.filter(
    (s) =>
      s.Effect === 'Allow' &&
      !s.Condition &&
      !resources(s).every((r) => r === '*') &&
      resources(s).some(wildcardResource) &&
      actions(s).some((a) => /^(iam|ec2):/.test(a) && !isRead(a) && a !== 'iam:PassRole') &&
      !reasons[`sid:${s.Sid}`]?.trim(),
  ).map((s) => s.Sid);
}

const PREFIX: Record<string, string> = {
  'client-ec2': 'ec2',
  'client-auto-scaling': 'autoscaling',
  'client-elastic-load-balancing-v2': 'elasticloadbalancing',
  'client-securityhub': 'securityhub',
  'client-sts': 'sts',
  'client-kms': 'kms',
  'client-iam': 'iam',
  'client-cloudtrail': 'cloudtrail',
  'client-athena': 'athena',
  'client-ssm': 'ssm',
  'client-s3': 's3',
  'client-guardduty': 'guardduty',
  'client-eventbridge': 'events',
  'client-organizations': 'organizations',
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every `XxxCommand` (or `paginateXxx`) a source file imports from an AWS SDK client, as an IAM action. */
export function actionsCalledByCode(): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of sources(join(__dirname, '../../src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/([a-z0-9-]+)'/g)) {
      const prefix = PREFIX[m[2]];
      if (!prefix && /Command\b/.test(m[1])) throw new Error(`${file}: add @aws-sdk/${m[2]} to the IAM prefix map`);
      for (const name of m[1].split(',').map((s) => s.replace(/^\s*type\s+/, '').trim())) {
        const action = /^([A-Z]\w*)Command$/.exec(name)?.[1] ?? /^paginate([A-Z]\w*)$/.exec(name)?.[1];
        if (action) out.set(IAM_ACTION_OF_CALL[`${prefix}:${action}`] ?? `${prefix}:${action}`, file.replace(/.*\/src\//, 'src/'));
      }
    }
  }
  return out;
}


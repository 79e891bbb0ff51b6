import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IAM_ACTION_OF_CALL } from '../src/aws/responder';
import { actions, isRead, resources, shippedPolicy, shippedReasons, unjustifiedWritesOnStar, writesOnStar } from './support/iam-policy';

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

/** Calls whose IAM permission has another name (S3 authorises HeadObject as s3:GetObject). */

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every `XxxCommand` (or `paginateXxx`) a source file imports from an AWS SDK client, as an IAM action. */
function actionsCalledByCode(): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of sources(join(__dirname, '../src'))) {
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

/** Permissions AWS checks on behalf of a call, without a command of their own. */
const IMPLIED: Record<string, string> = { 'iam:PassRole': 'ec2:AssociateIamInstanceProfile passes the isolation role' };

const policy = shippedPolicy();
const reasons = shippedReasons();
const allows = policy.Statement.filter((s) => s.Effect === 'Allow');
/** Athena and Glue/S3 reads the hunts need; the service calls Glue and S3 on the bot's behalf. */
const ON_BEHALF = /^(glue|s3):/;

describe('the least-privilege policy shipped in iam/ir-bot-policy.json', () => {
  const called = actionsCalledByCode();

  it('allows every AWS action the code calls', () => {
    const allowed = new Set(allows.flatMap((s) => actions(s)));
    const missing = [...called.keys()].filter((a) => !allowed.has(a)).map((a) => `${a} (called in ${called.get(a)})`);
    expect(missing).toEqual([]);
  });

  it('allows nothing the code does not call', () => {
    const extra = allows.flatMap((s) => actions(s)).filter((a) => !ON_BEHALF.test(a) && !called.has(a) && !(a in IMPLIED) && a !== 'sts:AssumeRole' && a !== 'sts:SetSourceIdentity');
    expect(extra).toEqual([]);
  });

  it('keeps the ReadOnly statement read-only', () => {
    expect(actions(policy.Statement.find((s) => s.Sid === 'ReadOnly')!).filter((a) => !isRead(a))).toEqual([]);
  });

  it('grants no write on "*" without a reason recorded beside it in iam/ir-bot-policy.reasons.json', () => {
    const onStar = writesOnStar(policy);
    expect(unjustifiedWritesOnStar(policy, reasons)).toEqual([]);
    // And no stale reason for a write that was narrowed since.
    expect(Object.keys(reasons).filter((a) => a !== '_' && !onStar.includes(a))).toEqual([]);
  });

  it('passes only the isolation role, only to EC2, and attaches only the isolation profile', () => {
    const pass = allows.filter((s) => actions(s).includes('iam:PassRole'));
    expect(pass.flatMap(resources)).toEqual(['arn:aws:iam::*:role/ir-isolation']);
    for (const s of pass) expect(s.Condition?.StringEquals?.['iam:PassedToService']).toBe('ec2.amazonaws.com');
    const assoc = allows.filter((s) => actions(s).includes('ec2:AssociateIamInstanceProfile'));
    for (const s of assoc) expect(s.Condition?.ArnLike?.['ec2:InstanceProfile']).toBe('arn:aws:iam::*:instance-profile/ir-isolation');
  });

  it('touches S3 only in the configured Athena results, log, evidence and tools buckets', () => {
    const s3 = allows.filter((s) => actions(s).some((a) => a.startsWith('s3:'))).flatMap(resources);
    expect(s3.filter((r) => !/^arn:aws:s3:::example-(athena-results|cloudtrail-logs|vpc-flow-logs|ir-evidence|ir-tools)(\/.*)?$/.test(r))).toEqual([]);
    const writes = allows.filter((s) => actions(s).includes('s3:PutObject')).flatMap(resources);
    expect(writes.every((r) => /^arn:aws:s3:::example-(athena-results|ir-evidence)/.test(r) || r === 'arn:aws:s3:::example-ir-tools/*')).toBe(true);
  });

  it('writes IAM policies and keys only on users and roles, and can never change its own or break-glass identities', () => {
    const iamWrites = allows.filter((s) => actions(s).some((a) => a.startsWith('iam:') && !isRead(a) && a !== 'iam:PassRole'));
    for (const s of iamWrites) expect(resources(s).every((r) => /^arn:aws:iam::\*:(role|user)\/\*$/.test(r))).toBe(true);
    const deny = policy.Statement.find((s) => s.Effect === 'Deny')!;
    expect(resources(deny)).toEqual(expect.arrayContaining(['arn:aws:iam::*:role/ir-bot', 'arn:aws:iam::*:role/ir-responder']));
    for (const a of ['iam:PutRolePolicy', 'iam:DeleteRolePolicy', 'iam:UpdateAssumeRolePolicy', 'iam:AttachRolePolicy']) expect(actions(deny)).toContain(a);
  });

  it('conditions EC2 writes on ir-bot tags where AWS supports it', () => {
    // Statements that only name the VPC or the source volumes and instances of a create need no condition.
    const ec2On = (action: string) => allows.filter((s) => actions(s).includes(action) && !resources(s).every((r) => /:(vpc|volume|instance)\/\*$/.test(r)));
    for (const a of ['ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress', 'ec2:CreateSecurityGroup', 'ec2:ModifySnapshotAttribute', 'ec2:CreateSnapshots', 'ec2:CopySnapshot', 'ec2:CreateTags']) {
      const ss = ec2On(a);
      expect(ss.length).toBeGreaterThan(0);
      for (const s of ss) expect(s.Condition).toBeDefined();
    }
  });
});

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
};

/** Calls whose IAM permission has another name (S3 authorises HeadObject as s3:GetObject). */
const IAM_NAME: Record<string, string> = { 's3:HeadObject': 's3:GetObject' };

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
        if (action) out.set(IAM_NAME[`${prefix}:${action}`] ?? `${prefix}:${action}`, file.replace(/.*\/src\//, 'src/'));
      }
    }
  }
  return out;
}

/** Permissions AWS checks on behalf of a call, without a command of their own. */
const IMPLIED: Record<string, string> = { 'iam:PassRole': 'ec2:AssociateIamInstanceProfile passes the instance role back on restore' };

const policy = JSON.parse(readFileSync(join(__dirname, '../iam/ir-bot-policy.json'), 'utf8')) as {
  Statement: { Sid: string; Action: string[] }[];
};
const statement = (sid: string) => policy.Statement.find((s) => s.Sid === sid)!.Action;

describe('the least-privilege policy shipped in iam/ir-bot-policy.json', () => {
  const called = actionsCalledByCode();

  it('allows every AWS action the code calls', () => {
    const allowed = new Set(policy.Statement.flatMap((s) => s.Action));
    const missing = [...called.keys()].filter((a) => !allowed.has(a)).map((a) => `${a} (called in ${called.get(a)})`);
    expect(missing).toEqual([]);
  });

  it('allows nothing the code does not call', () => {
    const extra = [...statement('ReadOnly'), ...statement('Containment'), ...statement('MemoryCaptureCommands'), ...statement('MemoryEvidence'), ...statement('Hunts').filter((a) => a.startsWith('athena:'))].filter((a) => !called.has(a) && !(a in IMPLIED));
    expect(extra).toEqual([]);
  });

  it('keeps read-only and containment apart', () => {
    expect(statement('ReadOnly').filter((a) => !/:(Describe|Get|List|Lookup)/.test(a))).toEqual([]);
    expect(statement('Containment').filter((a) => /:(Describe|Get|List|Lookup)/.test(a))).toEqual([]);
  });
});

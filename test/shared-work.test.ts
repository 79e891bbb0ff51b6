import { FakeAws, awsError } from './support/fake-aws';
import { startHarness, tearDownAfterEach, type Harness } from './support/harness';
import { allEnded } from './support/requests';
import { slash } from './support/slack-user';

const ids = (base: number, n: number) => Array.from({ length: n }, (_, i) => `i-0${(base + i).toString(16).padStart(16, '0')}`);
const ACCESS = { responders: ['U01ANA'], approvers: [], requireApproval: [] };

/** DescribeSecurityGroups by group id: the read-back of a reconcile (plans and verify look up by name). */
const reconcileReads = (aws: FakeAws) => aws.calls.filter((c) => c.api === 'DescribeSecurityGroups' && c.input.GroupIds).length;

describe('concurrent isolations in one VPC share the work they have in common', () => {
  let h: Harness | undefined;
  let aws: FakeAws | undefined;
  tearDownAfterEach(() => ({ h, aws }));

  it('ten separate /ir isolate at once: the VPC quarantine groups are made and verified once, the shared role looked up once, all ten verified', async () => {
    aws = new FakeAws();
    const ten = ids(0xa100, 10);
    for (const id of ten) aws.addWebServer(id, { eip: false, targetGroup: false });
    h = await startHarness({ file: { access: ACCESS, aws: { maxAttempts: 1 } } });
    await Promise.all(ten.map((id) => slash(h!, `isolate ${id} shared`)));
    const ended = await allEnded(h, 10, 60_000);
    expect(ended.map((r) => r.state)).toEqual(Array(10).fill('done'));
    expect(ended.every((r) => r.result?.ok)).toBe(true);
    expect(aws.callsOf('CreateSecurityGroup')).toHaveLength(2);
    // Before: every isolation reconciled both groups again, one after another (40 read-backs).
    expect(reconcileReads(aws)).toBeLessThanOrEqual(4);
    // Lookups by name: the plans share theirs (before: 20), the groups are found once, each verify reads its own.
    expect(aws.calls.filter((c) => c.api === 'DescribeSecurityGroups' && !c.input.GroupIds).length).toBeLessThanOrEqual(14);
    const roleLookups = aws.calls.filter((c) => c.api === 'DescribeInstances' && c.input.Filters?.some((f: { Name: string }) => f.Name === 'iam-instance-profile.arn'));
    expect(roleLookups).toHaveLength(1);
    // The answer was right for each: the ten share the role.
    expect(ended[0].plan?.warnings.join(' ')).toContain('shared by 9 other instance(s)');
  });

  it('a quarantine group changed after it was verified is seen at verify, fixed, and the isolation still ends verified', async () => {
    aws = new FakeAws();
    const [first, second] = ids(0xa200, 2);
    for (const id of [first, second]) aws.addWebServer(id, { eip: false, targetGroup: false });
    h = await startHarness({ file: { access: ACCESS, aws: { maxAttempts: 1 } } });
    await slash(h, `isolate ${first} shared`);
    await allEnded(h, 1);
    const q = [...aws.groups.values()].find((g) => g.name === 'ir-quarantine')!;
    // Within groupsVerifiedSeconds, someone opens the quarantine group.
    q.ingress.push({ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] });
    await slash(h, `isolate ${second} shared`);
    const [last] = await allEnded(h, 2);
    expect(last.state).toBe('done');
    expect(last.result?.ok).toBe(true);
    expect(last.result?.lines.join('\n')).toContain(`${q.id} (ir-quarantine) only, open connections cut ✓`);
    expect(q.ingress).toEqual([]);
  });

  it('a denied "is this role shared" lookup never blocks the plan: named once for the instances it concerns, and the isolation runs', async () => {
    aws = new FakeAws();
    const three = ids(0xa300, 3);
    for (const id of three) aws.addWebServer(id, { eip: false, targetGroup: false });
    aws.onCall('DescribeInstances', (input) => {
      if (input.Filters?.some((f: { Name: string }) => f.Name === 'iam-instance-profile.arn')) throw awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403);
    });
    h = await startHarness({ file: { access: ACCESS, aws: { maxAttempts: 1 } } });
    await slash(h, `isolate ${three.join(' ')} shared`);
    const [r] = await allEnded(h, 1, 30_000);
    expect(r.state).toBe('done');
    expect(r.result?.ok).toBe(true);
    const unchecked = r.plan!.warnings.filter((w) => w.includes('could not check'));
    expect(unchecked).toEqual([
      // The bulk plan says a warning shared by its instances once, naming how many (all three here; the file lists each).
      `3 instances: could not check whether its instance role (arn:aws:iam::111122223333:instance-profile/web) is shared with other instances: access denied: the bot's role may not call ec2:DescribeInstances`,
    ]);
  });
});

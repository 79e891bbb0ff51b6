import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeAws } from './support/fake-aws';
import { startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { runInstancesEvent } from './support/scenes';
import { click, slash, textOf } from './support/slack-user';

const INSTANCE = 'i-0d0d0d0d0d0d0d0d1';
const KEY = 'AKIAEXAMPLEKEY123456';
const ssm = mockClient(SSMClient);
afterAll(() => ssm.restore());

describe('evidence a stop or terminate can rely on', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('an instance with no card: `/ir snapshot`, then `/ir terminate` finds that snapshot and terminates after a second approval', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.trail.push(runInstancesEvent([INSTANCE], '2026-11-30T02:10:00Z', { accessKeyId: KEY, arn: 'arn:aws:iam::123456789012:user/ci-deploy' }, { instanceType: 'c5.4xlarge' }));
    h = await startHarness({
      file: {
        access: { responders: ['U01ANA', 'U02LEAD'], approvers: ['U02LEAD', 'U03LEAD'], requireApproval: [] },
        aws: { maxAttempts: 1 },
        snapshot: { pollIntervalMs: 20, maxPollIntervalMs: 20 },
      },
    });
    const inChannel = (what: (t: string) => boolean) => h.slack.channelMessages('C02CRIT').find((m) => what(textOf(m)));

    await slash(h, `snapshot ${INSTANCE}`, 'U01ANA', 'C02CRIT');
    await waitFor(() => inChannel((t) => t.includes('*Snapshot*') && t.includes('Verified end state')), 'the snapshot', 20_000);

    await slash(h, `terminate ${KEY} ${INSTANCE}`, 'U01ANA', 'C02CRIT');
    const approval = await waitFor(() => inChannel((t) => t.includes('Terminate instances launched by') && (t.includes('ir_approve') || t.includes('not run'))), 'the terminate plan');
    expect(textOf(approval)).not.toContain('has no completed');
    expect(textOf(approval)).toMatch(new RegExp(`evidence kept for ${INSTANCE}: /dev/xvda vol-\\w+ → snap-\\w+ \\(completed, [^,]+, request snapshot-`));
    await click(h, approval, 'ir_approve', 'U02LEAD');
    await waitFor(() => (textOf(approval).includes('Verified end state') ? approval : undefined), 'the termination', 20_000);
    expect(aws.instances.get(INSTANCE)!.state).toBe('terminated');
  }, 40_000);

  it('a memory capture denied before SendCommand leaves a record: `/ir stop` is refused and the instance keeps running', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    ssm.reset();
    ssm.on(DescribeInstanceInformationCommand).rejects(Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/ir-responder/U01ANA is not authorized to perform: ssm:DescribeInstanceInformation'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    h = await startHarness({
      file: {
        access: { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: [] },
        aws: { maxAttempts: 1, jobAttempts: 1 },
        memory: { evidenceBucket: 'ir-evidence', tools: { linux: 's3://ir-tools/avml' } },
      },
    });
    const inChannel = (what: (t: string) => boolean) => h.slack.channelMessages('C02CRIT').find((m) => what(textOf(m)));
    await slash(h, `memory ${INSTANCE}`, 'U01ANA', 'C02CRIT');
    await waitFor(() => inChannel((t) => t.includes('Capture memory') && t.includes('failed')), 'the failed capture');

    await slash(h, `stop ${INSTANCE}`, 'U01ANA', 'C02CRIT');
    const refused = await waitFor(() => inChannel((t) => t.includes('*Stop*') && t.includes('not run')), 'the refused stop');
    expect(textOf(refused)).toContain('No verified memory image');
    expect(textOf(refused)).toContain('ssm:DescribeInstanceInformation');
    expect(aws.calls.filter((c) => c.api === 'StopInstances')).toEqual([]);
    expect(aws.instances.get(INSTANCE)!.state).toBe('running');
  }, 40_000);
});

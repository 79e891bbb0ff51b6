import type { ActionRequest } from '../../src/requests/model';
import { FakeAws } from '../support/fake-aws';
import { startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';
import { allEnded } from '../support/requests';
import { click, ephemeralsFor, slash, textOf } from '../support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ENI1 = 'eni-e5f60718000000001';
const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: [] as string[] };
const FAST_AWS = { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 };

async function lastEnded(h: Harness, n: number): Promise<ActionRequest> {
  return (await allEnded(h, n))[0];
}

describe('an isolation record belongs to the isolation that made it', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('a second isolation after an out-of-band undo records what the instance has now, and release restores that', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { eip: false, targetGroup: false, secondEni: false });
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS } });
    await slash(h, `isolate ${INSTANCE}`);
    expect((await lastEnded(h, 1)).state).toBe('done');
    // An operator undoes it by hand, into a new group, never telling ir-bot; the record stays.
    aws.groups.set('sg-00000000000000new', { id: 'sg-00000000000000new', name: 'web-v2', vpcId: 'vpc-0a1b2c3d', ingress: [], egress: [] });
    aws.enis.get(ENI1)!.groups = ['sg-00000000000000new'];
    await slash(h, `isolate ${INSTANCE}`);
    const second = await lastEnded(h, 2);
    expect(second.state).toBe('done');
    await slash(h, `release ${INSTANCE}`);
    const release = await lastEnded(h, 3);
    expect(release.state).toBe('done');
    // The groups it had right before the second isolation, not those from before the first.
    expect(aws.enis.get(ENI1)!.groups).toEqual(['sg-00000000000000new']);
  });

  it('a Release button on an older isolation is refused, saying why, once a newer isolation is in force', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { eip: false, targetGroup: false, secondEni: false });
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS } });
    await slash(h, `isolate ${INSTANCE}`);
    const first = await lastEnded(h, 1);
    const oldResult = await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('Verified end state') && textOf(m).includes(first.id)), 'the first result');
    aws.groups.set('sg-00000000000000new', { id: 'sg-00000000000000new', name: 'web-v2', vpcId: 'vpc-0a1b2c3d', ingress: [], egress: [] });
    aws.enis.get(ENI1)!.groups = ['sg-00000000000000new'];
    await slash(h, `isolate ${INSTANCE}`);
    const second = await lastEnded(h, 2);
    expect(second.state).toBe('done');
    const modifies = aws.callsOf('ModifyNetworkInterfaceAttribute').length;
    await click(h, oldResult, 'ir_release', 'U01ANA');
    const said = await waitFor(() => ephemeralsFor(h, 'U01ANA').find((t) => t.includes('isolated again')), 'the refusal');
    expect(said).toContain(second.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute').length).toBe(modifies);
    expect(aws.enis.get(ENI1)!.groups).not.toEqual(['sg-00000000000000new']);
  });
});

describe('mutating work on one target runs one request at a time', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('a stop asked while an isolation of the same instance runs waits for it, and their AWS calls do not interleave', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { eip: false, targetGroup: false, secondEni: false });
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS } });
    aws.hangNext('ModifyNetworkInterfaceAttribute');
    await slash(h, `isolate ${INSTANCE}`);
    await waitFor(() => aws.callsOf('ModifyNetworkInterfaceAttribute').length === 1, 'isolation mid-way');
    await slash(h, `stop ${INSTANCE}`);
    await new Promise((r) => setTimeout(r, 1500));
    expect(aws.callsOf('StopInstances')).toHaveLength(0);
    const waitingText = h.slack.channelMessages('C01ALERTS').map(textOf).join('\n');
    expect(waitingText).toMatch(/waiting: request isolate-\S+ is changing the same target/);
    aws.releaseHangs();
    await allEnded(h, 2);
    const lastIsolationCall = Math.max(...aws.calls.filter((c) => /^(ModifyNetworkInterfaceAttribute|DescribeSecurityGroups)$/.test(c.api)).map((c) => c.at));
    const firstStopCall = Math.min(...aws.calls.filter((c) => c.api === 'StopInstances').map((c) => c.at));
    expect(firstStopCall).toBeGreaterThan(lastIsolationCall);
  });
});

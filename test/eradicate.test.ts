import { RequestStore } from '../src/requests/store';
import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { runInstancesEvent } from './support/scenes';
import { click, ephemeralsFor, slash, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const MINERS = ['i-0000000000000bbb1', 'i-0000000000000bbb2'];
const KEY = 'AKIAEXAMPLEKEY123456';
const runEvent = (ids: string[], time: string) => runInstancesEvent(ids, time, { accessKeyId: KEY, arn: 'arn:aws:iam::123456789012:user/ci-deploy' }, { instanceType: 'c5.4xlarge' });

describe('from the story to eradication, through Slack', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('maps the launcher\'s blast radius, snapshots all its instances, and terminate still needs a second person although the config asks for no approval', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    for (const id of MINERS) aws.addWebServer(id);
    aws.trail.push(runEvent([INSTANCE, ...MINERS], '2026-11-30T02:10:00Z'));
    h = await startHarness({
      file: {
        story: { enabled: true },
        access: { responders: ['U01ANA', 'U02LEAD'], approvers: ['U02LEAD', 'U03LEAD'], twoPersonRule: false, requireApproval: [] },
        aws: { maxAttempts: 1 },
        snapshot: { pollIntervalMs: 20, maxPollIntervalMs: 20 },
      },
    });
    expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
    const story = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('The story of') && !textOf(m).includes('looking up')), 'the story, launcher filled in');
    expect(textOf(story)).toContain(`Map blast radius ${KEY}`);

    await click(h, story, 'ir_blast_radius', 'U01ANA');
    const radius = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Blast radius of') && textOf(m).includes('Verified end state')), 'the blast radius');
    const t = textOf(radius);
    expect(t).toContain(`${KEY}: 1 write(s) in 90 days, touching 3 resource(s)`);
    for (const id of [INSTANCE, ...MINERS]) expect(t).toContain(`instance ${id}: RunInstances from 2026-11-30T02:10:00Z; c5.4xlarge; now running`);
    expect(t).toContain('Snapshot all 3');
    expect(t).toContain(`Disable key ${KEY}`);

    await click(h, radius, 'ir_bulk_snapshot', 'U01ANA');
    await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('*Snapshot*') && textOf(m).includes('Verified end state')), 'the snapshots', 20_000);
    expect([...aws.snapshots.values()].filter((s) => s.state === 'completed')).toHaveLength(6);

    await slash(h, `terminate ${KEY} ${INSTANCE} ${MINERS.join(' ')}`, 'U02LEAD', 'C02CRIT');
    const approval = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Terminate instances launched by') && textOf(m).includes('ir_approve')), 'the terminate approval');
    const plan = textOf(approval);
    expect(plan).toContain(`${INSTANCE}: running → terminated (launched by ${KEY} at 2026-11-30T02:10:00Z)`);
    expect(plan).toMatch(/evidence kept for i-0a1b2c3d4e5f60718: \/dev\/xvda vol-e5f60718000000001 → snap-\w+ \(completed/);
    await click(h, approval, 'ir_approve', 'U02LEAD');
    await waitFor(() => ephemeralsFor(h, 'U02LEAD').length, 'the refusal');
    expect(ephemeralsFor(h, 'U02LEAD')[0]).toContain('Two-person rule');
    const store = new RequestStore(h.redis, h.config.redisPrefix, 3600);
    expect((await store.recent(1))[0]).toMatchObject({ action: 'terminate', state: 'awaiting-approval', needsApproval: true });
    expect(aws.calls.filter((c) => c.api === 'TerminateInstances')).toEqual([]);

    // A second approver: the three instances are terminated, and only those.
    aws.addWebServer('i-0000000000000ccc1');
    await click(h, approval, 'ir_approve', 'U03LEAD');
    const done = await waitFor(() => (textOf(approval).includes('Verified end state') ? approval : undefined), 'the termination result', 20_000);
    for (const id of [INSTANCE, ...MINERS]) expect(textOf(done)).toContain(`${id}: terminated ✓; evidence: /dev/xvda`);
    expect(aws.calls.filter((c) => c.api === 'TerminateInstances').flatMap((c) => c.input.InstanceIds).sort()).toEqual([INSTANCE, ...MINERS].sort());
    expect(aws.instances.get('i-0000000000000ccc1')!.state).toBe('running');
  }, 40_000);
});

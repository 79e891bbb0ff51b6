import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { click, ephemeralsFor, nextResponse, slash, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: ['isolate', 'stop'] };
const FAST = { aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 }, stop: { pollIntervalMs: 20 } };

const account = () => FakeAws.withWebServer(INSTANCE);

async function cardFor(h: Harness) {
  expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
  return waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
}

function statusIn(h: Harness, card: { channel: string; ts: string }, pred: (t: string) => boolean, what: string) {
  return waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => pred(textOf(m))), what);
}

describe('snapshot: every volume, crash-consistent, tagged, with progress in the thread', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('snapshots both volumes as one set, tags each with case, device and requester, and reports progress until completed', async () => {
    aws = account();
    // Long enough to outlast Slack's one post per second in the channel, so progress shows as updates.
    aws.snapshotPolls = 8;
    h = await startHarness({ file: { access: ACCESS, ...FAST, snapshot: { pollIntervalMs: 200, maxPollIntervalMs: 200 } } });
    const card = await cardFor(h);
    await click(h, card, 'ir_snapshot', 'U01ANA');
    const done = await statusIn(h, card, (t) => t.includes('Verified end state'), 'the snapshot result');
    const snaps = [...aws.snapshots.values()];
    expect(snaps).toHaveLength(2);
    expect(aws.callsOf('CreateSnapshots')).toHaveLength(1);
    expect(aws.callsOf('CreateSnapshots')[0].input.InstanceSpecification).toEqual({ InstanceId: INSTANCE, ExcludeBootVolume: false });
    const findingId = fixture('guardduty-crypto-dns').detail.id;
    for (const s of snaps) {
      expect(s.tags).toMatchObject({ 'ir:case': findingId, 'ir:instance': INSTANCE, 'ir:requested-by': 'U01ANA' });
      expect(s.tags['ir:device']).toMatch(/^\/dev\/xvd[af]$/);
      expect(s.description).toContain(`instance ${INSTANCE}`);
      expect(s.description).toContain(`case ${findingId}`);
    }
    const text = textOf(done);
    expect(text).toContain(`${INSTANCE} /dev/xvda vol-e5f60718000000001 → ${snaps.find((s) => s.volumeId.endsWith('1'))!.id} (8 GiB) completed ✓`);
    expect(text).toContain('(100 GiB) completed ✓');
    expect(text).toContain('mount it read-only');
    // Progress was shown per volume on the way.
    const updates = h.slack.callsOf('chat.update').map((c) => JSON.stringify(c.args.blocks));
    expect(updates.some((u) => /0 of 2 completed; i-\w+ \/dev\/xvda (13|25|38|50|63|75|88)%/.test(u))).toBe(true);
  });

  it('reports a snapshot that fails midway, and what was already done', async () => {
    aws = account();
    aws.failingVolumes.add('vol-e5f60718000000002');
    h = await startHarness({ file: { access: ACCESS, ...FAST, snapshot: { pollIntervalMs: 20 } } });
    const card = await cardFor(h);
    await click(h, card, 'ir_snapshot', 'U01ANA');
    const failed = await statusIn(h, card, (t) => t.includes(':x: failed'), 'the failure');
    const t = textOf(failed);
    expect(t).toContain('step 2 (wait until completed)');
    expect(t).toContain('of vol-e5f60718000000002 (i-0a1b2c3d4e5f60718 /dev/xvdf) failed: Internal error while copying blocks');
    expect(t).toContain('2 snapshot(s) started');
  });

  it('shares completed snapshots with the forensic account, copies those under the AWS managed key when a key is configured, and refuses clearly otherwise', async () => {
    aws = account();
    aws.volumes.get('vol-e5f60718000000002')!.encrypted = true;
    aws.volumes.get('vol-e5f60718000000002')!.kmsKeyId = 'arn:aws:kms:us-east-1:123456789012:key/aws-managed';
    h = await startHarness({ file: { access: ACCESS, ...FAST, snapshot: { pollIntervalMs: 20, forensicAccount: '999988887777' } } });
    const card = await cardFor(h);
    await click(h, card, 'ir_snapshot', 'U01ANA');
    const done = await statusIn(h, card, (t) => t.includes('Verified end state'), 'the result');
    const t = textOf(done);
    expect(t).toContain('verification found problems');
    expect(t).toContain('shared with 999988887777 ✓');
    expect(t).toContain('not shared: encrypted with the AWS managed key ✗');
    const byVolume = (v: string) => [...aws.snapshots.values()].find((s) => s.volumeId === v)!;
    expect(byVolume('vol-e5f60718000000001').sharedWith).toEqual(['999988887777']);
    expect(byVolume('vol-e5f60718000000002').sharedWith).toEqual([]);
    await h.stop();

    // Same volumes, now with a customer key the forensic account can use: copied, then shared.
    aws.snapshots.clear();
    h = await startHarness({
      file: { access: ACCESS, ...FAST, snapshot: { pollIntervalMs: 20, forensicAccount: '999988887777', copyKmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/forensic' } },
    });
    const card2 = await cardFor(h);
    await click(h, card2, 'ir_snapshot', 'U01ANA');
    const done2 = await statusIn(h, card2, (x) => x.includes('Verified end state'), 'the result with copy');
    expect(textOf(done2)).toContain('with the forensic key and shared with 999988887777 ✓');
    const copy = [...aws.snapshots.values()].find((s) => s.tags['ir:copy-of'])!;
    expect(copy.kmsKeyId).toBe('arn:aws:kms:us-east-1:123456789012:key/forensic');
    expect(copy.sharedWith).toEqual(['999988887777']);
  });

  it('joins a snapshot already running for the instance; a later request makes a new, separately labelled set', async () => {
    aws = account();
    aws.snapshotPolls = 6;
    h = await startHarness({ file: { access: ACCESS, ...FAST, snapshot: { pollIntervalMs: 60 } } });
    const card = await cardFor(h);
    await click(h, card, 'ir_snapshot', 'U01ANA');
    await statusIn(h, card, (t) => t.includes('running'), 'the running snapshot');
    await click(h, card, 'ir_snapshot', 'U01ANA');
    await waitFor(() => ephemeralsFor(h, 'U01ANA').some((t) => t.includes('already in progress')), 'the join notice');
    await statusIn(h, card, (t) => t.includes('Verified end state'), 'the first set');
    expect(aws.snapshots.size).toBe(2);
    await click(h, card, 'ir_snapshot', 'U01ANA');
    await waitFor(() => aws.snapshots.size === 4 && [...aws.snapshots.values()].every((s) => s.state === 'completed'), 'a second set');
    const requests = new Set([...aws.snapshots.values()].map((s) => s.tags['ir:request']));
    expect(requests.size).toBe(2);
  });
});

describe('stop: several instances in parallel, behind approval, never terminated', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('warns that memory is lost, waits for approval, stops the running ones in one call and reports each, including the one already stopped', async () => {
    aws = account();
    const others = ['i-0000000000000aaa1', 'i-0000000000000aaa2'];
    for (const id of others) aws.addWebServer(id, { eip: false, targetGroup: false });
    aws.instances.get(others[1])!.state = 'stopped';
    h = await startHarness({ file: { access: ACCESS, ...FAST } });
    const before = h.slack.responses.length;
    await slash(h, `stop ${INSTANCE} ${others.join(' ')} miners on prod`);
    expect(await nextResponse(h, 'U01ANA', before)).toContain('Queued *stop*');
    const approval = await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('ir_approve')), 'the approval card');
    const plan = textOf(approval);
    expect(plan).toContain('Stopping loses what is only in memory');
    expect(plan).toContain(`/ir snapshot ${INSTANCE} ${others[0]}`);
    expect(plan).toContain(`${others[1]}: already stopped`);
    expect(plan).toContain(`${INSTANCE}: running → stopped (never terminated)`);
    expect(aws.callsOf('StopInstances')).toHaveLength(0);
    await click(h, approval, 'ir_approve', 'U02LEAD');
    const done = await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('Verified end state')), 'the result');
    const t = textOf(done);
    expect(t).toContain(`${INSTANCE}: stopped ✓`);
    expect(t).toContain(`${others[1]}: stopped (already was) ✓`);
    expect(aws.callsOf('StopInstances')).toHaveLength(1);
    expect(aws.callsOf('StopInstances')[0].input.InstanceIds).toEqual([INSTANCE, others[0]]);
    expect(aws.calls.some((c) => c.api === 'TerminateInstances')).toBe(false);
    // Every instance the one request stopped has it in its own audit trail.
    const asked = h.slack.responses.length;
    await slash(h, `audit ${others[0]}`);
    expect(await nextResponse(h, 'U01ANA', asked)).toMatch(/requested\* by <@U01ANA> stop[\s\S]*approved\* by <@U02LEAD> stop[\s\S]*succeeded\* by ir-bot stop/);
  });

  it('turns off the stop protection isolation set, as the plan says, before stopping', async () => {
    aws = account();
    aws.instances.get(INSTANCE)!.stop = true;
    h = await startHarness({ file: { access: { ...ACCESS, requireApproval: [] }, ...FAST } });
    await slash(h, `stop ${INSTANCE}`);
    const done = await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('Verified end state')), 'the result');
    expect(textOf(done)).toContain(`${INSTANCE}: stopped ✓`);
    expect(aws.callsOf('ModifyInstanceAttribute')[0].input).toEqual({ InstanceId: INSTANCE, DisableApiStop: { Value: false } });
  });

  it('rejects a malformed stop command precisely', async () => {
    aws = account();
    h = await startHarness({ file: { access: ACCESS, ...FAST }, worker: false });
    expect((await slash(h, 'stop i-12 reason')).ack.text).toContain('"i-12" is not an EC2 instance id');
    expect((await slash(h, 'stop because')).ack.text).toContain('needs one or more instance ids');
  });
});

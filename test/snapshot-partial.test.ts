import { awsError, FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { click, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const VOL1 = 'vol-e5f60718000000001';
const VOL2 = 'vol-e5f60718000000002';
const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: [] };
const FILE = { access: ACCESS, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 }, snapshot: { pollIntervalMs: 20 } };

/** An instance CreateSnapshots cannot do, so the bot snapshots volume by volume. */
function perVolumeAccount(): FakeAws {
  const aws = FakeAws.withWebServer(INSTANCE);
  aws.failAlways('CreateSnapshots', awsError('UnsupportedOperation', 'The instance is not supported for multi-volume snapshots.'));
  return aws;
}

async function snapshotFromCard(h: Harness) {
  expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
  const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
  await click(h, card, 'ir_snapshot', 'U01ANA');
  return card;
}

function statusIn(h: Harness, card: { channel: string; ts: string }, pred: (t: string) => boolean, what: string) {
  return waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => pred(textOf(m))), what);
}

const snapshotsOf = (aws: FakeAws, volumeId: string) => [...aws.snapshots.values()].filter((s) => s.volumeId === volumeId);

describe('snapshot, volume by volume: every volume or a failure naming the one left out', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('creates the missing snapshot on the retry after a throttled second CreateSnapshot, and no second one of the first volume', async () => {
    aws = perVolumeAccount();
    // The retry comes before a listing by tag shows the first snapshot.
    aws.snapshotListingLag = 5;
    let throttled = 0;
    aws.onCall('CreateSnapshot', (i) => {
      if (i.VolumeId === VOL2 && throttled++ === 0) throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    });
    h = await startHarness({ file: FILE });
    const card = await snapshotFromCard(h);
    const done = await statusIn(h, card, (t) => t.includes('Verified end state'), 'the result');
    expect(snapshotsOf(aws, VOL1)).toHaveLength(1);
    expect(snapshotsOf(aws, VOL2)).toHaveLength(1);
    expect(snapshotsOf(aws, VOL2)[0].state).toBe('completed');
    const t = textOf(done);
    expect(t).toContain(`${INSTANCE} /dev/xvda ${VOL1} → ${snapshotsOf(aws, VOL1)[0].id} (8 GiB) completed ✓`);
    expect(t).toContain(`${INSTANCE} /dev/xvdf ${VOL2} → ${snapshotsOf(aws, VOL2)[0].id} (100 GiB) completed ✓`);
    expect(t).not.toContain('✗');
  });

  it('fails naming vol-2 when its snapshot cannot be made on any attempt, and says the first one exists', async () => {
    aws = perVolumeAccount();
    aws.onCall('CreateSnapshot', (i) => {
      if (i.VolumeId === VOL2) throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    });
    h = await startHarness({ file: FILE });
    const card = await snapshotFromCard(h);
    const failed = await statusIn(h, card, (t) => t.includes(':x: failed'), 'the failure');
    const t = textOf(failed);
    expect(t).toContain(`no snapshot of ${VOL2} (${INSTANCE} /dev/xvdf)`);
    expect(t).toContain(`already started: ${snapshotsOf(aws, VOL1)[0].id} of ${VOL1}`);
    expect(t).not.toContain('Verified end state');
    expect(snapshotsOf(aws, VOL1)).toHaveLength(1);
  });

  it('reports a volume AWS refuses to snapshot as not preserved, naming it, while the others complete', async () => {
    aws = perVolumeAccount();
    aws.onCall('CreateSnapshot', (i) => {
      if (i.VolumeId === VOL2) throw awsError('IncorrectState', `The volume '${VOL2}' is in the 'error' state.`);
    });
    h = await startHarness({ file: FILE });
    const card = await snapshotFromCard(h);
    const done = await statusIn(h, card, (t) => t.includes('Verified end state'), 'the result');
    const t = textOf(done);
    expect(t).toContain('verification found problems');
    expect(t).toContain(`${VOL1} → ${snapshotsOf(aws, VOL1)[0].id} (8 GiB) completed ✓`);
    expect(t).toMatch(new RegExp(`/dev/xvdf ${VOL2}: no snapshot of this request: .*IncorrectState.* ✗`));
    expect(t).toContain(`Not preserved: ${VOL2} (${INSTANCE} /dev/xvdf)`);
  });
});

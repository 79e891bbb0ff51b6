import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { click, nextResponse, slash, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: [] };
const FILE = { access: ACCESS, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 }, snapshot: { pollIntervalMs: 20 }, storm: { maxCardsPerWindow: 1000 } };
const CRYPTO_ARN = () => fixture('guardduty-crypto-dns').detail.arn as string;

const account = () => FakeAws.withWebServer(INSTANCE);

async function cryptoCard(h: Harness) {
  expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
  return waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the crypto card');
}

describe('Security Hub workflow, notes and the incident record', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('resolves the finding in Security Hub from the card with a note naming the Slack user, and says so in the thread', async () => {
    aws = account();
    h = await startHarness({ file: FILE });
    const card = await cryptoCard(h);
    await click(h, card, 'ir_wf_resolve', 'U01ANA');
    const msg = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Security Hub workflow set to')), 'the thread message');
    expect(textOf(msg)).toContain('set to *RESOLVED* on 1 finding(s) by <@U01ANA>');
    expect(aws.securityHubUpdates).toEqual([{ id: CRYPTO_ARN(), workflow: 'RESOLVED', note: 'Resolved in Slack by U01ANA (ir-bot)', by: 'ir-bot for Slack user U01ANA' }]);
    expect(aws.callsOf('BatchUpdateFindings')[0].input.FindingIdentifiers).toEqual([{ Id: CRYPTO_ARN(), ProductArn: 'arn:aws:securityhub:us-east-1::product/aws/guardduty' }]);
  });

  it('sets the status of a new Security Hub (OCSF) finding through BatchUpdateFindingsV2, with a comment naming the Slack user', async () => {
    aws = account();
    h = await startHarness({ file: FILE });
    const event = fixture('ocsf-securityhub-control-s3');
    const uid = event.detail.findings[0].finding_info.uid as string;
    expect((await h.postEvents(event)).status).toBe(202);
    const card = await waitFor(() => ['C01ALERTS', 'C02CRIT'].flatMap((c) => h.slack.channelMessages(c))[0], 'the control card');
    await click(h, card, 'ir_wf_resolve', 'U01ANA');
    const msg = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Security Hub workflow set to')), 'the thread message');
    expect(textOf(msg)).toContain('set to *RESOLVED* on 1 finding(s) by <@U01ANA>');
    expect(aws.callsOf('BatchUpdateFindings')).toHaveLength(0);
    expect(aws.callsOf('BatchUpdateFindingsV2')[0].input.FindingIdentifiers).toEqual([
      { CloudAccountUid: '123456789012', FindingInfoUid: uid, MetadataProductUid: 'arn:aws:securityhub:eu-west-1::productv2/aws/securityhub' },
    ]);
    expect(aws.securityHubV2Updates).toEqual([{ id: uid, statusId: 4, comment: 'Resolved in Slack by U01ANA (ir-bot) (ir-bot for Slack user U01ANA)' }]);
  });

  it('says the finding was not updated when Security Hub CSPM is off in the account, instead of retrying for ever', async () => {
    aws = account();
    aws.securityHubCspmEnabled = false;
    h = await startHarness({ file: FILE });
    const card = await cryptoCard(h);
    await click(h, card, 'ir_wf_suppress', 'U01ANA');
    const msg = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Security Hub workflow set to')), 'the thread message');
    expect(textOf(msg)).toContain(':warning: Security Hub workflow set to *SUPPRESSED* on 0 finding(s)');
    expect(textOf(msg)).toContain(`not updated: \`${CRYPTO_ARN()}\`: securityhub:BatchUpdateFindings failed: InvalidAccessException: Account 123456789012 is not subscribed to AWS Security Hub`);
    expect(aws.callsOf('BatchUpdateFindings')).toHaveLength(1);
  });

  it('updates a 150-finding roll-up in batches of 100 and reports the findings Security Hub refused, one by one', async () => {
    aws = account();
    h = await startHarness({ file: FILE });
    const base = fixture('guardduty-port-probe');
    const ids: string[] = [];
    for (let i = 0; i < 150; i++) {
      const e = structuredClone(base);
      e.detail.id = `${i.toString(16).padStart(8, '0')}${'d'.repeat(24)}`;
      e.detail.arn = e.detail.arn.replace(/finding\/.*$/, `finding/${e.detail.id}`);
      ids.push(e.detail.arn);
      expect((await h.postEvents(e)).status).toBe(202);
    }
    aws.unprocessableFindings.add(ids[7]).add(ids[120]);
    const card = await waitFor(() => h.slack.channelMessages(h.slack.channelMessages('C01ALERTS').length ? 'C01ALERTS' : 'C02CRIT').find((m) => textOf(m).includes('150 findings')), 'the roll-up card', 20_000);
    await click(h, card, 'ir_wf_ack', 'U01ANA');
    const msg = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Security Hub workflow set to')), 'the thread message');
    const calls = aws.callsOf('BatchUpdateFindings');
    expect(calls.map((c) => c.input.FindingIdentifiers.length)).toEqual([100, 50]);
    expect(textOf(msg)).toContain('set to *NOTIFIED* on 148 finding(s)');
    expect(textOf(msg)).toContain(`not updated: \`${ids[7]}\`: FindingNotFound: Finding Not Found`);
    expect(textOf(msg)).toContain(`not updated: \`${ids[120]}\``);
  }, 40_000);

  it('shows a status changed in Security Hub on the same card, without a new card or any action', async () => {
    aws = account();
    h = await startHarness({ file: FILE });
    const event = fixture('securityhub-guardduty');
    expect((await h.postEvents(event)).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the card');
    expect(textOf(card)).toContain('workflow NEW');
    // Our own BatchUpdateFindings comes back as a newer imported finding.
    event.detail.findings[0].Workflow = { Status: 'RESOLVED' };
    event.detail.findings[0].UpdatedAt = '2026-11-22T05:10:00.000Z';
    expect((await h.postEvents(event)).status).toBe(202);
    await waitFor(() => textOf(card).includes('workflow RESOLVED'), 'the card showing RESOLVED');
    expect(h.slack.channelMessages('C02CRIT')).toHaveLength(1);
    expect(aws.calls).toHaveLength(0);
  });

  it('notes each completed action on the finding, keeps the audit trail queryable, and uploads the incident report', async () => {
    aws = account();
    h = await startHarness({ file: FILE });
    // A long history before this incident (other targets, other people) must not hide its trail.
    const history = h.redis.pipeline();
    for (let i = 0; i < 100_001; i++) history.xadd(`${h.config.redisPrefix}:audit`, '*', 'at', '2026-01-01T00:00:00.000Z', 'event', 'requested', 'user', 'U09OLD', 'requestId', `isolate-i-old${i}-1`, 'action', 'isolate', 'target', `i-old${i}`);
    await history.exec();
    const card = await cryptoCard(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Isolate') && textOf(m).includes('Verified end state')), 'the isolation');
    await click(h, card, 'ir_snapshot', 'U01ANA');
    await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('*Snapshot*') && textOf(m).includes('Verified end state')), 'the snapshot');
    await waitFor(() => aws.securityHubUpdates.filter((u) => u.note?.startsWith('ir-bot: ')).length === 2, 'two notes in Security Hub');
    const notes = aws.securityHubUpdates.map((u) => u.note);
    expect(notes[0]).toMatch(/^ir-bot: isolate i-0a1b2c3d4e5f60718 done \(isolate-i-0a1b2c3d4e5f60718-\d+, asked by U01ANA\)/);
    expect(aws.securityHubUpdates.every((u) => u.workflow === undefined)).toBe(true);

    let before = h.slack.responses.length;
    await slash(h, `audit ${INSTANCE}`);
    const byInstance = await nextResponse(h, 'U01ANA', before);
    expect(byInstance).toMatch(/requested\* by <@U01ANA> isolate `i-0a1b2c3d4e5f60718`[\s\S]*succeeded\* by ir-bot isolate[\s\S]*requested\* by <@U01ANA> snapshot/);
    before = h.slack.responses.length;
    await slash(h, `audit ${fixture('guardduty-crypto-dns').detail.id}`);
    expect(await nextResponse(h, 'U01ANA', before)).toContain('started');
    const requestId = /\((isolate-i-0a1b2c3d4e5f60718-\d+),/.exec(notes[0] ?? '')![1];
    before = h.slack.responses.length;
    await slash(h, `audit ${requestId}`);
    const byRequest = await nextResponse(h, 'U01ANA', before);
    expect(byRequest).toMatch(/requested\* by <@U01ANA> isolate[\s\S]*succeeded\* by ir-bot isolate/);
    expect(byRequest).not.toContain('snapshot');
    before = h.slack.responses.length;
    await slash(h, 'audit <@U01ANA|analyst>');
    expect(await nextResponse(h, 'U01ANA', before)).toContain('Audit trail for* `U01ANA`');

    await click(h, card, 'ir_report', 'U01ANA');
    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.filename?.startsWith('incident-report-') && f.content && f.channel), 'the report file');
    expect(file.thread_ts).toBe(card.ts);
    const md = file.content;
    expect(md).toContain('# Incident report: CryptoCurrency:EC2/BitcoinTool.B!DNS');
    expect(md).toMatch(/### isolate i-0a1b2c3d4e5f60718 \(`isolate-i-0a1b2c3d4e5f60718-\d+`\)/);
    expect(md).toContain('- asked by U01ANA at');
    expect(md).toContain('- outcome: **done**');
    expect(md).toMatch(/## Snapshots\n\n- i-0a1b2c3d4e5f60718 \/dev\/xvda vol-e5f60718000000001 → snap-/);
    expect(md).toContain('- What damage was done, and what was contained?\n  - isolate i-0a1b2c3d4e5f60718');
    expect(md).toContain('| finding first seen | GuardDuty |');
    expect(md).toContain('## Affected resources\n\n- Instance `i-0a1b2c3d4e5f60718` (us-east-1)');
    expect(md).toContain('xmr.pool.minergate.com');
  });
});

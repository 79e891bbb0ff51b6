/**
 * The card is the incident's live header: driven the way Slack drives the bot (signed requests,
 * the local Slack Web API server), these check what a responder sees on the card after each step,
 * that an escalation posts a new (notifying) message, and that a closed finding gets no containment.
 */
import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import type { SlackMessage } from './support/slack-api-server';
import { buttonIn, click, textOf, threadReplies } from './support/slack-user';

const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: ['isolate', 'stop'] };
const FAST_SLACK = { postIntervalMs: 100, updatesPerMinute: 600, coalesceMs: 100 };
const hex = (i: number, n: number) => i.toString(16).padStart(n, '0');

function minerEvent(i: number): any {
  const e = fixture('guardduty-crypto-dns');
  e.detail.id = `${hex(i, 8)}${'d'.repeat(24)}`;
  e.detail.resource.instanceDetails.instanceId = `i-${hex(0xb00 + i, 17)}`;
  return e;
}

/** The card's live header (the incident block) as text. */
function header(card: SlackMessage): string {
  const b = (card.blocks as any[]).find((x) => x.block_id === 'ir_incident');
  return b ? String(b.text.text) : '';
}

function buttonLabels(card: SlackMessage): string[] {
  return (card.blocks as any[]).filter((b) => b.type === 'actions').flatMap((b) => b.elements.map((e: any) => String(e.text?.text ?? '')));
}

function actionIds(card: SlackMessage): string[] {
  return (card.blocks as any[]).flatMap((b) => [...(b.type === 'actions' ? b.elements : []), ...(b.accessory ? [b.accessory] : [])].map((e: any) => String(e.action_id)));
}

describe('the card as the incident live header', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('new → acknowledged → contained: owner, approvals with who may approve, N of M contained, and the bulk button gone', async () => {
    aws = new FakeAws();
    aws.account = '123456789012';
    const events = [0, 1, 2].map(minerEvent);
    const instances = events.map((e) => e.detail.resource.instanceDetails.instanceId as string);
    for (const id of instances) aws.addWebServer(id, { eip: false, targetGroup: false, asg: 'web-asg' });
    h = await startHarness({ file: { access: ACCESS, slack: FAST_SLACK, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 } } });
    for (const e of events) expect((await h.postEvents(e)).status).toBe(202);

    const card = await waitFor(() => h.slack.channelMessages('C02CRIT').find((m) => textOf(m).includes('3 findings')), 'one roll-up of the three');
    expect(header(card)).toContain('*NEW*');
    expect(header(card)).toContain('no owner yet');
    expect(header(card)).toContain('*Contained:* 0 of 3 resources');
    expect(header(card)).toMatch(/\*Next:\* Acknowledge/);
    // Production impact first: the fixture's instances are in an Auto Scaling group.
    expect(header(card).split('\n')[0]).toContain('3 instances in Auto Scaling group `web-asg`');
    expect(buttonLabels(card)).toContain('Isolate all 3');

    await click(h, card, 'ir_wf_ack', 'U01ANA');
    await waitFor(() => header(card).includes('*ACKNOWLEDGED*'), 'the card acknowledged');
    expect(header(card)).toContain('owner <@U01ANA>');

    await click(h, card, 'ir_bulk_isolate', 'U01ANA');
    const approval = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('ir_approve')), 'the approval', 30_000);
    await waitFor(() => header(card).includes('*Waiting for approval:*'), 'the card says what waits');
    expect(header(card)).toContain('isolate 3 targets asked by <@U01ANA>; may approve: <@U02LEAD>');
    expect(header(card)).toContain('*Next:* Approve or reject the isolate');
    // Under way: no second Isolate all while the first waits.
    expect(buttonLabels(card).some((l) => l.startsWith('Isolate'))).toBe(false);

    await click(h, approval, 'ir_approve', 'U02LEAD');
    await waitFor(() => header(card).includes('*CONTAINED*'), 'the card contained', 60_000);
    expect(header(card)).toContain('*Contained:* 3 of 3 resources (3 isolated)');
    // Isolation detached them: production no longer says they are in the group.
    expect(header(card).split('\n')[0]).toContain('3 instances taken out of Auto Scaling group `web-asg`');
    expect(header(card)).toContain('*Next:* Preserve: snapshot 3 instances');
    expect(header(card)).not.toContain('Waiting for approval');
    for (const id of instances) expect(textOf(card)).toMatch(new RegExp(`${id}.*?isolated by <@U01ANA> \\(approved by <@U02LEAD>\\)`));
    expect(buttonLabels(card).some((l) => l.startsWith('Isolate'))).toBe(false);
    expect(buttonLabels(card)).toContain('Snapshot all 3');
    // Row menus no longer offer Isolate for an isolated instance.
    const menus = (card.blocks as any[]).filter((b) => String(b.block_id ?? '').startsWith('ir_row_')).map((b) => b.accessory);
    for (const m of menus) expect(m.options.map((o: any) => o.text.text).join(',')).not.toMatch(/Isolate/);
  }, 120_000);

  it('an attack sequence joining a HIGH card posts a new broadcast message naming it and mentions the group; a repeat stays quiet', async () => {
    h = await startHarness({ file: { slack: FAST_SLACK, cards: { escalation: { mentionGroup: 'S0ONCALL' } } } });
    const miner = fixture('guardduty-crypto-dns');
    expect((await h.postEvents(miner)).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the HIGH card');
    expect(textOf(card)).toContain('HIGH');
    // The same finding again (a repeat): nothing new to announce.
    const again = fixture('guardduty-crypto-dns');
    again.detail.service.count = 5;
    again.detail.updatedAt = '2026-12-01T00:00:00.000Z';
    expect((await h.postEvents(again)).status).toBe(202);
    await waitFor(() => card.updates > 0, 'the repeat folded into the card');
    await new Promise((r) => setTimeout(r, 500));
    expect(threadReplies(h, card.channel, card.ts).filter((m) => m.reply_broadcast)).toEqual([]);

    const sequence = fixture('guardduty-attack-sequence');
    expect((await h.postEvents(sequence)).status).toBe(202);
    const news = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => m.reply_broadcast), 'a new message in the channel', 15_000);
    expect(news.text).toContain('Escalated to CRITICAL');
    expect(textOf(news)).toContain('<!subteam^S0ONCALL>');
    expect(textOf(news)).toContain('attack sequence AttackSequence:EC2/CompromisedInstanceGroup');
    expect(textOf(news)).toContain('severity HIGH → CRITICAL');
    // Still one card: the sequence joined it, and the channel got one new (thread-broadcast) message.
    expect(h.slack.channelMessages('C02CRIT')).toHaveLength(1);

    // The sequence again: quiet.
    const repeat = fixture('guardduty-attack-sequence');
    repeat.detail.service.count = 3;
    repeat.detail.updatedAt = '2026-12-02T00:00:00.000Z';
    expect((await h.postEvents(repeat)).status).toBe(202);
    await new Promise((r) => setTimeout(r, 1000));
    expect(threadReplies(h, card.channel, card.ts).filter((m) => m.reply_broadcast)).toHaveLength(1);
  }, 60_000);

  it('a resolved finding gets a resolved card with no containment; a later active version reopens it and says so', async () => {
    h = await startHarness({ file: { slack: FAST_SLACK } });
    const resolved = fixture('securityhub-guardduty');
    resolved.detail.findings[0].Workflow = { Status: 'RESOLVED' };
    expect((await h.postEvents(resolved)).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0] ?? h.slack.channelMessages('C01ALERTS')[0] ?? h.slack.channelMessages('C03CRYPTO')[0], 'the card');
    expect(card.blocks[0]).toMatchObject({ type: 'header', text: { text: expect.stringContaining('RESOLVED ·') } });
    expect(header(card)).toContain('*RESOLVED*');
    expect(header(card)).toContain('*resolved* by its provider (Workflow.Status RESOLVED)');
    for (const id of ['ir_isolate', 'ir_memory', 'ir_disable_key', 'ir_deny_principal', 'ir_revoke_sessions']) expect(actionIds(card)).not.toContain(id);
    expect(buttonIn(card, 'ir_snapshot')).toBeDefined();

    const active = fixture('securityhub-guardduty');
    active.detail.findings[0].Workflow = { Status: 'NEW' };
    active.detail.findings[0].UpdatedAt = '2026-11-23T04:10:00.000Z';
    expect((await h.postEvents(active)).status).toBe(202);
    await waitFor(() => header(card).includes('*Reopened:*'), 'the card reopened');
    expect(header(card)).toContain('active again after it was resolved');
    expect(header(card)).toContain('*NEW*');
    expect(buttonIn(card, 'ir_isolate')).toBeDefined();
  }, 60_000);

  it('findings by one access key: the common cause leads with Disable key; once disabled, the card says so and offers it no more', async () => {
    aws = new FakeAws();
    aws.account = '123456789012';
    aws.users.set('ci-deploy', { keys: [{ id: 'AKIAEXAMPLEKEY000001', status: 'Active' }], policies: new Map() });
    h = await startHarness({ file: { access: ACCESS, slack: FAST_SLACK, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 } } });
    for (const i of [1, 2]) {
      const e = fixture('guardduty-credential-exfiltration');
      e.detail.id = `${hex(i, 8)}${'e'.repeat(24)}`;
      e.detail.type = `UnauthorizedAccess:IAMUser/Kind${i}`;
      // Two instances, one key behind both.
      e.detail.resource.instanceDetails.instanceId = `i-${hex(0xc00 + i, 17)}`;
      e.detail.resource.accessKeyDetails = { accessKeyId: 'AKIAEXAMPLEKEY000001', userName: 'ci-deploy', userType: 'IAMUser', principalId: 'AIDAEXAMPLE' };
      expect((await h.postEvents(e)).status).toBe(202);
    }
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT').find((m) => textOf(m).includes('2 findings') && textOf(m).includes('2 resources')), 'one roll-up for the key');
    expect(header(card)).toContain(':dart: *Common cause:* 2 findings by key `AKIAEXAMPLEKEY000001` of ci-deploy');
    expect(buttonLabels(card)).toContain('Disable key AKIAEXAMPLEKEY000001');
    expect(buttonLabels(card)).toContain('Map blast radius of the key');
    await click(h, card, 'ir_disable_key', 'U01ANA');
    await waitFor(() => header(card).includes('key disabled by <@U01ANA>'), 'the cause line saying the key is disabled', 30_000);
    expect(aws.users.get('ci-deploy')!.keys[0].status).toBe('Inactive');
    expect(buttonLabels(card)).not.toContain('Disable key AKIAEXAMPLEKEY000001');
    expect(header(card)).toContain('*Contained:* 1 of');
  }, 60_000);
});

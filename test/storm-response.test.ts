import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { blockActionBody } from './support/slack-signing';
import type { SlackMessage } from './support/slack-api-server';
import { click, sendToBot, textOf, threadReplies } from './support/slack-user';

const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: ['isolate', 'stop', 'deny-principal'] };
const FAST_SLACK = { postIntervalMs: 100, updatesPerMinute: 600, coalesceMs: 200 };
const hex = (i: number, n: number) => i.toString(16).padStart(n, '0');

function minerEvent(i: number): any {
  const e = fixture('guardduty-crypto-dns');
  e.detail.id = `${hex(i, 8)}${'d'.repeat(24)}`;
  e.detail.resource.instanceDetails.instanceId = `i-${hex(0xa00 + i, 17)}`;
  return e;
}

function probeEvent(i: number): any {
  const e = fixture('guardduty-port-probe');
  e.detail.id = `${hex(i, 8)}${'e'.repeat(24)}`;
  e.detail.severity = 5;
  // Four kinds of probe: three cards, then the channel's storm roll-up for the fourth.
  e.detail.type = `Recon:EC2/PortProbe${i % 4}`;
  e.detail.resource.instanceDetails.instanceId = `i-${hex(i, 8)}`;
  return e;
}

/** Everything a person can read in the channel: messages (threads included) and the files shared there. */
function channelText(h: Harness, channel: string): string {
  const messages = [...h.slack.messages.values()].filter((m) => m.channel === channel).map((m) => `${m.text}\n${JSON.stringify(m.blocks)}`);
  const files = [...h.slack.files.values()].filter((f) => f.channel === channel).map((f) => f.content);
  return [...messages, ...files].join('\n');
}

/** Picks an option of a row's overflow menu, the way Slack sends it. */
function pickOption(h: Harness, msg: SlackMessage, blockIndex: number, label: RegExp, userId: string) {
  const menu = (msg.blocks as any[])[blockIndex].accessory;
  const option = menu.options.find((o: any) => label.test(o.text.text));
  if (!option) throw new Error(`no option ${label} in row ${blockIndex}`);
  const body = blockActionBody(
    { type: 'overflow', action_id: menu.action_id, selected_option: option },
    { userId, channelId: msg.channel, messageTs: msg.ts, responseUrl: `${h.slack.baseUrl}/respond/menu` },
  );
  return sendToBot(h, body);
}

describe('storms stay readable and actionable', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('a 300-finding storm under 1 post/s per channel: every finding id is readable in the channel soon after the last one', async () => {
    h = await startHarness({
      slackOptions: { postIntervalMs: 1000 },
      file: { slack: FAST_SLACK, storm: { maxCardsPerWindow: 3, windowSeconds: 600, listLimit: 15, listQuietSeconds: 2 } },
    });
    const events = Array.from({ length: 300 }, (_, i) => probeEvent(i));
    for (let i = 0; i < events.length; i += 50) {
      const res = await h.postEvents(events.slice(i, i + 50));
      expect(res.status).toBe(202);
    }
    const lastAccepted = Date.now();
    const ids = events.map((e) => e.detail.id as string);
    await waitFor(
      () => {
        const text = channelText(h, 'C01ALERTS');
        return ids.every((id) => text.includes(id));
      },
      'every finding id in the channel',
      60_000,
    );
    const took = Date.now() - lastAccepted;
    expect(took).toBeLessThan(60_000);
    // The cards stayed few; the rest is in the thread's file, and Slack's limits were met, not broken.
    expect(h.slack.channelMessages('C01ALERTS').length).toBeLessThanOrEqual(4);
    expect(h.slack.rateLimited().length).toBeGreaterThan(0);
    const csv = [...h.slack.files.values()].find((f) => f.channel === 'C01ALERTS' && f.filename?.startsWith('findings-'));
    expect(csv?.content.split('\n')[0]).toBe('finding_id,type,severity,resource,account,region,count,last_seen,console');
  }, 90_000);

  it('"Show all" puts every finding of a roll-up in its thread as a file, at once', async () => {
    h = await startHarness({ file: { slack: FAST_SLACK, storm: { listLimit: 5, listQuietSeconds: 3600 } } });
    const events = Array.from({ length: 20 }, (_, i) => probeEvent(4 * i));
    expect((await h.postEvents(events)).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('20 findings')), 'the roll-up');
    expect(textOf(card)).toContain('…and 15 more resources (15 findings)');
    await click(h, card, 'ir_show_all', 'U09ANYONE');
    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.channel === card.channel && f.thread_ts === card.ts), 'the list in the thread');
    for (const e of events) expect(file.content).toContain(e.detail.id);
    expect(file.content.trim().split('\n')).toHaveLength(21);
  }, 60_000);

  it('ten miners: one roll-up, ten stories, and one "Isolate all" with one approval isolates all ten, every interface verified', async () => {
    aws = new FakeAws();
    aws.account = '123456789012';
    const events = Array.from({ length: 10 }, (_, i) => minerEvent(i));
    const instances = events.map((e) => e.detail.resource.instanceDetails.instanceId as string);
    for (const id of instances) aws.addWebServer(id, { eip: false, targetGroup: false });
    // Release here needs no second approval (access.undoNeedsApproval off): the test is about one request for ten.
    h = await startHarness({ file: { access: { ...ACCESS, undoNeedsApproval: false }, slack: FAST_SLACK, story: { enabled: true }, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 } } });
    for (const e of events) expect((await h.postEvents(e)).status).toBe(202);

    const card = await waitFor(() => h.slack.channelMessages('C02CRIT').find((m) => textOf(m).includes('10 findings')), 'one roll-up of the ten');
    expect(h.slack.channelMessages('C02CRIT')).toHaveLength(1);
    // One row per instance.
    for (const id of instances) expect(textOf(card)).toContain(`*${id}*`);
    await waitFor(() => instances.every((id) => threadReplies(h, card.channel, card.ts).some((m) => textOf(m).includes(`The story of* \`${id}\``))), 'ten stories in the thread', 30_000);
    const stories = threadReplies(h, card.channel, card.ts).filter((m) => textOf(m).includes('The story of'));
    expect(stories).toHaveLength(10);

    await click(h, card, 'ir_bulk_isolate', 'U01ANA');
    const approval = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('ir_approve')), 'the one approval', 30_000);
    const plan = textOf(approval);
    // Identical changes said once; each instance is in the plan's file. The ten share one role: no warning about it.
    expect(plan).toContain('10 instances: termination and stop protection on; every interface to ir-quarantine');
    expect(plan).not.toContain('instance role');
    const planFile = await waitFor(() => [...h.slack.files.values()].find((f) => f.thread_ts === card.ts && f.filename?.startsWith('plan-')), 'the plan file');
    for (const id of instances) expect(planFile.content).toContain(`${id}\n  - `);
    // Nothing changed before approval.
    expect(aws.calls.filter((c) => /^(Modify|Create|Detach|Deregister|Disassociate)/.test(c.api))).toEqual([]);

    await click(h, approval, 'ir_approve', 'U02LEAD');
    await waitFor(() => textOf(approval).includes('Verified end state'), 'the verified result', 60_000);
    expect(textOf(approval)).toContain(':white_check_mark: done');
    expect(textOf(approval)).toContain('10 isolated ✓');
    const result = await waitFor(() => [...h.slack.files.values()].find((f) => f.thread_ts === card.ts && f.filename?.startsWith('result-'))?.content, 'the result file');
    const q = [...aws.groups.values()].find((g) => g.name === 'ir-quarantine')!;
    for (const id of instances) {
      expect(result).toContain(`${id}: verified`);
      const enis = [...aws.enis.values()].filter((e) => e.instanceId === id);
      expect(enis).toHaveLength(2);
      for (const eni of enis) {
        expect(eni.groups).toEqual([q.id]);
        expect(result).toMatch(new RegExp(`${eni.id}: ${q.id} \\(ir-quarantine\\) only[^;•]*✓`));
      }
    }
    // One request, one approval card, one quarantine group for the VPC.
    expect(threadReplies(h, card.channel, card.ts).filter((m) => textOf(m).includes('ir_approve') || textOf(m).includes('Verified end state'))).toHaveLength(1);
    expect([...aws.groups.values()].filter((g) => g.name === 'ir-quarantine')).toHaveLength(1);

    // Release on that result undoes all ten, in one request.
    await click(h, approval, 'ir_release', 'U01ANA');
    const released = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Release isolation of') && textOf(m).includes('Verified end state')), 'all ten released', 60_000);
    expect(textOf(released)).toContain('10 released ✓');
    for (const eni of [...aws.enis.values()].filter((e) => instances.includes(e.instanceId))) expect(eni.groups).not.toContain(q.id);
  }, 120_000);

  it('a roll-up about roles with 120-character ARNs posts, and its "Deny all" option acts on the full ARN', async () => {
    const roleName = `ci-${'r'.repeat(86)}`;
    const arn = `arn:aws:iam::123456789012:role/${roleName}`;
    expect(arn).toHaveLength(120);
    aws = new FakeAws();
    aws.account = '123456789012';
    h = await startHarness({ file: { access: ACCESS, slack: FAST_SLACK, aws: { maxAttempts: 1, jobAttempts: 1 } } });
    for (const i of [1, 2]) {
      const e = fixture('guardduty-credential-exfiltration');
      e.detail.id = `${hex(i, 8)}${'f'.repeat(24)}`;
      delete e.detail.resource.instanceDetails;
      e.detail.resource.resourceType = 'AccessKey';
      e.detail.resource.accessKeyDetails = { accessKeyId: `ASIA${hex(i, 16).toUpperCase()}`, userName: roleName, userType: 'AssumedRole', principalId: 'AROAEXAMPLE' };
      expect((await h.postEvents(e)).status).toBe(202);
    }
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT').find((m) => textOf(m).includes('2 findings')), 'the roll-up, accepted by Slack');
    expect(h.slack.calls.filter((c) => (c.args as any).error === 'invalid_blocks')).toEqual([]);
    const row = (card.blocks as any[]).findIndex((b) => String(b.block_id ?? '').startsWith('ir_row_'));
    await pickOption(h, card, row, /^Deny all /, 'U01ANA');
    const status = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Deny')), 'the deny request in the thread');
    expect(textOf(status)).toContain(arn);
  }, 60_000);
});

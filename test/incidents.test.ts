import { Queue } from 'bullmq';
import { AuditLog } from '../src/audit/log';
import { CardStore } from '../src/cards/store';
import { IncidentClock } from '../src/jobs/incident-clock';
import { Metrics } from '../src/metrics';
import { createLogger } from '../src/log';
import { IncidentStore } from '../src/incidents/store';
import { QUEUE, bullPrefix } from '../src/queues';
import { FakeAws } from './support/fake-aws';
import { SIGNING_SECRET, startHarness, tearDownAfterEach, waitFor, fixture, type Harness } from './support/harness';
import { blockActionBody, slackSignature } from './support/slack-signing';
import { buttonIn, click, nextResponse, sendToBot, slash, textOf, threadReplies } from './support/slack-user';

const INCIDENTS = { incidents: { invite: ['S01SOC'], channelName: 'inc-{number}-{slug}' } };
const SOC = { S01SOC: ['U01ANA', 'U03SAM'] };

async function cardIn(h: Harness, channel: string) {
  return waitFor(() => h.slack.channelMessages(channel).find((m) => textOf(m).includes('ir_incident_declare')), 'the alert card', 30_000);
}

describe('incidents: declare from a card', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  it('makes one private channel, invites the group and the approvers, pins a summary, links the card; a double click declares once', async () => {
    h = await startHarness({ file: INCIDENTS, slackOptions: { userGroups: SOC } });
    // Someone's channel already has the name: Slack says name_taken and the incident takes a suffix.
    h.slack.addChannel('inc-1-low-unauthorizedaccess-ec2-sshbruteforce');
    expect((await h.postEvents(fixture('guardduty-ssh-bruteforce'))).status).toBe(202);
    const card = await cardIn(h, 'C01ALERTS');
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const channel = await waitFor(() => [...h.slack.channels.values()].find((c) => c.creator === 'U0BOT' && c.pins.size > 0), 'the incident channel with its pinned summary');
    expect([...h.slack.channels.values()].filter((c) => c.creator === 'U0BOT')).toHaveLength(1);
    expect(channel.is_private).toBe(true);
    expect(channel.name).toBe('inc-1-low-unauthorizedaccess-ec2-sshbruteforce-2');
    expect([...channel.members].sort()).toEqual(['U01ANA', 'U02LEAD', 'U03SAM', 'U0BOT']);
    const summary = h.slack.messages.get(`${channel.id}/${[...channel.pins][0]}`)!;
    expect(summary.text).toMatch(/^INC-1 · INVESTIGATING · /);
    expect(textOf(summary)).toContain('*Commander:* <@U01ANA>');
    const link = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('part of *INC-1*')), 'the link in the card thread');
    expect(textOf(link)).toContain(`<#${channel.id}>`);
    expect(h.slack.channelMessages(channel.id)).toHaveLength(1);
  });
});

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ACCESS = { responders: ['U01ANA', 'S01SOC'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: ['isolate'] };
const FAST_AWS = { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 };

/** An Events API delivery (JSON), signed as Slack signs it. */
async function sendEvent(h: Harness, event: Record<string, unknown>): Promise<number> {
  const body = JSON.stringify({ token: 'x', team_id: 'T0EXAMPLE', api_app_id: 'A0IRBOT', type: 'event_callback', event_id: `Ev${Date.now()}${Math.random().toString(36).slice(2, 6)}`, event_time: Math.floor(Date.now() / 1000), event });
  const res = await fetch(`${h.baseUrl}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...slackSignature(SIGNING_SECRET, body) }, body });
  await res.text();
  return res.status;
}

function incidentChannel(h: Harness) {
  return waitFor(() => [...h.slack.channels.values()].find((c) => c.creator === 'U0BOT' && c.pins.size > 0), 'the incident channel with its pinned summary');
}

function summaryOf(h: Harness, channel: { id: string; pins: Set<string> }) {
  return h.slack.messages.get(`${channel.id}/${[...channel.pins][0]}`)!;
}

function linesIn(h: Harness, channel: string): string[] {
  return h.slack.channelMessages(channel).map((m) => textOf(m));
}

describe('incidents: working one from its channel', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('roles, an isolation asked in the channel (result in both places), status changes, notes, timeline, catch-up on join, close with report and archive, times on /metrics and /ir stats', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { asg: 'web-asg' });
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS, incidents: { archiveOnClose: true } }, slackOptions: { userGroups: { S01SOC: ['U03SAM'] } } });
    expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const channel = await incidentChannel(h);

    // Roles: Sam leads, Ana writes.
    let n = h.slack.responses.length;
    await slash(h, 'incident lead <@U03SAM|sam>', 'U01ANA', channel.id);
    expect(await nextResponse(h, 'U01ANA', n)).toContain('<@U03SAM> is now incident commander of INC-1');
    n = h.slack.responses.length;
    await slash(h, 'incident scribe <@U01ANA>', 'U01ANA', channel.id);
    expect(await nextResponse(h, 'U01ANA', n)).toContain('scribe');
    await waitFor(() => textOf(summaryOf(h, channel)).includes('*Commander:* <@U03SAM> · *Scribe:* <@U01ANA>'), 'the summary to show the roles');
    await waitFor(() => channel.members.has('U03SAM'), 'the new commander invited');

    // An isolation asked in the incident channel: approval and result in the card's thread, the result also here.
    n = h.slack.responses.length;
    await slash(h, `isolate ${INSTANCE} miner`, 'U01ANA', channel.id);
    const approval = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('ir_approve')), 'the approval in the card thread', 30_000);
    await waitFor(() => textOf(summaryOf(h, channel)).includes('*Pending approvals:* `isolate-'), 'the summary to show the pending approval');
    await click(h, approval, 'ir_approve', 'U02LEAD');
    const result = await waitFor(() => linesIn(h, channel.id).find((t) => t.includes(':white_check_mark:') && t.includes('isolate')), 'the result in the incident channel', 60_000);
    expect(result).toContain(INSTANCE);
    expect(result).toContain('done, verified');
    await waitFor(() => textOf(summaryOf(h, channel)).includes(`*Contained (verified):* isolate ${INSTANCE}`), 'the summary to show the containment');

    // An instance no card shows, isolated from the incident channel: plan, approval and result right here.
    const other = 'i-0fffffffffffffff1';
    aws.addWebServer(other, { eip: false, secondEni: false });
    await slash(h, `isolate ${other}`, 'U01ANA', channel.id);
    await waitFor(() => textOf(summaryOf(h, channel)).includes(`*Pending approvals:* \`isolate-${other}`), 'the summary to show the approval asked here');
    const here = await waitFor(() => h.slack.channelMessages(channel.id).find((m) => textOf(m).includes('ir_approve')), 'the approval in the incident channel', 30_000);
    await click(h, here, 'ir_approve', 'U02LEAD');
    await waitFor(() => textOf(summaryOf(h, channel)).includes(`isolate ${other}`) && textOf(summaryOf(h, channel)).includes('*Pending approvals:* none'), 'the summary to show the second containment', 60_000);

    // Status: each change posted in the channel with how long the last one lasted.
    n = h.slack.responses.length;
    await slash(h, 'incident status contained', 'U03SAM', channel.id);
    expect(await nextResponse(h, 'U03SAM', n)).toContain('INC-1 is now *contained*');
    await waitFor(() => linesIn(h, channel.id).find((t) => t.includes('status *investigating* → *contained* (after')), 'the status line');
    n = h.slack.responses.length;
    await slash(h, 'incident status investigating', 'U03SAM', channel.id);
    expect(await nextResponse(h, 'U03SAM', n)).toContain('status only moves forward');

    // Notes: typed, and a message the commander marks with the configured reaction.
    n = h.slack.responses.length;
    await slash(h, 'note attacker used a stolen key from the CI runner', 'U01ANA', channel.id);
    expect(await nextResponse(h, 'U01ANA', n)).toBe('Noted on the INC-1 timeline.');
    const posted = await fetch(`${h.slack.url}chat.postMessage`, { method: 'POST', headers: { authorization: 'Bearer xoxb-test-token', 'content-type': 'application/json' }, body: JSON.stringify({ channel: channel.id, text: 'egress to 203.0.113.50 stopped at 03:12' }) }).then((r) => r.json() as Promise<{ ts: string }>);
    expect(await sendEvent(h, { type: 'reaction_added', user: 'U03SAM', reaction: 'pushpin', item: { type: 'message', channel: channel.id, ts: posted.ts }, event_ts: posted.ts })).toBe(200);
    // Someone else's pushpin is not the commander's mark.
    await sendEvent(h, { type: 'reaction_added', user: 'U09OTHER', reaction: 'pushpin', item: { type: 'message', channel: channel.id, ts: posted.ts }, event_ts: posted.ts });

    const timeline = await waitFor(async () => {
      const k = h.slack.responses.length;
      await slash(h, 'timeline', 'U01ANA', channel.id);
      const t = await nextResponse(h, 'U01ANA', k);
      return t.includes('egress to 203.0.113.50') ? t : undefined;
    }, 'the marked message on the timeline');
    expect(timeline).toContain('*INC-1 timeline*');
    expect(timeline).toMatch(/declared "/);
    expect(timeline).toMatch(/asked: isolate i-0a1b2c3d4e5f60718/);
    expect(timeline).toMatch(/<@U02LEAD> approved: isolate/);
    expect(timeline).toMatch(/done \(verified\): isolate/);
    expect(timeline).toContain('status *investigating* → *contained*');
    expect(timeline).toContain('attacker used a stolen key from the CI runner');
    expect(timeline).toContain('<@U01ANA> <@U03SAM> is now incident commander');
    expect(timeline.match(/egress to 203\.0\.113\.50/g)).toHaveLength(1);

    // Catch-up: offered privately to whoever joins; the button gives it, only to them.
    await sendEvent(h, { type: 'member_joined_channel', user: 'U04NEW', channel: channel.id, channel_type: 'G', team: 'T0EXAMPLE' });
    const offer = await waitFor(() => h.slack.callsOf('chat.postEphemeral').find((c) => c.args.user === 'U04NEW' && String(c.args.text).includes('Welcome to *INC-1*')), 'the catch-up offer');
    const blocks = (typeof offer.args.blocks === 'string' ? JSON.parse(offer.args.blocks) : offer.args.blocks) as any[];
    const button = blocks[1].elements[0];
    await sendToBot(h, blockActionBody({ type: 'button', action_id: button.action_id, value: button.value, text: button.text }, { userId: 'U01ANA', channelId: channel.id, responseUrl: `${h.slack.baseUrl}/respond/cu` }));
    const catchup = String((await waitFor(() => h.slack.callsOf('chat.postEphemeral').find((c) => c.args.user === 'U01ANA' && String(c.args.text).startsWith('*Catch-up on INC-1')), 'the catch-up')).args.text);
    expect(catchup).toContain('*Status:* contained since');
    expect(catchup).toContain('*Lead:* <@U03SAM>');
    expect(catchup).toContain(`*Contained:* isolate ${INSTANCE}`);
    expect(catchup).toContain('*Pending:* 0 approval(s), 0 running');

    // Close: not by a responder who neither leads nor approves; by the commander.
    n = h.slack.responses.length;
    await slash(h, 'incident close', 'U01ANA', channel.id);
    expect(await nextResponse(h, 'U01ANA', n)).toContain('Only the incident commander (<@U03SAM>) or an approver may close INC-1');
    await slash(h, 'incident close', 'U03SAM', channel.id);
    const report = await waitFor(() => [...h.slack.files.values()].find((f) => f.filename === 'incident-inc-1-report.md' && f.channel === channel.id && f.content), 'the report in the channel', 30_000);
    expect(report.content).toContain('## Incident response times');
    expect(report.content).toMatch(/\| contained \| \d{4}-/);
    expect(report.content).toMatch(/\| closed \| \d{4}-/);
    expect(report.content).toContain('## Timeline');
    expect(report.content).toContain('attacker used a stolen key');
    expect(report.content).toContain('## Actions');
    await waitFor(() => channel.is_archived, 'the channel archived');

    const metrics = await (await fetch(`${h.metricsUrl}/metrics`)).text();
    for (const m of ['acknowledged', 'contained', 'closed']) expect(metrics).toContain(`ir_declared_incident_response_seconds_count{milestone="${m}"} 1`);
    expect(metrics).not.toContain('ir_declared_incident_response_seconds_count{milestone="eradicated"}');
    n = h.slack.responses.length;
    await slash(h, 'stats 7', 'U02LEAD', 'C01ALERTS');
    const stats = await nextResponse(h, 'U02LEAD', n);
    expect(stats).toContain('1 incident(s) declared, 1 closed');
    expect(stats).toMatch(/time to contain: median \d+ (h|d|min|s)[^,]*, p90 .* \(n=1\)/);
    expect(stats).toContain('time to eradicate: no incident reached it');
  });
});

describe('incidents: who is invited', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  it('whoever acknowledged the card is invited too, and the incident counts as acknowledged from then', async () => {
    h = await startHarness({ file: { incidents: { ...INCIDENTS.incidents, inviteApprovers: false } }, slackOptions: { userGroups: SOC } });
    expect((await h.postEvents(fixture('guardduty-ssh-bruteforce'))).status).toBe(202);
    const card = await cardIn(h, 'C01ALERTS');
    const findingKey = JSON.parse(buttonIn(card, 'ir_incident_declare')!.value).k as string;
    // As the Acknowledge button records it (jobs/tasks.ts).
    await new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).append({ event: 'workflow-updated', user: 'U07ACK', findingKey, detail: { status: 'NOTIFIED' } });
    const ackedAt = Date.now() - 120_000;
    await new IncidentClock({ redis: h.redis, prefix: h.config.redisPrefix, cards: new CardStore(h.redis, h.config.redisPrefix), metrics: new Metrics(false) }).reached(findingKey, 'acknowledged', ackedAt);
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const channel = await incidentChannel(h);
    expect([...channel.members].sort()).toEqual(['U01ANA', 'U03SAM', 'U07ACK', 'U0BOT']);
    expect((await new IncidentStore(h.redis, h.config.redisPrefix).get('inc-1'))!.milestones.acknowledged).toBe(ackedAt);
  });
});

describe('incidents: crashes and refusals', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  async function declared(file: Record<string, unknown> = {}, slackOptions: Record<string, unknown> = {}) {
    h = await startHarness({ file: { ...INCIDENTS, ...file }, slackOptions: { userGroups: SOC, ...slackOptions } });
    expect((await h.postEvents(fixture('guardduty-ssh-bruteforce'))).status).toBe(202);
    const card = await cardIn(h, 'C01ALERTS');
    return card;
  }

  it('a create whose answer was lost (the worker died waiting) and a re-run set-up job never make a second channel, summary or pin', async () => {
    const card = await declared();
    // Slack makes the channel but the answer never arrives: to the worker it is a crash mid-call.
    h.slack.loseAnswerNext('conversations.create');
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const channel = await incidentChannel(h);
    expect(h.slack.calls.filter((c) => c.method === 'conversations.create').length).toBeGreaterThanOrEqual(2);
    const store = new IncidentStore(h.redis, h.config.redisPrefix);
    expect((await store.get('inc-1'))!.channel).toBe(channel.id);
    // The whole set-up again, as a redelivered job: every step is recorded, nothing repeats.
    const queue = new Queue(QUEUE.incidents, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
    const creates = h.slack.calls.filter((c) => c.method === 'conversations.create').length;
    const job = await queue.add('setup', { kind: 'setup', id: 'inc-1' }, { jobId: 'inc-setup-again' });
    await waitFor(async () => (await job.isCompleted()) || undefined, 'the re-run');
    await queue.close();
    expect(h.slack.calls.filter((c) => c.method === 'conversations.create').length).toBe(creates);
    expect([...h.slack.channels.values()].filter((c) => c.creator === 'U0BOT')).toHaveLength(1);
    expect(h.slack.channelMessages(channel.id)).toHaveLength(1);
    expect(h.slack.callsOf('pins.add')).toHaveLength(1);
    expect(threadReplies(h, card.channel, card.ts).filter((m) => textOf(m).includes('part of *INC-1*'))).toHaveLength(1);
  });

  it('a channel name Slack refuses: a clear message in the card thread, and the incident works without a channel', async () => {
    const card = await declared({ incidents: { channelName: 'Incident #{number}' } });
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const msg = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Slack refused the channel name')), 'the refusal in the thread');
    expect(textOf(msg)).toContain('`invalid_name_specials`');
    expect(textOf(msg)).toContain('incidents.channelName');
    expect([...h.slack.channels.values()].filter((c) => c.creator === 'U0BOT')).toHaveLength(0);
    // Still an incident: status from the alert channel by its id, told in the card's thread.
    const n = h.slack.responses.length;
    await slash(h, 'incident status contained inc-1', 'U01ANA', 'C01ALERTS');
    expect(await nextResponse(h, 'U01ANA', n)).toContain('INC-1 is now *contained*');
    await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('status *investigating* → *contained*')), 'the status line in the card thread');
  });

  it('a missing scope: said plainly in the thread; the incident still closes, its report in the card thread', async () => {
    const card = await declared({ incidents: { archiveOnClose: true } });
    h.slack.failNext('conversations.create', 'missing_scope');
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const msg = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('missing_scope')), 'the missing scope in the thread');
    expect(textOf(msg)).toContain('manifest.yml');
    const n = h.slack.responses.length;
    await slash(h, 'incident close inc-1', 'U02LEAD', 'C01ALERTS');
    expect(await nextResponse(h, 'U02LEAD', n)).toContain('INC-1 is closed');
    // No channel: the report goes to the card's thread.
    await waitFor(() => [...h.slack.files.values()].find((f) => f.filename === 'incident-inc-1-report.md' && f.channel === card.channel && f.thread_ts === card.ts && f.content), 'the report in the card thread');
  });

  it('archiving refused with restricted_action is told in the channel after the report', async () => {
    const card = await declared({ incidents: { archiveOnClose: true } }, { restrictedMethods: ['conversations.archive'] });
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const channel = await incidentChannel(h);
    await slash(h, 'incident close', 'U01ANA', channel.id);
    await waitFor(() => linesIn(h, channel.id).find((t) => t.includes('could not be archived') && t.includes('restricted_action')), 'the refusal in the channel');
    expect(channel.is_archived).toBe(false);
    expect([...h.slack.files.values()].some((f) => f.filename === 'incident-inc-1-report.md' && f.channel === channel.id)).toBe(true);
  });
});

describe('incidents: rules, slash declare, several cards', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  it('a config rule declares every attack sequence by itself; a second card joins by /ir incident add and moves to another incident', async () => {
    h = await startHarness({ file: { ...INCIDENTS, incidents: { autoDeclareAttackSequences: true } }, slackOptions: { userGroups: SOC } });
    expect((await h.postEvents(fixture('guardduty-attack-sequence'))).status).toBe(202);
    const channel = await incidentChannel(h);
    const store = new IncidentStore(h.redis, h.config.redisPrefix);
    const auto = (await store.get('inc-1'))!;
    expect(auto.declaredBy).toBe('system');
    expect(auto.commander).toBeUndefined();
    expect(textOf(summaryOf(h, channel))).toContain('*Commander:* nobody yet');

    expect((await h.postEvents(fixture('guardduty-ssh-bruteforce'))).status).toBe(202);
    const card = await cardIn(h, 'C01ALERTS');
    const ssh = fixture('guardduty-ssh-bruteforce').detail.id as string;
    let n = h.slack.responses.length;
    await slash(h, `incident add ${ssh}`, 'U01ANA', channel.id);
    expect(await nextResponse(h, 'U01ANA', n)).toBe('The card joined INC-1.');
    await waitFor(() => textOf(summaryOf(h, channel)).includes('*Cards (2):*'), 'two cards on the summary');
    await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('part of *INC-1*')), 'the link in the second card');

    // Declared by slash with a title, then the card moves there.
    n = h.slack.responses.length;
    await slash(h, 'incident declare SSH noise on bastion', 'U01ANA', 'C01ALERTS');
    expect(await nextResponse(h, 'U01ANA', n)).toContain('*INC-2* declared');
    const second = await waitFor(async () => {
      const i = await store.get('inc-2');
      return i?.summaryTs ? i : undefined;
    }, 'INC-2 set up');
    expect(second.channelName).toBe('inc-2-ssh-noise-on-bastion');
    n = h.slack.responses.length;
    await slash(h, `incident move ${ssh} inc-2`, 'U01ANA', channel.id);
    expect(await nextResponse(h, 'U01ANA', n)).toBe('The card joined INC-2 (moved from inc-1).');
    expect((await store.get('inc-1'))!.findingKeys).toHaveLength(1);
    expect((await store.get('inc-2'))!.findingKeys).toHaveLength(1);
    await waitFor(() => textOf(summaryOf(h, channel)).includes('*Cards (1):*'), 'INC-1 back to one card');
  });

  it('refuses people who may not: a visitor cannot declare, lead or read the timeline', async () => {
    h = await startHarness({ file: INCIDENTS, slackOptions: { userGroups: SOC } });
    let n = h.slack.responses.length;
    await slash(h, 'incident declare test', 'U09VISITOR', 'C01ALERTS');
    expect(await nextResponse(h, 'U09VISITOR', n)).toContain('Only responders may use `/ir incident`');
    n = h.slack.responses.length;
    await slash(h, 'timeline inc-1', 'U09VISITOR', 'C01ALERTS');
    expect(await nextResponse(h, 'U09VISITOR', n)).toContain('Only responders and approvers');
    n = h.slack.responses.length;
    await slash(h, 'timeline', 'U01ANA', 'C01ALERTS');
    expect(await nextResponse(h, 'U01ANA', n)).toContain('This is not an incident channel');
    expect(await new IncidentStore(h.redis, h.config.redisPrefix).get('inc-1')).toBeUndefined();
  });
});

import { createHmac } from 'node:crypto';
import { IncidentStore } from '../src/incidents/store';
import type { Incident } from '../src/incidents/store';
import { fixture, startHarness, waitFor, type Harness } from './support/harness';
import { JiraServer } from './support/jira-server';
import { click, nextResponse, slash, textOf, threadReplies } from './support/slack-user';

const EMAIL = 'ir-bot@example.com';
const TOKEN = 'jira-api-token-0123';
const SECRET = 'jira-webhook-secret-0123456789';

describe('incidents: a Jira issue per incident', () => {
  let h: Harness | undefined;
  let jira: JiraServer | undefined;
  afterEach(async () => {
    await h?.stop();
    await jira?.stop();
    h = undefined;
    jira = undefined;
  });

  async function start(project = 'SEC') {
    jira = new JiraServer({ projects: ['SEC'], issueTypes: ['Task', 'Incident'], email: EMAIL, token: TOKEN });
    await jira.start();
    h = await startHarness({
      env: { JIRA_BASE_URL: jira.url, JIRA_EMAIL: EMAIL, JIRA_API_TOKEN: TOKEN, JIRA_WEBHOOK_SECRET: SECRET },
      file: { incidents: { jira: { project, issueType: 'Incident', closeTransition: 'Done', fromJira: { 'In Progress': 'contained' } } } },
    });
    expect((await h.postEvents(fixture('guardduty-ssh-bruteforce'))).status).toBe(202);
    const card = await waitFor(() => h!.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('ir_incident_declare')), 'the card', 30_000);
    return { h, jira, card };
  }

  const store = (hh: Harness) => new IncidentStore(hh.redis, hh.config.redisPrefix);
  const summary = (hh: Harness) => waitFor(async () => {
    const i = await store(hh).get('inc-1');
    return i?.summaryTs && i.channel ? hh.slack.messages.get(`${i.channel}/${i.summaryTs}`) : undefined;
  }, 'the summary');

  const ticketed = (hh: Harness) => waitFor(async () => {
    const i = await store(hh).get('inc-1');
    return i?.ticket?.key ? (i as Incident & { ticket: { key: string } }) : undefined;
  }, 'the issue key', 30_000);

  function webhook(hh: Harness, body: unknown, secret = SECRET) {
    const raw = JSON.stringify(body);
    const sig = createHmac('sha256', secret).update(raw).digest('hex');
    return fetch(`${hh.baseUrl}/jira/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature': `sha256=${sig}` }, body: raw });
  }

  it('creates one issue on declare (even when Jira is busy, down, or its answer is lost), comments status changes, posts the report and transitions on close', async () => {
    const { h, jira, card } = await start();
    // Busy, then down, then the create happens but its answer never arrives.
    jira.failNext(429, 503);
    jira.loseAnswerNext(1);
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const s = await summary(h);
    await waitFor(() => textOf(s).includes('*Ticket:* ticket pending (Jira answered'), 'the summary to say the ticket is pending');
    const i = await ticketed(h);
    // The lost create was found by its label, not made again.
    expect(jira.issues.size).toBe(1);
    expect(jira.calls.filter((c) => c.path === '/rest/api/3/issue' && c.status === 201)).toHaveLength(1);
    expect(jira.calls.some((c) => c.path === '/rest/api/3/search/jql')).toBe(true);
    const issue = jira.issues.get(i.ticket.key)!;
    expect(issue).toMatchObject({ project: 'SEC', issueType: 'Incident' });
    expect(issue.summary).toMatch(/^INC-1: LOW UnauthorizedAccess:EC2\/SSHBruteForce/);
    await waitFor(() => textOf(h.slack.messages.get(`${s.channel}/${s.ts}`)!).includes(`|${issue.key}>`), 'the summary to link the issue');

    let n = h.slack.responses.length;
    await slash(h, 'incident status contained', 'U01ANA', s.channel);
    expect(await nextResponse(h, 'U01ANA', n)).toContain('*contained*');
    await waitFor(() => issue.comments.find((c) => c.includes('Status investigating → contained')), 'the status comment');
    n = h.slack.responses.length;
    await slash(h, 'incident close', 'U01ANA', s.channel);
    expect(await nextResponse(h, 'U01ANA', n)).toContain('closed');
    await waitFor(() => issue.status === 'Done' || undefined, 'the issue transitioned to Done', 20_000);
    expect(issue.comments.some((c) => c.includes('## Incident response times') && c.includes('## Timeline'))).toBe(true);
    expect(jira.issues.size).toBe(1);
  });

  it('an unknown Jira project: a clear message in the thread, the summary says so, the incident works without a ticket', async () => {
    const { h, card } = await start('NOPE');
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const msg = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Jira ticket could not be created')), 'the refusal in the thread');
    expect(textOf(msg)).toContain('project: valid project is required');
    expect(textOf(msg)).toContain('project NOPE');
    const s = await summary(h);
    await waitFor(() => textOf(h.slack.messages.get(`${s.channel}/${s.ts}`)!).includes('*Ticket:* not created: Jira refused (400)'), 'the summary to say no ticket');
    const n = h.slack.responses.length;
    await slash(h, 'incident status contained', 'U01ANA', s.channel);
    expect(await nextResponse(h, 'U01ANA', n)).toContain('INC-1 is now *contained*');
  });

  it('the webhook: a bad signature is refused and changes nothing; a signed status change goes on the timeline and moves the incident', async () => {
    const { h, card } = await start();
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const i = await ticketed(h);
    const event = { webhookEvent: 'jira:issue_updated', user: { displayName: 'Jo <!channel> Jira' }, issue: { key: i.ticket.key }, changelog: { items: [{ field: 'status', fromString: 'To Do', toString: 'In Progress' }] } };
    const before = await store(h).timeline('inc-1');
    expect((await webhook(h, event, 'not-the-secret-at-all-0000')).status).toBe(401);
    const unsigned = await fetch(`${h.baseUrl}/jira/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    expect(unsigned.status).toBe(401);
    expect(await store(h).timeline('inc-1')).toEqual(before);
    expect((await store(h).get('inc-1'))!.status).toBe('investigating');

    expect((await webhook(h, event)).status).toBe(202);
    expect((await store(h).get('inc-1'))!.status).toBe('contained');
    const tl = await store(h).timeline('inc-1');
    expect(tl.map((e) => e.text)).toContain(`Jira ${i.ticket.key}: To Do → In Progress (by Jo <!channel> Jira in Jira)`);
    const line = await waitFor(() => h.slack.channelMessages(i.channel!).find((m) => textOf(m).includes('To Do → In Progress')), 'the Jira change in the channel');
    // A Jira user's name cannot ping the channel.
    expect(textOf(line)).toContain('Jo &lt;!channel&gt; Jira');
  });
});

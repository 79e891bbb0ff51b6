import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { IncidentStore } from '../src/incidents/store';
import { BASE_FILE_CONFIG, fixture, startHarness, testEnv, waitFor, writeConfigFile, type Harness } from './support/harness';
import { JiraServer } from './support/jira-server';
import { click, textOf, threadReplies } from './support/slack-user';
import { terminate } from './support/worker-process';

const EMAIL = 'ir-bot@example.com';
const TOKEN = 'jira-api-token-0123';
const ROOT = resolve(__dirname, '..');

/**
 * The worker as a real process, SIGKILLed during declare right after Slack made the channel or Jira
 * made the issue, before the worker could record the answer; a fresh worker process then finishes.
 */
describe('incidents: the worker killed during declare', () => {
  let h: Harness | undefined;
  let jira: JiraServer | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) await terminate(c, 5000);
    await h?.stop();
    await jira?.stop();
    h = undefined;
    jira = undefined;
  });

  async function worker(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'support/incident-worker-child.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    await new Promise<void>((ready, fail) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('READY') && ready());
      child.once('exit', (code, signal) => fail(new Error(`worker child exited (${code ?? signal}) before READY: ${err}`)));
    });
    return child;
  }

  /** SIGKILL, and the answer held until the process is gone: the call happened, its answer is lost. */
  function kill(child: ChildProcess): Promise<void> {
    const gone = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill('SIGKILL');
    return gone;
  }

  async function declareAndKill(at: 'slack' | 'jira') {
    jira = new JiraServer({ projects: ['SEC'], issueTypes: ['Incident'], email: EMAIL, token: TOKEN });
    await jira.start();
    const jiraEnv = { JIRA_BASE_URL: jira.url, JIRA_EMAIL: EMAIL, JIRA_API_TOKEN: TOKEN };
    const configPath = writeConfigFile({ ...BASE_FILE_CONFIG, incidents: { channelName: 'inc-{number}-{slug}', jira: { project: 'SEC', issueType: 'Incident' } } });
    h = await startHarness({ worker: false, env: { IR_CONFIG: configPath, ...jiraEnv } });
    const hh = h;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...testEnv({ SLACK_API_URL: hh.slack.url, IR_CONFIG: configPath, REDIS_PREFIX: hh.config.redisPrefix, REDIS_URL: hh.config.redis.kind === 'url' ? hh.config.redis.url : undefined, ...jiraEnv }),
    };
    const first = await worker(env);
    let killed: Promise<void> | undefined;
    // Slack's own count of what it carried out: successful creates and pins.
    const done = { 'conversations.create': 0, 'pins.add': 0 };
    hh.slack.beforeAnswer = (method, body) => {
      if (!(method in done) || !(body as { ok?: boolean }).ok) return undefined;
      done[method as keyof typeof done] += 1;
      return at === 'slack' && method === 'conversations.create' && !killed ? (killed = kill(first)) : undefined;
    };
    if (at === 'jira') {
      jira.beforeAnswer = (method, path, status) => (method === 'POST' && path === '/rest/api/3/issue' && status === 201 && !killed ? (killed = kill(first)) : undefined);
    }
    expect((await hh.postEvents(fixture('guardduty-ssh-bruteforce'))).status).toBe(202);
    const card = await waitFor(() => hh.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('ir_incident_declare')), 'the card', 30_000);
    await click(hh, card, 'ir_incident_declare', 'U01ANA');
    await waitFor(() => !!killed, `the kill at ${at}'s create`, 20_000);
    await killed;
    expect(first.signalCode).toBe('SIGKILL');
    // Carried out, but the dead worker never learnt so.
    const store = new IncidentStore(hh.redis, hh.config.redisPrefix);
    const before = await store.get('inc-1');
    expect(at === 'slack' ? before?.channel : before?.ticket?.key).toBeUndefined();
    await worker(env);

    const i = await waitFor(async () => {
      const x = await store.get('inc-1');
      return x?.channel && x.invited && x.pinned && x.ticket?.key && x.ticket.state === 'created' ? x : undefined;
    }, 'the incident complete: channel, pinned summary, ticket', 40_000).catch(async (err: Error) => {
      // What was left undone, for whoever reads a failure.
      throw new Error(`${err.message}: ${JSON.stringify(await store.get('inc-1'))}; Slack calls ${hh.slack.calls.map((c) => c.method).join(' ')}; Jira calls ${jira!.calls.map((c) => `${c.method} ${c.path} ${c.status}`).join(', ')}`);
    });
    const linked = () => threadReplies(hh, card.channel, card.ts).filter((m) => textOf(m).includes('part of *INC-1*'));
    const links = await waitFor(() => (linked().length ? linked() : undefined), 'the link in the card thread');
    return { h: hh, jira, i, done, links };
  }

  function expectOneOfEach({ h: hh, jira: j, i, done, links }: Awaited<ReturnType<typeof declareAndKill>>) {
    expect(links).toHaveLength(1);
    expect(textOf(links[0])).toContain(`<#${i.channel}>`);
    expect(done).toEqual({ 'conversations.create': 1, 'pins.add': 1 });
    const created = [...hh.slack.channels.values()].filter((c) => c.creator === 'U0BOT');
    expect(created).toHaveLength(1);
    expect(created[0].id).toBe(i.channel);
    expect([...created[0].pins]).toEqual([i.summaryTs]);
    expect(textOf(hh.slack.messages.get(`${i.channel}/${i.summaryTs}`)!)).toMatch(/INC-1/);
    expect(j.issues.size).toBe(1);
    expect(j.calls.filter((c) => c.method === 'POST' && c.path === '/rest/api/3/issue' && c.status === 201)).toHaveLength(1);
    expect([...j.issues.keys()]).toEqual([i.ticket!.key]);
    expect(i.problems).toEqual([]);
  }

  it('killed right after conversations.create: one channel, one pinned summary, one Jira issue', async () => {
    expectOneOfEach(await declareAndKill('slack'));
  }, 60_000);

  it('killed right after Jira created the issue: one issue, one channel, one pinned summary', async () => {
    expectOneOfEach(await declareAndKill('jira'));
  }, 60_000);
});

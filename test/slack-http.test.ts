import { encodePayload } from '../src/views/action-ids';
import { fixture, startHarness, waitFor, SIGNING_SECRET, type Harness } from './support/harness';
import { blockActionBody, slackSignature, slashCommandBody } from './support/slack-signing';

describe('Slack requests into the bot (HTTP mode, signed as Slack signs them)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ worker: false });
  });
  afterAll(async () => {
    await h.stop();
  });

  async function post(body: string, headers: Record<string, string> = slackSignature(SIGNING_SECRET, body)) {
    const started = Date.now();
    const res = await fetch(`${h.baseUrl}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
    return { status: res.status, text: await res.text(), ms: Date.now() - started };
  }

  it('answers /ir help in the acknowledgement with the command list', async () => {
    const res = await post(slashCommandBody('help', { responseUrl: `${h.slack.baseUrl}/respond/1` }));
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text);
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('/ir isolate <instance-id>… [reason]');
    expect(body.text).toContain('/ir hunt <template> key=value');
    expect(res.ms).toBeLessThan(3000);
  });

  it('explains a malformed /ir command precisely', async () => {
    const bad = JSON.parse((await post(slashCommandBody('isolate i-xyz', { responseUrl: `${h.slack.baseUrl}/respond/2` }))).text);
    expect(bad.text).toContain('"i-xyz" is not an EC2 instance id');
    const unknown = JSON.parse((await post(slashCommandBody('nuke everything', { responseUrl: `${h.slack.baseUrl}/respond/3` }))).text);
    expect(unknown.text).toContain('unknown command "nuke"');
    const hunts = JSON.parse((await post(slashCommandBody('hunt', { responseUrl: `${h.slack.baseUrl}/respond/4` }))).text);
    expect(hunts.text).toContain('`principal-launches` principal=<IAM user or role ARN>');
    const noAthena = JSON.parse((await post(slashCommandBody('hunt ec2-calls instance=i-0a1b2c3d4e5f60718', { responseUrl: `${h.slack.baseUrl}/respond/4` }))).text);
    expect(noAthena.text).toContain('Hunts need the `athena:` section in the config');
  });

  it('refuses requests with a bad or stale signature', async () => {
    const body = slashCommandBody('help', { responseUrl: `${h.slack.baseUrl}/respond/5` });
    expect((await post(body, slackSignature('wrong-secret', body))).status).toBe(401);
    const stale = slackSignature(SIGNING_SECRET, body, Math.floor(Date.now() / 1000) - 600);
    expect((await post(body, stale)).status).toBe(401);
  });

  it('acknowledges a Hunt button for a finding it no longer knows and tells the clicker, in the thread, what to do', async () => {
    const value = encodePayload({ a: 'hunt', k: 'a'.repeat(24), r: 'i-0a1b2c3d4e5f60718' });
    const body = blockActionBody(
      { type: 'button', action_id: 'ir_hunt', value, text: { type: 'plain_text', text: 'Hunt' } },
      { responseUrl: `${h.slack.baseUrl}/respond/6`, messageTs: '1700000000.000200' },
    );
    const before = h.slack.callsOf('chat.postEphemeral').length;
    const res = await post(body);
    expect(res.status).toBe(200);
    await waitFor(() => h.slack.callsOf('chat.postEphemeral').length > before, 'an ephemeral reply');
    const eph = h.slack.callsOf('chat.postEphemeral').at(-1)!;
    expect(eph.args).toMatchObject({ channel: 'C01ALERTS', user: 'U01ANA', thread_ts: '1700000000.000200' });
    expect(eph.args.text).toContain('This finding names nothing to hunt on. `/ir hunt` lists the hunts.');
  });

  it('says so when a button carries a forged or broken payload', async () => {
    const body = blockActionBody(
      { type: 'button', action_id: 'ir_snapshot', value: '{"a":"snapshot","k":"<!channel>"}', text: { type: 'plain_text', text: 'x' } },
      { responseUrl: `${h.slack.baseUrl}/respond/7` },
    );
    const before = h.slack.callsOf('chat.postEphemeral').length;
    expect((await post(body)).status).toBe(200);
    await waitFor(() => h.slack.callsOf('chat.postEphemeral').length > before, 'an ephemeral reply');
    expect(h.slack.callsOf('chat.postEphemeral').at(-1)!.args.text).toContain('no valid finding reference');
  });
});

describe('health and metrics', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('/healthz reports Redis and Slack auth on the metrics port', async () => {
    const res = await fetch(`${h.metricsUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', checks: { redis: 'ok', slack: 'ok' } });
  });

  it('/healthz is 503 naming Slack when the token is refused', async () => {
    await h.stop();
    h = await startHarness({ worker: false });
    // Bolt verifies the token once at start; let that call pass, then refuse the health check's.
    await waitFor(() => h.slack.callsOf('auth.test').length >= 1, "Bolt's start-up auth.test");
    h.slack.failNext('auth.test', 'invalid_auth');
    const res = await fetch(`${h.metricsUrl}/healthz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).checks.slack).toContain('invalid_auth');
  });

  it('/metrics counts received and rejected findings and jobs by state', async () => {
    await h.postEvents({ 'detail-type': 'GuardDuty Finding', detail: {} });
    const text = await (await fetch(`${h.metricsUrl}/metrics`)).text();
    expect(text).toMatch(/ir_findings_rejected_total \d+/);
    expect(text).toMatch(/ir_jobs\{queue="findings",state="waiting"\} \d+/);
    expect(text).toContain('ir_slack_call_errors_total');
    expect(text).toContain('ir_aws_call_errors_total');
  });
});

describe('messages Slack has not shown', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  it('/metrics shows a card Slack refuses as not shown, until Slack shows it', async () => {
    h = await startHarness();
    h.slack.setOptions({ refusedChannels: { C01ALERTS: 'not_in_channel' } });
    expect((await h.postEvents(fixture('guardduty-port-probe'))).status).toBe(202);
    await waitFor(() => h.slack.callsOf('chat.postMessage').length > 0, 'the refused post');
    const metrics = async () => (await fetch(`${h.metricsUrl}/metrics`)).text();
    expect(await metrics()).toMatch(/ir_slack_messages_not_shown\{kind="card"\} 1/);
    expect(await metrics()).toMatch(/ir_slack_messages_not_shown\{kind="request-status"\} 0/);
    h.slack.setOptions({});
    await waitFor(() => h.slack.channelMessages('C01ALERTS')[0], 'the card, on the render\'s next attempt', 15_000);
    await waitFor(async () => /ir_slack_messages_not_shown\{kind="card"\} 0/.test(await metrics()), 'the gauge back to 0');
  }, 20_000);
});

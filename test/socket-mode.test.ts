import { SlackSocketServer } from './support/slack-socket-server';
import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { blockActionBody, slashCommandBody } from './support/slack-signing';
import { buttonIn, textOf, threadReplies } from './support/slack-user';
import type { SlackMessage } from './support/slack-api-server';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const SOCKET_ENV = { SLACK_MODE: 'socket', SLACK_APP_TOKEN: 'xapp-1-A0TEST-1-test', SLACK_SIGNING_SECRET: undefined };

/** A button click as Slack delivers it in Socket Mode: the same payload as over HTTP, inside an envelope. */
function clickOverSocket(socket: SlackSocketServer, h: Harness, msg: SlackMessage, actionId: string, userId: string) {
  const button = buttonIn(msg, actionId);
  if (!button) throw new Error(`no ${actionId} button on message ${msg.ts}`);
  const body = blockActionBody(
    { type: 'button', action_id: actionId, value: button.value, text: { type: 'plain_text', text: button.text.text } },
    { userId, channelId: msg.channel, messageTs: msg.ts, threadTs: msg.thread_ts, responseUrl: `${h.slack.baseUrl}/respond/${actionId}` },
  );
  return socket.deliver('interactive', JSON.parse(new URLSearchParams(body).get('payload')!) as Record<string, unknown>);
}

describe('Socket Mode against a local stand-in of Slack\'s socket endpoint', () => {
  let h: Harness | undefined;
  let aws: FakeAws | undefined;
  const socket = new SlackSocketServer();
  beforeAll(() => socket.start());
  afterAll(() => socket.stop());
  tearDownAfterEach(() => ({ h, aws }));

  test('connects with the app-level token and clicks through a card: Isolate → Approve → verified result', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { asg: 'web-asg' });
    const connectionsBefore = socket.connections;
    h = await startHarness({
      env: SOCKET_ENV,
      slackOptions: { socketModeUrl: socket.url },
      file: { access: { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: ['isolate'] }, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 } },
    });
    expect(socket.connections).toBe(connectionsBefore + 1);
    const open = h.slack.callsOf('apps.connections.open');
    expect(open).toHaveLength(1);

    expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
    const card = await waitFor(() => h!.slack.channelMessages('C02CRIT')[0], 'the alert card');

    const ack = await clickOverSocket(socket, h, card, 'ir_isolate', 'U01ANA');
    expect(typeof ack.envelope_id).toBe('string');
    const approval = await waitFor(() => threadReplies(h!, 'C02CRIT', card.ts).find((m) => textOf(m).includes('ir_approve')), 'the approval card');
    expect(textOf(approval)).toContain('awaiting approval');

    await clickOverSocket(socket, h, approval, 'ir_approve', 'U02LEAD');
    const done = await waitFor(() => threadReplies(h!, 'C02CRIT', card.ts).find((m) => textOf(m).includes('Verified end state')), 'the verified result');
    expect(textOf(done)).toContain(':white_check_mark: done');
    expect(textOf(done)).toContain('approved by <@U02LEAD>');
    expect(aws.calls.some((c) => c.api === 'ModifyNetworkInterfaceAttribute')).toBe(true);
  }, 60_000);

  test('a slash command arrives over the socket and is answered', async () => {
    h = await startHarness({ env: SOCKET_ENV, slackOptions: { socketModeUrl: socket.url }, worker: false });
    const fields = Object.fromEntries(new URLSearchParams(slashCommandBody('help', { userId: 'U01ANA', channelId: 'C01ALERTS', responseUrl: `${h.slack.baseUrl}/respond/cmd` })));
    const ack = await socket.deliver('slash_commands', fields);
    expect(JSON.stringify(ack.payload)).toContain('/ir help');
  });

  test('an app-level token Slack refuses stops start-up in one line naming SLACK_APP_TOKEN', async () => {
    // The stand-in refuses apps.connections.open when it has no socket to hand out, as Slack does a revoked token.
    await expect(startHarness({ env: { ...SOCKET_ENV, SLACK_APP_TOKEN: 'xapp-1-A0TEST-1-revoked' }, slackOptions: {}, worker: false })).rejects.toThrow(
      "ir-bot cannot start: Slack refused SLACK_APP_TOKEN (apps.connections.open: invalid_auth); generate an app-level token (xapp-…) with connections:write under your app's Basic Information",
    );
  });
});

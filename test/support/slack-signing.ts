import { createHmac } from 'node:crypto';

/** Signs a request body exactly as Slack does (v0 scheme, HMAC-SHA256 over `v0:ts:body`). */
export function slackSignature(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const sig = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': `v0=${sig}` };
}

/** A slash command as Slack posts it (form-encoded). */
export function slashCommandBody(text: string, opts: { userId?: string; channelId?: string; responseUrl: string }): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0EXAMPLE',
    team_domain: 'example',
    channel_id: opts.channelId ?? 'C01ALERTS',
    channel_name: 'alerts',
    user_id: opts.userId ?? 'U01ANA',
    user_name: 'analyst',
    command: '/ir',
    text,
    api_app_id: 'A0IRBOT',
    response_url: opts.responseUrl,
    trigger_id: '1234.5678.abcdef',
  }).toString();
}

/** What every interaction payload carries about who sent it from where. */
/** `userTeamId`: the clicker's own workspace, which differs from the channel's in a Slack Connect channel. */
function interaction(type: string, userId = 'U01ANA', userTeamId = 'T0EXAMPLE') {
  return {
    type,
    team: { id: 'T0EXAMPLE', domain: 'example' },
    user: { id: userId, username: 'analyst', team_id: userTeamId },
    api_app_id: 'A0IRBOT',
    token: 'deprecated-verification-token',
    trigger_id: '1234.5678.abcdef',
  };
}

/** A block_actions interaction as Slack posts it: form field `payload` holding JSON. */
export function blockActionBody(
  action: Record<string, unknown>,
  opts: { userId?: string; userTeamId?: string; channelId?: string; messageTs?: string; threadTs?: string; responseUrl: string },
): string {
  const payload = {
    ...interaction('block_actions', opts.userId, opts.userTeamId),
    container: { type: 'message', message_ts: opts.messageTs ?? '1700000000.000100', channel_id: opts.channelId ?? 'C01ALERTS', is_ephemeral: false, thread_ts: opts.threadTs },
    channel: { id: opts.channelId ?? 'C01ALERTS', name: 'alerts' },
    // A message inside a thread carries its parent's ts, as Slack sends it.
    message: { type: 'message', ts: opts.messageTs ?? '1700000000.000100', thread_ts: opts.threadTs, text: 'card' },
    response_url: opts.responseUrl,
    actions: [{ block_id: 'b1', action_ts: String(Date.now() / 1000), ...action }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** A modal submitted by a user, as Slack posts it: the view with the values the user left in it. */
export function viewSubmissionBody(view: { callback_id: string; private_metadata?: string }, values: Record<string, Record<string, unknown>>, opts: { userId?: string } = {}): string {
  const payload = {
    ...interaction('view_submission', opts.userId),
    view: {
      id: 'V0HUNT',
      type: 'modal',
      callback_id: view.callback_id,
      private_metadata: view.private_metadata ?? '',
      state: { values },
      hash: '1',
      team_id: 'T0EXAMPLE',
      app_id: 'A0IRBOT',
    },
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

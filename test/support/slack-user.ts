import type { Harness } from './harness';
import { SIGNING_SECRET, waitFor } from './harness';
import type { SlackMessage } from './slack-api-server';
import { blockActionBody, slackSignature, slashCommandBody } from './slack-signing';

/** Sends a signed request into the bot the way Slack does; returns status, body and time to answer. */
export async function sendToBot(h: Harness, body: string): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${h.baseUrl}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SIGNING_SECRET, body) },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - started };
}

export function buttonIn(msg: SlackMessage, actionId: string): { action_id: string; value: string; text: { text: string } } | undefined {
  for (const b of msg.blocks as any[]) {
    if (b.type !== 'actions') continue;
    const el = b.elements.find((e: any) => e.action_id === actionId);
    if (el) return el;
  }
  return undefined;
}

/** A person clicking a button on a message they can see. */
export async function click(h: Harness, msg: SlackMessage, actionId: string, userId: string, userTeamId?: string): Promise<{ status: number; ms: number }> {
  const button = buttonIn(msg, actionId);
  if (!button) throw new Error(`no ${actionId} button on message ${msg.ts}`);
  const body = blockActionBody(
    { type: 'button', action_id: actionId, value: button.value, text: { type: 'plain_text', text: button.text.text } },
    { userId, userTeamId, channelId: msg.channel, messageTs: msg.ts, threadTs: msg.thread_ts, responseUrl: `${h.slack.baseUrl}/respond/${actionId}` },
  );
  return sendToBot(h, body);
}

/** `/ir …` typed by a user; returns the acknowledgement body (if any). */
export async function slash(h: Harness, text: string, userId = 'U01ANA', channelId = 'C01ALERTS'): Promise<{ status: number; ack: any; ms: number }> {
  const res = await sendToBot(h, slashCommandBody(text, { userId, channelId, responseUrl: `${h.slack.baseUrl}/respond/cmd-${userId}` }));
  return { status: res.status, ack: res.text ? JSON.parse(res.text) : undefined, ms: res.ms };
}

/** The next response_url answer for this user's commands. */
export async function nextResponse(h: Harness, userId: string, after: number): Promise<string> {
  const r = await waitFor(() => h.slack.responses.slice(after).find((x) => x.path === `/respond/cmd-${userId}`), `a /ir answer for ${userId}`);
  return String(r.body.text);
}

export function ephemeralsFor(h: Harness, userId: string): string[] {
  return h.slack.callsOf('chat.postEphemeral').filter((c) => c.args.user === userId).map((c) => String(c.args.text));
}

export function threadReplies(h: Harness, channel: string, threadTs: string): SlackMessage[] {
  return [...h.slack.messages.values()].filter((m) => m.channel === channel && m.thread_ts === threadTs && !m.files);
}

export function textOf(msg: SlackMessage): string {
  return JSON.stringify(msg.blocks);
}

import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';

/** The metadata event type on every message the bot posts; its payload names the message. */
export const MESSAGE_EVENT_TYPE = 'ir_bot_message';

const KEEP_MS = 24 * 3600 * 1000;
/** Look back this much before the first attempt: clocks differ between us and Slack. */
const SKEW_MS = 60_000;

/**
 * chat.postMessage takes no idempotency key: when a post's answer is lost (a timeout, a reset
 * connection, a crash before the ts is recorded), a retry would post the message twice. So each
 * first post is marked here before it is sent, and carries its key as message metadata; a retry
 * that finds the mark looks for the key in the channel (or thread) and adopts the message it finds.
 */
export class PostLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private k(key: string): string {
    return `${this.prefix}:posting:${key}`;
  }

  /** When the first attempt not yet confirmed began, if there is one. */
  async attemptedAt(key: string): Promise<number | undefined> {
    const at = await this.redis.get(this.k(key));
    return at ? Number(at) : undefined;
  }

  /** Right before sending: keeps the first attempt's time. */
  async begin(key: string, now = Date.now()): Promise<void> {
    await this.redis.set(this.k(key), String(now), 'PX', KEEP_MS, 'NX');
  }

  /** The post is recorded: later renders update it. */
  async done(key: string): Promise<void> {
    await this.redis.del(this.k(key));
  }
}

export function messageMetadata(key: string) {
  return { event_type: MESSAGE_EVENT_TYPE, event_payload: { key } };
}

/**
 * The ts of the message with this key posted since `sinceMs`, if Slack shows one. Reading needs
 * the history scopes (and, in a public channel, membership); without them this finds nothing and
 * the caller posts again: a possible duplicate, never a lost message.
 */
export async function findPosted(slack: WebClient, where: { channel: string; threadTs?: string }, key: string, sinceMs: number): Promise<string | undefined> {
  const oldest = ((sinceMs - SKEW_MS) / 1000).toFixed(6);
  const res = where.threadTs
    ? await slack.conversations.replies({ channel: where.channel, ts: where.threadTs, oldest, include_all_metadata: true, limit: 200 })
    : await slack.conversations.history({ channel: where.channel, oldest, include_all_metadata: true, limit: 200 });
  const found = (res.messages ?? []).find((m) => m.metadata?.event_type === MESSAGE_EVENT_TYPE && (m.metadata.event_payload as { key?: string } | undefined)?.key === key);
  return found?.ts;
}

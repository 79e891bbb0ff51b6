import { ErrorCode, type WebClient } from '@slack/web-api';
import type { KnownBlock } from '@slack/types';
import type { Job } from 'bullmq';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { SlackRateLimiter } from '../slack/rate-limit';
import { retryLater } from './delay';
import { verbatimBlocks } from '../views/mrkdwn';
import { findPosted, messageMetadata, type PostLedger } from '../slack/post-ledger';

export interface PublishDeps {
  slack: WebClient;
  limiter: SlackRateLimiter;
  posts: PostLedger;
  metrics: Metrics;
  log: Logger;
}

export interface Message {
  /** Names the message for good (`card:<id>`, `req:<id>`…): a retried first post finds it by this. */
  key: string;
  channel: string;
  /** Set once posted: later renders update it in place. */
  ts?: string;
  threadTs?: string;
  /** A thread reply also shown in the channel (`reply_broadcast`): it notifies like a new message. */
  broadcast?: boolean;
  text: string;
  blocks: KnownBlock[];
}

/** chat.postMessage errors no retry can fix in that channel (the bot is not in it, it is archived or gone…). */
const CHANNEL_REFUSED = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'restricted_action', 'restricted_action_read_only_channel', 'restricted_action_non_threadable_channel', 'restricted_action_thread_only_channel', 'team_access_not_granted']);

/** Slack's error when it refused a post because of the channel itself; undefined otherwise. */
export function channelRefusal(err: unknown): string | undefined {
  const error = (err as { data?: { error?: string } }).data?.error;
  return error && CHANNEL_REFUSED.has(error) ? error : undefined;
}

function slackErrorName(err: unknown): string {
  const e = err as { code?: string; data?: { error?: string } };
  return e.data?.error ?? e.code ?? 'unknown';
}

/**
 * Posts a message the first time and updates it afterwards, within Slack's limits shared in Redis.
 * A 429 or a wait for the limiter hands the job back to Redis as a delayed job; a message someone
 * deleted is posted again rather than lost; a first post whose answer was lost is found in Slack
 * and updated rather than posted twice.
 */
export async function publish(
  deps: PublishDeps,
  job: Job,
  token: string | undefined,
  msg: Message,
  hooks: { posted(ts: string): Promise<void>; updated(): Promise<void>; deleted(): Promise<void> },
): Promise<'posted' | 'updated'> {
  let ts = msg.ts;
  let adopted = false;
  if (!ts) {
    const earlier = await deps.posts.attemptedAt(msg.key);
    if (earlier !== undefined) {
      ts = await findPosted(deps.slack, msg, msg.key, earlier).catch((err: unknown) => {
        // Only a refusal (no history scope, not in the channel) will never change: then post. A
        // look that got no answer (cut, timed out, rate-limited) is tried again later instead, or
        // the post whose answer was lost would show twice.
        if ((err as { code?: string }).code !== ErrorCode.PlatformError) throw err;
        deps.log.warn({ error: slackErrorName(err) }, 'cannot look for an earlier attempt of this post in Slack; posting it (it may show twice)');
        return undefined;
      });
      adopted = !!ts;
      if (adopted) deps.log.warn({ ts }, 'an earlier attempt had posted this message; updating it instead of posting again');
    }
  }
  const method = ts ? 'chat.update' : 'chat.postMessage';
  const wait = ts ? await deps.limiter.reserveUpdate() : await deps.limiter.reservePost(msg.channel);
  if (wait > 0) return retryLater(job, token, wait);
  try {
    if (ts) {
      await deps.slack.chat.update({ channel: msg.channel, ts, text: msg.text, blocks: verbatimBlocks(msg.blocks) });
      if (adopted) {
        await hooks.posted(ts);
        await deps.posts.done(msg.key);
      } else {
        await hooks.updated();
      }
    } else {
      await deps.posts.begin(msg.key);
      const thread = msg.threadTs && msg.broadcast ? { thread_ts: msg.threadTs, reply_broadcast: true } : { thread_ts: msg.threadTs };
      const res = await deps.slack.chat.postMessage({
        channel: msg.channel,
        ...thread,
        text: msg.text,
        blocks: verbatimBlocks(msg.blocks),
        metadata: messageMetadata(msg.key),
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!res.ts) throw new Error('chat.postMessage returned no ts');
      await hooks.posted(res.ts);
      await deps.posts.done(msg.key);
    }
    deps.metrics.cardMessages.inc({ method });
    return ts && !adopted ? 'updated' : 'posted';
  } catch (err) {
    const name = slackErrorName(err);
    deps.metrics.slackErrors.inc({ method, error: name });
    // Slack answered and refused: nothing was posted, so a retry needs no look for an earlier post.
    // (No answer at all, a timeout or a cut connection, leaves the mark: the post may have happened.)
    const code = (err as { code?: string }).code;
    if (!ts && (code === ErrorCode.PlatformError || code === ErrorCode.RateLimitedError)) await deps.posts.done(msg.key);
    if ((err as { code?: string }).code === ErrorCode.RateLimitedError) {
      const retryAfterMs = ((err as { retryAfter?: number }).retryAfter ?? 1) * 1000;
      await deps.limiter.backOff(ts ? 'update' : { channel: msg.channel }, retryAfterMs);
      deps.log.info({ method, retryAfterMs }, 'slack rate-limited; message re-scheduled');
      return retryLater(job, token, retryAfterMs);
    }
    if (name === 'message_not_found' && ts) {
      if (adopted) await deps.posts.done(msg.key);
      else await hooks.deleted();
      deps.log.warn('message was deleted in Slack; posting it again');
      return retryLater(job, token, 0);
    }
    deps.log.error({ method, error: name, attempt: job.attemptsMade + 1 }, 'slack call failed; will retry');
    throw err;
  }
}

import { ErrorCode, type WebClient } from '@slack/web-api';
import type { KnownBlock } from '@slack/types';
import type { Job } from 'bullmq';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { SlackRateLimiter } from '../slack/rate-limit';
import { retryLater } from './delay';

export interface PublishDeps {
  slack: WebClient;
  limiter: SlackRateLimiter;
  metrics: Metrics;
  log: Logger;
}

export interface Message {
  channel: string;
  /** Set once posted: later renders update it in place. */
  ts?: string;
  threadTs?: string;
  text: string;
  blocks: KnownBlock[];
}

function slackErrorName(err: unknown): string {
  const e = err as { code?: string; data?: { error?: string } };
  return e.data?.error ?? e.code ?? 'unknown';
}

/**
 * Posts a message the first time and updates it afterwards, within Slack's limits shared in Redis.
 * A 429 or a wait for the limiter hands the job back to Redis as a delayed job; a message someone
 * deleted is posted again rather than lost.
 */
export async function publish(
  deps: PublishDeps,
  job: Job,
  token: string | undefined,
  msg: Message,
  hooks: { posted(ts: string): Promise<void>; updated(): Promise<void>; deleted(): Promise<void> },
): Promise<'posted' | 'updated'> {
  const method = msg.ts ? 'chat.update' : 'chat.postMessage';
  const wait = msg.ts ? await deps.limiter.reserveUpdate() : await deps.limiter.reservePost(msg.channel);
  if (wait > 0) return retryLater(job, token, wait);
  try {
    if (msg.ts) {
      await deps.slack.chat.update({ channel: msg.channel, ts: msg.ts, text: msg.text, blocks: msg.blocks });
      await hooks.updated();
    } else {
      const res = await deps.slack.chat.postMessage({
        channel: msg.channel,
        thread_ts: msg.threadTs,
        text: msg.text,
        blocks: msg.blocks,
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!res.ts) throw new Error('chat.postMessage returned no ts');
      await hooks.posted(res.ts);
    }
    deps.metrics.cardMessages.inc({ method });
    return msg.ts ? 'updated' : 'posted';
  } catch (err) {
    const name = slackErrorName(err);
    deps.metrics.slackErrors.inc({ method, error: name });
    if ((err as { code?: string }).code === ErrorCode.RateLimitedError) {
      const retryAfterMs = ((err as { retryAfter?: number }).retryAfter ?? 1) * 1000;
      await deps.limiter.backOff(msg.ts ? 'update' : { channel: msg.channel }, retryAfterMs);
      deps.log.info({ method, retryAfterMs }, 'slack rate-limited; message re-scheduled');
      return retryLater(job, token, retryAfterMs);
    }
    if (name === 'message_not_found' && msg.ts) {
      await hooks.deleted();
      deps.log.warn('message was deleted in Slack; posting it again');
      return retryLater(job, token, 0);
    }
    deps.log.error({ method, error: name, attempt: job.attemptsMade + 1 }, 'slack call failed; will retry');
    throw err;
  }
}

import { ErrorCode, type WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import { renderCard } from '../bot/views/card';
import type { CardStore } from '../cards/store';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { SlackRateLimiter } from '../slack/rate-limit';
import { retryLater } from './delay';
import type { CardJob } from './queues';

export interface RenderDeps {
  config: Pick<Config, 'storm'>;
  store: CardStore;
  slack: WebClient;
  limiter: SlackRateLimiter;
  metrics: Metrics;
  log: Logger;
}

function slackErrorName(err: unknown): string {
  const e = err as { code?: string; data?: { error?: string } };
  return e.data?.error ?? e.code ?? 'unknown';
}

/** Posts a card the first time, then keeps it current with chat.update, within Slack's limits. */
export function renderCardProcessor(deps: RenderDeps) {
  const { store, slack, limiter, metrics } = deps;
  return async (job: Job<CardJob>, token?: string) => {
    const state = await store.loadCard(job.data.cardId);
    if (!state || state.findings.length === 0) return 'gone';
    if (state.ts && state.version <= state.renderedVersion) return 'unchanged';
    const view = renderCard(state.findings, { storm: state.storm, listLimit: deps.config.storm.listLimit });
    const method = state.ts ? 'chat.update' : 'chat.postMessage';
    const log = deps.log.child({ cardId: state.cardId, channel: state.channel, thread_ts: state.ts, jobId: job.id });

    const wait = state.ts ? await limiter.reserveUpdate() : await limiter.reservePost(state.channel);
    if (wait > 0) return retryLater(job, token, wait);
    try {
      if (state.ts) {
        await slack.chat.update({ channel: state.channel, ts: state.ts, text: view.text, blocks: view.blocks });
        await store.markRendered(state.cardId, state.version);
      } else {
        const res = await slack.chat.postMessage({
          channel: state.channel,
          text: view.text,
          blocks: view.blocks,
          unfurl_links: false,
          unfurl_media: false,
        });
        if (!res.ts) throw new Error('chat.postMessage returned no ts');
        await store.markPosted(state.cardId, res.ts, state.version);
      }
      metrics.cardMessages.inc({ method });
      return state.ts ? 'updated' : 'posted';
    } catch (err) {
      const name = slackErrorName(err);
      metrics.slackErrors.inc({ method, error: name });
      if ((err as { code?: string }).code === ErrorCode.RateLimitedError) {
        const retryAfterMs = ((err as { retryAfter?: number }).retryAfter ?? 1) * 1000;
        await limiter.backOff(state.ts ? 'update' : { channel: state.channel }, retryAfterMs);
        log.info({ method, retryAfterMs }, 'slack rate-limited; card re-scheduled');
        return retryLater(job, token, retryAfterMs);
      }
      if (name === 'message_not_found' && state.ts) {
        // Someone deleted the card; post it again rather than lose the alert.
        await store.forgetMessage(state.cardId);
        log.warn('card message was deleted in Slack; posting it again');
        return retryLater(job, token, 0);
      }
      log.error({ method, error: name, attempt: job.attemptsMade + 1 }, 'slack call failed; will retry');
      throw err;
    }
  };
}

import type { Queue } from 'bullmq';
import type { CardStore } from '../cards/store';
import type { Logger } from '../log';
import type { Pipeline } from '../requests/pipeline';
import type { RequestStore } from '../requests/store';
import { enqueueRender } from './intake';
import type { CardJob } from '../queues';

export const SWEEP_JOB = 'sweep';

/**
 * Re-queues the render of every card and request status message Slack has not shown at its
 * latest version for two sweep intervals: after a Slack outage longer than a render's retries, or
 * a render lost with Redis, the alert and the truth about each response still reach the channel.
 * One whose render is merely waiting (rate limits, coalescing) is unaffected: renders are
 * deduplicated per card and per request.
 */
export function sweepProcessor(deps: { cards: CardStore; cardQueue: Queue<CardJob>; requests: RequestStore; pipeline: Pipeline; intervalMs: number; log: Logger }) {
  return async (): Promise<{ cards: number; requests: number }> => {
    const before = Date.now() - 2 * deps.intervalMs;
    const cards = await deps.cards.unsettled(before, 500);
    for (const cardId of cards) await enqueueRender(deps.cardQueue, cardId, 0);
    const requests = await deps.requests.unsettled(before, 500);
    for (const id of requests) await deps.pipeline.render(id);
    if (cards.length + requests.length > 0) deps.log.warn({ cards: cards.length, requests: requests.length }, 'messages not yet shown in Slack at their latest version: renders queued again');
    return { cards: cards.length, requests: requests.length };
  };
}

import type { Queue } from 'bullmq';
import type { CardStore } from '../cards/store';
import type { Logger } from '../log';
import { enqueueRender } from './intake';
import type { CardJob } from './queues';

export const SWEEP_JOB = 'sweep';

/**
 * Re-queues the render of every card Slack has not shown at its latest version for two sweep
 * intervals: after a Slack outage longer than a render's retries, or a render lost with Redis,
 * the card still reaches the channel. A card whose render is merely waiting (rate limits,
 * coalescing) is unaffected: renders are deduplicated per card.
 */
export function sweepCardsProcessor(deps: { store: CardStore; cards: Queue<CardJob>; intervalMs: number; log: Logger }) {
  return async (): Promise<number> => {
    const due = await deps.store.unsettled(Date.now() - 2 * deps.intervalMs, 500);
    for (const cardId of due) await enqueueRender(deps.cards, cardId, 0);
    if (due.length > 0) deps.log.warn({ cards: due.length }, 'cards not yet shown at their latest version: renders queued again');
    return due.length;
  };
}

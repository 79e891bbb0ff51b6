import type { Job, Queue } from 'bullmq';
import type { Config } from '../config/load';
import type { Finding } from '../findings/model';
import type { CardStore } from '../cards/store';
import { routeFinding } from '../findings/route';
import { withReopening } from '../findings/lifecycle';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { CARD_JOB_OPTIONS, type CardJob, type FindingJob } from '../queues';

export interface IntakeDeps {
  config: Pick<Config, 'channels' | 'storm' | 'slack' | 'retentionDays'>;
  store: CardStore;
  cards: Queue<CardJob>;
  metrics: Metrics;
  log: Logger;
  /** After the finding is stored (each version, re-deliveries included): queues the policy's decision. */
  afterStored?: (f: Finding) => Promise<void>;
}

/**
 * Renders are keyed by card: while one is waiting, more updates fold into it; while one is
 * running, the newest request waits behind it (never two renders of a card at once).
 */
export async function enqueueRender(cards: Queue<CardJob>, cardId: string, delay: number): Promise<void> {
  await cards.add('render', { cardId }, { ...CARD_JOB_OPTIONS, delay, deduplication: { id: `card-${cardId}`, keepLastIfActive: true } });
}

/**
 * finding → stored, deduplicated, grouped onto a card, render queued. Safe to run twice: the
 * same version again changes nothing, and the render is queued again in case the first attempt
 * stopped between the two steps.
 */
export function intakeFinding(deps: IntakeDeps) {
  const { config, store, cards, metrics } = deps;
  const grouping = {
    windowMs: config.storm.windowSeconds * 1000,
    maxCardsPerWindow: config.storm.maxCardsPerWindow,
    retentionSeconds: config.retentionDays * 86400,
  };
  return async (incoming: Finding) => {
    // An active version after a closed one reopens the card, and the card says so.
    const f = incoming.closed ? incoming : withReopening(incoming, await store.lifecycleOf(incoming.key));
    const route = routeFinding(f, config.channels);
    const a = await store.assign(f, route.channel, grouping);
    if (a.status === 'new') metrics.findingsPosted.inc();
    else metrics.findingsDeduplicated.inc();
    // Most findings of a storm join a card whose render is already queued: no second queue entry.
    // An exact re-delivery always queues one: it is how a sender retries after we failed between
    // storing the finding and queueing its render.
    if (a.renderNeeded || a.status === 'duplicate') await enqueueRender(cards, a.cardId, a.cardCreated ? 0 : config.slack.coalesceMs);
    await deps.afterStored?.(f);
    deps.log.debug({ findingKey: f.key, findingId: f.id, channel: route.channel, cardId: a.cardId, status: a.status }, 'finding grouped');
    return { cardId: a.cardId, status: a.status, channel: route.channel };
  };
}

/** Findings that came through the queue (the Security Hub poller's pages). */
export function findingProcessor(deps: IntakeDeps) {
  const intake = intakeFinding(deps);
  return (job: Job<FindingJob>) => intake(job.data.finding);
}

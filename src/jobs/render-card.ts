import type { Job, Queue } from 'bullmq';
import { groupByResource, renderCard } from '../views/card';
import type { CardState, CardStore } from '../cards/store';
import type { Config } from '../config/load';
import { retryLater } from './delay';
import { channelRefusal, publish, type PublishDeps } from './publish';
import { listingJobOptions, type CardJob, type StoryJob, type TaskJob } from '../queues';
import { createHash } from 'node:crypto';
import { incidentOf } from '../cards/incident';
import { atLeast, escalationOf, summarize, type Announced } from '../cards/escalation';
import type { RequestStore } from '../requests/store';
import { requestsFor } from './tasks';

export interface RenderDeps extends PublishDeps {
  config: Pick<Config, 'storm' | 'channels' | 'access' | 'cards'>;
  store: CardStore;
  /** The requests about a card's findings: the card shows what was done and what waits. */
  requests?: RequestStore;
  /** Called each time Slack shows a new version of a card (to queue its stories and its full list). */
  onShown?: (state: CardState) => Promise<void>;
}

/** Posts a card the first time, then keeps it current with chat.update, within Slack's limits. */
export function renderCardProcessor(deps: RenderDeps) {
  const { store } = deps;
  return async (job: Job<CardJob>, token?: string) => {
    await store.renderStarted(job.data.cardId);
    const state = await store.loadCard(job.data.cardId);
    if (!state || state.findings.length === 0) {
      await store.dropUnsettled(job.data.cardId);
      return 'gone';
    }
    if (state.ts && state.version <= state.renderedVersion) {
      await store.checkSettled(state.cardId);
      return 'unchanged';
    }
    const requests = deps.requests ? await requestsFor(deps.requests, state.findings) : [];
    const incident = incidentOf(state.findings, requests, state.marks, deps.config.access);
    const view = renderCard(state.findings, { storm: state.storm, listLimit: deps.config.storm.listLimit, rerouted: state.rerouted, incident, criticalTags: deps.config.cards.criticalTags, launches: state.launches });
    const log = deps.log.child({ cardId: state.cardId, channel: state.channel, thread_ts: state.ts, jobId: job.id });
    const fallback = deps.config.channels.default;
    // A card the routed channel refuses goes to the default channel, saying so, rather than waiting out every retry unseen.
    const reroute = async (err: unknown) => {
      const error = channelRefusal(err);
      if (state.ts || !error || state.channel === fallback) throw err;
      log.error({ error, fallback }, 'the routed channel refused the card; posting it in the default channel');
      await store.reroute(state.cardId, fallback, error);
      return retryLater(job, token, 0);
    };
    return publish({ ...deps, log }, job, token, { key: `card:${state.cardId}`, channel: state.channel, ts: state.ts, text: view.text, blocks: view.blocks }, {
      posted: async (ts) => {
        await store.markPosted(state.cardId, ts, state.version);
        await deps.onShown?.({ ...state, ts });
      },
      updated: async () => {
        await store.markRendered(state.cardId, state.version);
        await deps.onShown?.(state);
      },
      // Someone deleted the card; post it again rather than lose the alert.
      deleted: () => store.forgetMessage(state.cardId),
    }).catch(reroute);
  };
}

/**
 * What follows a card Slack now shows: the story of every instance on it (one job per card that
 * tells only the instances not told yet), and for a roll-up with hidden rows the full list once
 * the storm around it quiets.
 */
export async function afterCardShown(state: CardState, q: { config: Pick<Config, 'story' | 'storm' | 'cards'>; stories: Queue<StoryJob>; tasks: Queue<TaskJob>; store?: CardStore }): Promise<void> {
  if (q.store) await announceEscalation(state, { config: q.config, tasks: q.tasks, store: q.store });
  if (q.config.story.enabled && state.findings.some((f) => f.instance)) {
    await q.stories.add(
      'story',
      { cardId: state.cardId },
      { deduplication: { id: `story-${state.cardId}`, keepLastIfActive: true }, attempts: 5, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } },
    );
  }
  if (state.findings.length > 1 && groupByResource(state.findings).length > q.config.storm.listLimit) {
    await q.tasks.add('listing', { kind: 'listing', findingKey: state.findings[0].key }, listingJobOptions(state.cardId, q.config.storm.listQuietSeconds * 1000));
  }
}

/**
 * A card Slack shows with more than it last announced (a higher severity, a new type, an attack
 * sequence) gets a new message in its thread, broadcast to the channel: an edit notifies nobody.
 * The first version of a card is its own announcement. The job is queued before the summary is
 * kept (its id is the summary's), so a crash in between repeats nothing and loses nothing.
 */
async function announceEscalation(state: CardState, q: { config: Pick<Config, 'cards'>; tasks: Queue<TaskJob>; store: CardStore }): Promise<void> {
  const next = summarize(state.findings);
  const raw = await q.store.announced(state.cardId);
  const prev = raw ? (JSON.parse(raw) as Announced) : undefined;
  const esc = prev && q.config.cards.escalation.enabled ? escalationOf(prev, next, state.findings) : undefined;
  const summary = JSON.stringify(next);
  if (raw === summary) return;
  if (esc) {
    const id = createHash('sha256').update(summary).digest('hex').slice(0, 16);
    const { mentionGroup, mentionMinSeverity } = q.config.cards.escalation;
    await q.tasks.add(
      'escalation',
      { kind: 'escalation', findingKey: state.findings[0].key, cardId: state.cardId, id, escalation: esc, ...(mentionGroup && atLeast(esc.severity, mentionMinSeverity) ? { mentionGroup } : {}) },
      { jobId: `esc-${state.cardId}-${id}`, attempts: 10, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } },
    );
  }
  await q.store.markAnnounced(state.cardId, summary);
}

import type { Job } from 'bullmq';
import { renderCard } from '../views/card';
import type { CardStore } from '../cards/store';
import type { Config } from '../config/load';
import { retryLater } from './delay';
import { channelRefusal, publish, type PublishDeps } from './publish';
import type { CardJob } from '../queues';

export interface RenderDeps extends PublishDeps {
  config: Pick<Config, 'storm' | 'channels'>;
  store: CardStore;
  /** Called once when a card is first posted (e.g. to queue the instance's story). */
  onPosted?: (cardId: string, findingKeys: string[]) => Promise<void>;
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
    const view = renderCard(state.findings, { storm: state.storm, listLimit: deps.config.storm.listLimit, rerouted: state.rerouted });
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
        await deps.onPosted?.(state.cardId, state.findings.map((f) => f.key));
      },
      updated: () => store.markRendered(state.cardId, state.version),
      // Someone deleted the card; post it again rather than lose the alert.
      deleted: () => store.forgetMessage(state.cardId),
    }).catch(reroute);
  };
}

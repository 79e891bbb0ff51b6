import type { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { InstanceUnavailable } from '../actions/instance';
import { buildStory, type Story } from '../actions/story';
import type { AwsClients } from '../aws/clients';
import { AwsCallError } from '../aws/errors';
import { renderCompactStories, renderStory } from '../views/story';
import type { CardStore, ThreadRef } from '../cards/store';
import type { Config } from '../config/load';
import type { Finding } from '../findings/model';
import { uploadOnce } from '../slack/upload';
import { publish, type PublishDeps } from './publish';
import type { StoryJob } from '../queues';

export interface StoryDeps extends PublishDeps {
  config: Pick<Config, 'story' | 'retentionDays'>;
  cards: CardStore;
  aws: AwsClients;
  redis: Redis;
  prefix: string;
  slack: WebClient;
  /** Each story read: the card gathers what its instances' launches share (launcher, AMI owner). */
  onStory?: (cardId: string, story: Story) => Promise<void>;
}

const NO_HOOKS = { updated: async () => undefined, deleted: async () => undefined };

/**
 * Every instance on a card gets its story in the card's thread, once: one full story each while the
 * card has few instances, compact stories (several per message) past `story.fullStoriesPerCard`,
 * so a storm's hundreds of instances stay within the channel's ~1 post/s. Instances told are kept
 * in a set per card: a re-run (a rate-limit wait, a retry, a later finding) tells only the rest.
 */
export function storyProcessor(deps: StoryDeps) {
  const { story: settings, retentionDays } = deps.config;

  async function read(f: Finding): Promise<{ story?: Story; missing?: string }> {
    const session = await deps.aws.responder({ account: f.accountId, region: f.region }, { requestId: `story-${f.key.slice(0, 12)}`, userId: 'ir-bot' });
    try {
      // Read-only: no mutation token needed.
      return { story: await buildStory(session.responder(), f.instance!.id, settings) };
    } catch (err) {
      const known = err instanceof InstanceUnavailable || (err instanceof AwsCallError && !err.retryable);
      if (!known) throw err;
      return { missing: (err as Error).message.replace(/[<>&]/g, '') };
    } finally {
      session.destroy();
    }
  }

  async function tellFull(job: Job<StoryJob>, token: string | undefined, cardId: string, thread: ThreadRef, f: Finding, told: string): Promise<void> {
    const id = f.instance!.id;
    const { story, missing } = await read(f);
    if (story) await deps.onStory?.(cardId, story);
    const view = story
      ? renderStory(story, f.key)
      : { text: 'No instance story', blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: `:warning: No story for \`${id}\`: ${missing}` } }] };
    const ttl = retentionDays * 86400;
    // Told only once its user-data file is in too: a retry after a failed upload updates the
    // message it already posted and uploads just the file.
    const tsKey = `${deps.prefix}:story:${cardId}:${id}:ts`;
    const postedTs = (await deps.redis.get(tsKey)) ?? undefined;
    await publish(deps, job, token, { key: `story:${cardId}:${id}`, channel: thread.channel, threadTs: thread.ts, ts: postedTs, text: view.text, blocks: view.blocks }, {
      posted: async (ts) => {
        await deps.redis.set(tsKey, ts, 'EX', ttl);
      },
      updated: async () => undefined,
      deleted: async () => {
        await deps.redis.del(tsKey);
      },
    });
    if (settings.uploadUserData && story?.userData && story.userData.lines > settings.attachUserDataOverLines) {
      await uploadOnce(deps, `story:${cardId}:${id}`, { channel: thread.channel, threadTs: thread.ts, content: story.userData.text, filename: `${id}-user-data.txt`, title: `User data of ${id} (decoded)` });
    }
    await deps.redis.multi().sadd(told, id).expire(told, ttl).exec();
  }

  return async (job: Job<StoryJob>, token?: string): Promise<string> => {
    const cardId = job.data.cardId ?? (job.data.findingKey ? await deps.cards.cardOf(job.data.findingKey) : undefined);
    if (!cardId) return 'no card';
    const state = await deps.cards.loadCard(cardId);
    if (!state) return 'card gone';
    if (!state.ts) throw new Error('the card is not posted yet');
    const thread = { channel: state.channel, ts: state.ts };
    // First finding per instance, in the order they joined the card.
    const byInstance = new Map<string, Finding>();
    for (const f of state.findings) if (f.instance && !byInstance.has(f.instance.id)) byInstance.set(f.instance.id, f);
    if (byInstance.size === 0) return 'no instance';
    const told = `${deps.prefix}:story:card:${cardId}`;
    const already = new Set(await deps.redis.smembers(told));
    const pending = [...byInstance.values()].filter((f) => !already.has(f.instance!.id));
    if (pending.length === 0) return 'all told';

    if (byInstance.size <= settings.fullStoriesPerCard) {
      for (const f of pending) await tellFull(job, token, cardId, thread, f, told);
      return `told ${pending.length}`;
    }
    for (let i = 0; i < pending.length; i += settings.compactBatch) {
      const batch = pending.slice(i, i + settings.compactBatch);
      const items = await Promise.all(batch.map(async (f) => ({ instanceId: f.instance!.id, ...(await read(f)) })));
      for (const item of items) if (item.story) await deps.onStory?.(cardId, item.story);
      const view = renderCompactStories(items, { from: already.size + i + 1, total: byInstance.size });
      await publish(deps, job, token, { key: `story:${cardId}:${batch[0].instance!.id}`, channel: thread.channel, threadTs: thread.ts, text: view.text, blocks: view.blocks }, {
        ...NO_HOOKS,
        posted: async () => {
          await deps.redis.multi().sadd(told, ...batch.map((f) => f.instance!.id)).expire(told, retentionDays * 86400).exec();
        },
      });
    }
    return `told ${pending.length} (compact)`;
  };
}

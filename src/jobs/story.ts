import type { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { InstanceUnavailable } from '../actions/instance';
import { buildStory } from '../actions/story';
import type { AwsClients } from '../aws/clients';
import { AwsCallError } from '../aws/errors';
import { renderStory } from '../views/story';
import type { CardStore } from '../cards/store';
import type { Config } from '../config/load';
import { uploadOnce } from '../slack/upload';
import { publish, type PublishDeps } from './publish';

export interface StoryJob {
  findingKey: string;
}

export interface StoryDeps extends PublishDeps {
  config: Pick<Config, 'story' | 'retentionDays'>;
  cards: CardStore;
  aws: AwsClients;
  redis: Redis;
  prefix: string;
  slack: WebClient;
}

/** Posts the instance's story once in the card's thread, and its user data as a file when long. */
export function storyProcessor(deps: StoryDeps) {
  return async (job: Job<StoryJob>, token?: string): Promise<string> => {
    const key = `${deps.prefix}:story:${job.data.findingKey}`;
    if (await deps.redis.exists(key)) return 'already posted';
    const f = await deps.cards.getFinding(job.data.findingKey);
    if (!f?.instance) return 'no instance';
    const thread = await deps.cards.threadOf(f.key);
    if (!thread) throw new Error('the card is not posted yet');
    const session = await deps.aws.responder({ account: f.accountId, region: f.region }, { requestId: `story-${f.key.slice(0, 12)}`, userId: 'ir-bot' });
    let view;
    let userData: string | undefined;
    try {
      // Read-only: no mutation token needed.
      const story = await buildStory(session.responder(), f.instance.id, deps.config.story);
      view = renderStory(story, f.key);
      if (deps.config.story.uploadUserData && story.userData && story.userData.lines > deps.config.story.attachUserDataOverLines) userData = story.userData.text;
    } catch (err) {
      const known = err instanceof InstanceUnavailable || (err instanceof AwsCallError && !err.retryable);
      if (!known) throw err;
      view = { text: 'No instance story', blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: `:warning: No story for this instance: ${(err as Error).message.replace(/[<>&]/g, '')}` } }] };
    } finally {
      session.destroy();
    }
    const ttl = deps.config.retentionDays * 86400;
    // The story is "posted" only once its file is in too: a retry after a failed upload updates
    // the message it already posted and uploads just the file.
    const postedTs = (await deps.redis.get(`${key}:ts`)) ?? undefined;
    await publish(deps, job, token, { key: `story:${f.key}`, channel: thread.channel, threadTs: thread.ts, ts: postedTs, text: view.text, blocks: view.blocks }, {
      posted: async (ts) => {
        await deps.redis.set(`${key}:ts`, ts, 'EX', ttl);
      },
      updated: async () => undefined,
      deleted: async () => {
        await deps.redis.del(`${key}:ts`);
      },
    });
    if (userData) {
      await uploadOnce(deps, `story:${f.key}`, { channel: thread.channel, threadTs: thread.ts, content: userData, filename: `${f.instance.id}-user-data.txt`, title: `User data of ${f.instance.id} (decoded)` });
    }
    await deps.redis.set(key, '1', 'EX', ttl);
    return 'posted';
  };
}

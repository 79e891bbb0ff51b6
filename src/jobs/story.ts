import type { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { whyUnchecked } from '../actions/advisory';
import { InstanceUnavailable, vpcTargets, type VpcTargets } from '../actions/instance';
import { buildStory, fillLauncher, type Story, type StoryOptions, type TrailAccess, type TrailLaunch } from '../actions/story';
import type { AwsClients } from '../aws/clients';
import type { Responder } from '../aws/responder';
import { BudgetWait, CloudTrailBudget } from '../aws/cloudtrail-budget';
import { renderCompactStories, renderStory, type CompactStory } from '../views/story';
import type { CardStore, LaunchFacts, ThreadRef } from '../cards/store';
import type { Config } from '../config/load';
import type { Finding } from '../findings/model';
import { uploadOnce } from '../slack/upload';
import { publish, type PublishDeps } from './publish';
import { retryLater } from './delay';
import type { LauncherJob, StoryJob } from '../queues';

/** The part of a story its card shows: the launch (common cause) and production impact (first line). */
export function launchFactsOf(s: Story): LaunchFacts {
  const asgWhy = s.unchecked?.find((u) => u.section === 'Auto Scaling group')?.why;
  const targetsWhy = s.unchecked?.find((u) => u.section === 'target groups')?.why;
  const why = [asgWhy && `Auto Scaling group: ${asgWhy}`, targetsWhy && `target groups: ${targetsWhy}`].filter(Boolean).join('; ');
  return {
    principal: s.launch?.principal,
    accessKeyId: s.launch?.accessKeyId,
    amiId: s.ami.id,
    amiOwnerId: s.ami.ownerId,
    amiOwnerAlias: s.ami.ownerAlias,
    autoScalingGroup: s.production?.autoScalingGroup,
    targetGroups: s.production?.targetGroups.length ? [...new Set(s.production.targetGroups.map((t) => t.name))] : undefined,
    productionUnchecked: why || undefined,
  };
}

/** The stories one job tells read each VPC's target groups once (per account and region), not once per instance. */
type TargetsMemo = Map<string, Promise<VpcTargets>>;

function sharedTargets(memo: TargetsMemo, f: Finding): StoryOptions['vpcTargets'] {
  return (aws, vpcId) => {
    const key = `${f.accountId}|${f.region}|${vpcId ?? ''}`;
    let read = memo.get(key);
    if (!read) {
      read = vpcTargets(aws, vpcId);
      // Each story awaits it within its own bound; one that gave up must not leave it unhandled.
      read.catch(() => undefined);
      memo.set(key, read);
    }
    return read;
  };
}

export interface StoryDeps extends PublishDeps {
  config: Pick<Config, 'story' | 'retentionDays'> & { aws: Pick<Config['aws'], 'cloudTrailLookupsPerSecond'> };
  cards: CardStore;
  aws: AwsClients;
  redis: Redis;
  prefix: string;
  slack: WebClient;
  /** Each story read: the card gathers what its instances' launches share (launcher, AMI owner) and their production impact (`launchFactsOf`). */
  onStory?: (cardId: string, story: Story) => Promise<void>;
  /** Queues the launcher look-up of a posted story message. */
  queueLauncher(data: LauncherJob): Promise<void>;
}

const NO_HOOKS = { updated: async () => undefined, deleted: async () => undefined };

/**
 * A launcher job never waits for CloudTrail's budget in place: it hands itself back to Redis until
 * a call is free, so in a storm the story queue's workers keep posting stories instead of idling.
 */
const BUDGET_PATIENCE_MS = 0;

/** One instance as told: its story, or why there is none. Kept in Redis so a re-render says the same. */
type Told = CompactStory;

/**
 * Every instance on a card gets its story in the card's thread, once: one full story each while the
 * card has few instances, compact stories (several per message) past `story.fullStoriesPerCard`,
 * so a storm's hundreds of instances stay within the channel's ~1 post/s. Instances told are kept
 * in a set per card: a re-run (a rate-limit wait, a retry, a later finding) tells only the rest.
 *
 * A story posts as soon as its EC2 and IAM sections are read; "who launched it" needs CloudTrail,
 * whose 2 lookups/s per account and region a storm exhausts, so it shows "looking up…" and a
 * launcher job fills it in (and updates the message) as the shared budget allows. No section's
 * failure fails the job: it is shown as "could not check: <why>", each reason named once a thread.
 */
export function storyProcessor(deps: StoryDeps) {
  const { story: settings, retentionDays } = deps.config;
  const ttl = retentionDays * 86400;
  const budget = new CloudTrailBudget(deps.redis, deps.prefix, { lookupsPerSecond: deps.config.aws.cloudTrailLookupsPerSecond, cacheMs: settings.lookupCacheSeconds * 1000 });
  const dataKey = (cardId: string, id: string) => `${deps.prefix}:story:data:${cardId}:${id}`;
  const tsKey = (message: string) => `${deps.prefix}:${message}:ts`;

  async function session<T>(account: string, region: string, id: string, fn: (aws: Responder) => Promise<T>): Promise<T> {
    const s = await deps.aws.responder({ account, region }, { requestId: `story-${id}`, userId: 'ir-bot' });
    try {
      // Read-only: no mutation token needed.
      return await fn(s.responder());
    } finally {
      s.destroy();
    }
  }

  /** A reason already named in this thread is not repeated in full (only `sections` are new here). */
  async function nameOnce(cardId: string, told: Told, sections?: string[]): Promise<Told> {
    const named = `${deps.prefix}:story:named:${cardId}`;
    const s = told.story;
    if (!s?.unchecked?.length) return told;
    const unchecked = [];
    for (const u of s.unchecked) {
      const fresh = (sections && !sections.includes(u.section)) || (await deps.redis.sadd(named, u.why)) === 1;
      unchecked.push(fresh ? u : { ...u, why: `same as above (${u.why.split(':')[0]})` });
    }
    await deps.redis.expire(named, ttl);
    return { ...told, story: { ...s, unchecked } };
  }

  async function read(cardId: string, f: Finding, targets: TargetsMemo): Promise<Told> {
    const id = f.instance!.id;
    const kept = await deps.redis.get(dataKey(cardId, id));
    if (kept) return JSON.parse(kept) as Told;
    let told: Told;
    try {
      const story = await session(f.accountId, f.region, f.key.slice(0, 12), (aws) =>
        buildStory(aws, id, settings, { launcher: false, sectionTimeoutMs: settings.sectionTimeoutSeconds * 1000, vpcTargets: sharedTargets(targets, f) }),
      );
      told = await nameOnce(cardId, { instanceId: id, story });
      await deps.onStory?.(cardId, story);
    } catch (err) {
      // The instance itself could not be read: the story says why, and the job does not fail.
      const why = err instanceof InstanceUnavailable ? err.message : `could not check: ${whyUnchecked(err)}`;
      told = { instanceId: id, missing: why.replace(/[<>&]/g, '') };
    }
    await deps.redis.set(dataKey(cardId, id), JSON.stringify(told), 'EX', ttl);
    return told;
  }

  function fullView(told: Told, findingKey: string) {
    return told.story
      ? renderStory(told.story, findingKey)
      : { text: 'No instance story', blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: `:warning: No story for \`${told.instanceId}\`: ${told.missing}` } }] };
  }

  async function tellFull(job: Job<StoryJob>, token: string | undefined, cardId: string, thread: ThreadRef, f: Finding, toldSet: string, targets: TargetsMemo): Promise<void> {
    const id = f.instance!.id;
    const told = await read(cardId, f, targets);
    const view = fullView(told, f.key);
    // Told only once its user-data file is in too: a retry after a failed upload updates the
    // message it already posted and uploads just the file.
    const message = `story:${cardId}:${id}`;
    const postedTs = (await deps.redis.get(tsKey(message))) ?? undefined;
    await publish(deps, job, token, { key: message, channel: thread.channel, threadTs: thread.ts, ts: postedTs, text: view.text, blocks: view.blocks }, {
      posted: async (ts) => {
        await deps.redis.set(tsKey(message), ts, 'EX', ttl);
      },
      updated: async () => undefined,
      deleted: async () => {
        await deps.redis.del(tsKey(message));
      },
    });
    const story = told.story;
    if (settings.uploadUserData && story?.userData && story.userData.lines > settings.attachUserDataOverLines) {
      await uploadOnce(deps, message, { channel: thread.channel, threadTs: thread.ts, content: story.userData.text, filename: `${id}-user-data.txt`, title: `User data of ${id} (decoded)` });
    }
    if (story?.launchPending) await deps.queueLauncher({ cardId, message, instances: [id], findingKey: f.key, account: f.accountId, region: f.region, thread });
    await deps.redis.multi().sadd(toldSet, id).expire(toldSet, ttl).exec();
  }

  async function onStory(job: Job<StoryJob>, token?: string): Promise<string> {
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
    const toldSet = `${deps.prefix}:story:card:${cardId}`;
    const already = new Set(await deps.redis.smembers(toldSet));
    const pending = [...byInstance.values()].filter((f) => !already.has(f.instance!.id));
    if (pending.length === 0) return 'all told';
    const targets: TargetsMemo = new Map();

    if (byInstance.size <= settings.fullStoriesPerCard) {
      for (const f of pending) await tellFull(job, token, cardId, thread, f, toldSet, targets);
      return `told ${pending.length}`;
    }
    for (let i = 0; i < pending.length; i += settings.compactBatch) {
      const batch = pending.slice(i, i + settings.compactBatch);
      const items = await Promise.all(batch.map((f) => read(cardId, f, targets)));
      const part = { from: already.size + i + 1, total: byInstance.size };
      const view = renderCompactStories(items, part);
      const message = `story:${cardId}:${batch[0].instance!.id}`;
      await publish(deps, job, token, { key: message, channel: thread.channel, threadTs: thread.ts, text: view.text, blocks: view.blocks }, {
        ...NO_HOOKS,
        posted: async (ts) => {
          await deps.redis.multi().set(tsKey(message), ts, 'EX', ttl).sadd(toldSet, ...batch.map((f) => f.instance!.id)).expire(toldSet, ttl).exec();
        },
      });
      const waiting = items.filter((t) => t.story?.launchPending).map((t) => t.instanceId);
      if (waiting.length) {
        await deps.queueLauncher({ cardId, message, instances: batch.map((f) => f.instance!.id), part, findingKey: batch[0].key, account: batch[0].accountId, region: batch[0].region, thread });
      }
    }
    return `told ${pending.length} (compact)`;
  }

  /** Fills in "who launched it" for the instances of one posted message, then updates it once. */
  async function onLauncher(job: Job<StoryJob>, d: LauncherJob, token?: string): Promise<string> {
    const trail: TrailAccess = {
      beforeCall: () => budget.acquire(d.account, d.region, BUDGET_PATIENCE_MS),
      callTimeoutMs: settings.sectionTimeoutSeconds * 1000,
      cached: (lookup) => budget.cached<TrailLaunch[]>(d.account, d.region, lookup),
      remember: (lookup, launches) => budget.remember(d.account, d.region, lookup, launches),
    };
    const items: Told[] = [];
    for (const id of d.instances) {
      const kept = await deps.redis.get(dataKey(d.cardId, id));
      if (!kept) return 'story gone';
      let told = JSON.parse(kept) as Told;
      if (told.story?.launchPending) {
        const story = told.story;
        try {
          const filled = await session(d.account, d.region, id, (aws) => fillLauncher(aws, story, settings, trail, (err) => err instanceof BudgetWait));
          told = await nameOnce(d.cardId, { ...told, story: filled }, ['launcher']);
          await deps.onStory?.(d.cardId, filled);
        } catch (err) {
          // Out of budget for now: what is filled in is kept; the job comes back when a call is free.
          if (err instanceof BudgetWait) return retryLater(job, token, err.ms + Math.floor(Math.random() * 200));
          throw err;
        }
        await deps.redis.set(dataKey(d.cardId, id), JSON.stringify(told), 'EX', ttl);
      }
      items.push(told);
    }
    const ts = (await deps.redis.get(tsKey(d.message))) ?? undefined;
    if (!ts) return 'message not posted';
    const view = d.part ? renderCompactStories(items, d.part) : fullView(items[0], d.findingKey);
    await publish(deps, job, token, { key: d.message, channel: d.thread.channel, threadTs: d.thread.ts, ts, text: view.text, blocks: view.blocks }, {
      ...NO_HOOKS,
      posted: async (newTs) => {
        await deps.redis.set(tsKey(d.message), newTs, 'EX', ttl);
      },
      deleted: async () => {
        await deps.redis.del(tsKey(d.message));
      },
    });
    return `launcher of ${items.length}`;
  }

  return async (job: Job<StoryJob>, token?: string): Promise<string> => {
    if (job.data.launcher) return onLauncher(job, job.data.launcher, token);
    return onStory(job, token);
  };
}

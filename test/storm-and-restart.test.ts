import { Queue } from 'bullmq';
import { CardStore } from '../src/cards/store';
import { QUEUE, bullPrefix } from '../src/queues';
import { fixture, startHarness, waitFor, type Harness } from './support/harness';
import { startRedisServer, type RedisServer } from './support/redis-server';

function findingEvent(i: number, type: string, severity = 5): any {
  const e = fixture('guardduty-port-probe');
  const hex = i.toString(16).padStart(8, '0');
  e.detail.id = `${hex}${'a'.repeat(24)}`;
  e.detail.type = type;
  e.detail.severity = severity;
  e.detail.resource.instanceDetails.instanceId = `i-${hex}`;
  e.detail.title = `finding ${i}`;
  return e;
}

function findingsShown(blocks: any[]): number {
  const header = blocks.find((b) => b.type === 'header')?.text.text ?? '';
  const m = header.match(/(\d+) findings/);
  return m ? Number(m[1]) : 1;
}

describe('storms', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  it('rolls a burst into a few cards, keeps every finding, and rides out Slack 429s', async () => {
    h = await startHarness({
      // Slack enforces 1 post/s per channel; the bot is configured faster on purpose so it meets 429s.
      slackOptions: { postIntervalMs: 1000 },
      file: { slack: { postIntervalMs: 100, updatesPerMinute: 600, coalesceMs: 200 }, storm: { maxCardsPerWindow: 3, windowSeconds: 600, listLimit: 10 } },
    });
    const events = [
      ...Array.from({ length: 30 }, (_, i) => findingEvent(i, 'Backdoor:EC2/Spambot')),
      ...Array.from({ length: 12 }, (_, i) => findingEvent(100 + i, `Recon:EC2/Probe${i}`)),
    ];
    const results = await Promise.all(events.map((e) => h.postEvents(e)));
    expect(results.every((r) => r.status === 202)).toBe(true);

    const store = new CardStore(h.redis, h.config.redisPrefix);
    const keys = results.map((r) => r.body.accepted[0].key as string);
    // Every finding ends on a posted card...
    await waitFor(async () => (await Promise.all(keys.map((k) => store.threadOf(k)))).every(Boolean), 'all findings on posted cards', 30_000);
    // ...and the cards, once final, account for all 42 of them.
    await waitFor(
      () => h.slack.channelMessages('C01ALERTS').reduce((n, m) => n + findingsShown(m.blocks as any[]), 0) === 42,
      'cards to show all 42 findings',
      30_000,
    );
    const cards = h.slack.channelMessages('C01ALERTS');
    expect(cards.length).toBeLessThanOrEqual(4);
    expect(h.slack.rateLimited().length).toBeGreaterThan(0);
    // Accepted posts to the channel were never closer than Slack allows.
    const posts = h.slack.callsOf('chat.postMessage').map((c) => c.at);
    for (let i = 1; i < posts.length; i++) expect(posts[i] - posts[i - 1]).toBeGreaterThanOrEqual(1000);
    const storm = cards.find((m) => JSON.stringify(m.blocks).includes('Storm roll-up'));
    expect(storm).toBeDefined();
    // The 30-instance Backdoor burst lists its first 10 rows and counts the rest.
    const big = cards.find((m) => findingsShown(m.blocks as any[]) >= 20);
    expect(JSON.stringify(big!.blocks)).toMatch(/more resources \(\d+ findings\), all recorded/);
  }, 60_000);
});

describe('a Redis restart during intake', () => {
  let h: Harness;
  let redis: RedisServer;
  afterEach(async () => {
    await h?.stop();
    await redis?.stop();
  });

  it('loses nothing that was answered 202', async () => {
    redis = await startRedisServer({ aof: true });
    h = await startHarness({ env: { REDIS_URL: redis.url }, file: { storm: { maxCardsPerWindow: 1000 } } });
    const accepted: string[] = [];
    let unavailable = 0;
    const send = async (i: number) => {
      // Like EventBridge: retry a 5xx until it is accepted.
      for (let attempt = 0; attempt < 200; attempt++) {
        const res = await h.postEvents(findingEvent(i, `Recon:EC2/Restart${i % 7}`)).catch(() => ({ status: 0, body: undefined }));
        if (res.status === 202) {
          accepted.push(res.body.accepted[0].key);
          return;
        }
        expect([0, 503]).toContain(res.status);
        unavailable += 1;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`finding ${i} was never accepted`);
    };
    const first = Promise.all(Array.from({ length: 60 }, (_, i) => send(i)));
    await new Promise((r) => setTimeout(r, 30));
    await redis.kill();
    const during = Promise.all(Array.from({ length: 40 }, (_, i) => send(60 + i)));
    await new Promise((r) => setTimeout(r, 700));
    await redis.start();
    await Promise.all([first, during]);
    expect(accepted).toHaveLength(100);
    expect(unavailable).toBeGreaterThan(0);

    const store = new CardStore(h.redis, h.config.redisPrefix);
    // A render whose completion was cut by the crash is re-run once its lock expires (BullMQ's
    // stalled-job check, ~30 s): allow for that.
    await waitFor(async () => (await Promise.all(accepted.map((k) => store.threadOf(k)))).every(Boolean), 'every accepted finding on a posted card', 75_000);
  }, 100_000);
});

describe('a card whose render job is gone', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  it('still reaches its channel: the sweep queues the render again, once', async () => {
    h = await startHarness({ worker: false, file: { slack: { sweepSeconds: 1 } } });
    expect((await h.postEvents(fixture('guardduty-backdoor-cc'))).status).toBe(202);
    // As after a Slack outage longer than the render's retries, or a Redis failover that lost it.
    const cards = new Queue(QUEUE.cards, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
    await cards.obliterate({ force: true });
    await cards.close();
    await h.addWorker();
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the card', 10_000);
    expect(JSON.stringify(card.blocks)).toContain('Backdoor:EC2/C&CActivity.B');
    // Shown at its latest version: later sweeps leave it alone.
    await new Promise((r) => setTimeout(r, 3000));
    expect(h.slack.callsOf('chat.postMessage')).toHaveLength(1);
    expect(card.updates).toBe(0);
  }, 20_000);
});

import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import { createLogger } from '../src/log';
import { UserNames } from '../src/slack/user-names';
import { SlackApiServer } from './support/slack-api-server';

describe('names beside user ids (users.info, cached in Redis)', () => {
  const slack = new SlackApiServer({ users: { U01ANA: { real_name: 'Ana Analyst', profile: { display_name: 'ana' } }, U02LEAD: { real_name: 'Lee Lead' } } });
  let redis: Redis;
  const prefix = `names${Date.now()}`;

  beforeAll(async () => {
    await slack.start();
    redis = new Redis(process.env.TEST_REDIS_URL!);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await slack.stop();
  });

  it('asks Slack once per person, keeps the display name, and leaves out (so shows the id of) whoever Slack does not answer for', async () => {
    const client = new WebClient('xoxb-test', { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
    const names = new UserNames(client, redis, prefix, createLogger('silent'));
    slack.failNext('users.info', 'user_not_found');
    expect(await names.names(['U09GONE', 'U01ANA', 'U02LEAD', 'U01ANA', 'system', 'not-an-id'])).toEqual({ U01ANA: 'ana', U02LEAD: 'Lee Lead' });
    expect(slack.callsOf('users.info').map((c) => c.args.user)).toEqual(['U09GONE', 'U01ANA', 'U02LEAD']);
    // From Redis now: no second call, even from another process's instance.
    expect(await new UserNames(client, redis, prefix, createLogger('silent')).names(['U01ANA', 'U02LEAD'])).toEqual({ U01ANA: 'ana', U02LEAD: 'Lee Lead' });
    expect(slack.callsOf('users.info')).toHaveLength(3);
    expect(await redis.ttl(`${prefix}:user-name:U01ANA`)).toBeGreaterThan(80_000);
  });
});

import { startRedisServer, type RedisServer } from './redis-server';

declare global {
  var __IRBOT_REDIS__: RedisServer | undefined;
}

/** One private Redis for the whole run; tests isolate themselves by key prefix. */
export default async function globalSetup(): Promise<void> {
  const redis = await startRedisServer();
  globalThis.__IRBOT_REDIS__ = redis;
  process.env.TEST_REDIS_URL = redis.url;
}

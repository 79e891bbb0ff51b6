import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';

export function redisHealth(redis: Redis): () => Promise<string> {
  return async () => {
    const pong = await Promise.race([
      redis.ping(),
      new Promise<string>((_, reject) => setTimeout(() => reject(new Error('redis did not answer within 1s')), 1000).unref()),
    ]);
    return pong === 'PONG' ? 'ok' : `unexpected reply ${pong}`;
  };
}

/** auth.test at most once a minute; a scraper hitting /healthz must not spend Slack's rate limit. */
export function slackHealth(client: WebClient, cacheMs = 60_000): () => Promise<string> {
  let last: { at: number; result: string } | undefined;
  return async () => {
    if (last && Date.now() - last.at < cacheMs) return last.result;
    let result: string;
    try {
      const r = await client.auth.test();
      result = r.ok ? 'ok' : `auth.test: ${r.error ?? 'not ok'}`;
    } catch (err) {
      result = `auth.test: ${(err as { data?: { error?: string } }).data?.error ?? (err as Error).message}`;
    }
    last = { at: Date.now(), result };
    return result;
  };
}

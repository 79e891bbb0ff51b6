import type { Redis, Result } from 'ioredis';

/**
 * Slack's limits are per workspace, so every worker replica shares one view of them in Redis:
 * chat.postMessage ~1/s per channel, chat.update ~50/min per app (Tier 3). A call that may not go
 * yet gets the wait in milliseconds, and the caller re-schedules its job durably instead of sleeping.
 */
const BUCKET_LUA = `
local key = KEYS[1]
local rate = tonumber(ARGV[1])   -- tokens per ms
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return blocked end
local t = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(t[1]) or burst
local ts = tonumber(t[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate)
if tokens >= 1 then
  redis.call('HSET', key, 'tokens', tokens - 1, 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(burst / rate) + 1000)
  return 0
end
redis.call('HSET', key, 'tokens', tokens, 'ts', now)
return math.ceil((1 - tokens) / rate)
`;

export interface SlackLimits {
  postIntervalMs: number;
  updatesPerMinute: number;
}

export class SlackRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: SlackLimits,
  ) {
    if (!redis.slackBucket) redis.defineCommand('slackBucket', { numberOfKeys: 2, lua: BUCKET_LUA });
  }

  /** 0 when a message may be posted to the channel now, else how long to wait. */
  async reservePost(channel: string): Promise<number> {
    const ok = await this.redis.set(`${this.prefix}:rl:post:${channel}`, '1', 'PX', this.limits.postIntervalMs, 'NX');
    if (ok === 'OK') return 0;
    const ttl = await this.redis.pttl(`${this.prefix}:rl:post:${channel}`);
    return Math.max(ttl, 1);
  }

  /** 0 when an update may be sent now, else how long to wait. */
  async reserveUpdate(now = Date.now()): Promise<number> {
    const rate = this.limits.updatesPerMinute / 60000;
    const burst = Math.max(1, Math.min(10, Math.floor(this.limits.updatesPerMinute / 6)));
    return Number(
      await this.redis.slackBucket(`${this.prefix}:rl:update`, `${this.prefix}:rl:update:blocked`, String(rate), String(burst), String(now)),
    );
  }

  /** Slack answered 429 with Retry-After: hold that scope for as long as it asked. */
  async backOff(scope: { channel: string } | 'update', retryAfterMs: number): Promise<void> {
    const key = scope === 'update' ? `${this.prefix}:rl:update:blocked` : `${this.prefix}:rl:post:${scope.channel}`;
    await this.redis.set(key, '1', 'PX', Math.max(1, retryAfterMs));
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    slackBucket(...args: string[]): Result<number, Context>;
  }
}

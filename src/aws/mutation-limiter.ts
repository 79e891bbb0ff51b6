import type { Redis, Result } from 'ioredis';

/**
 * A token bucket per AWS account and region, shared by every worker replica through Redis, in
 * front of mutating calls. EC2 throttles mutations per account and region from one bucket that
 * other tools draw on too; pacing ourselves keeps a ten-instance containment from starving them
 * (and from being throttled half-way).
 */
export const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local t = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(t[1]) or burst
local ts = tonumber(t[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
if tokens >= 1 then
  redis.call('HSET', KEYS[1], 'tokens', tokens - 1, 'ts', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
  return 0
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
return math.ceil((1 - tokens) / rate)
`;

export interface MutationLimits {
  mutationsPerSecond: number;
  mutationBurst: number;
}

export class MutationLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: MutationLimits,
  ) {
    if (!redis.awsBucket) redis.defineCommand('awsBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
  }

  /** Resolves when one mutating call may go to this account and region. */
  async take(account: string, region: string): Promise<void> {
    const rate = this.limits.mutationsPerSecond / 1000;
    for (;;) {
      const wait = Number(await this.redis.awsBucket(`${this.prefix}:awsrl:${account}:${region}`, String(rate), String(this.limits.mutationBurst), String(Date.now())));
      if (wait <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(wait, 5000)));
    }
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    awsBucket(key: string, rate: string, burst: string, now: string): Result<number, Context>;
  }
}

import type { Redis } from 'ioredis';

/**
 * Counts automatic actions over a rolling hour, globally and per account, by request id: a
 * re-delivered window job counts its request once. Past either limit nothing is added.
 */
const TAKE_LUA = `
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, 2 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window) end
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 'ok' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 'global:' .. redis.call('ZCARD', KEYS[1]) end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 'account:' .. redis.call('ZCARD', KEYS[2]) end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[i], window)
end
return 'ok'
`;

const HOUR_MS = 3_600_000;

export interface Limits {
  maxPerHour: number;
  maxPerAccountPerHour: number;
}

/** Autonomy's shared state in Redis: the kill switch, the breaker's counts, which findings were decided. */
export class AutonomyState {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(...parts: string[]): string {
    return [this.prefix, 'autonomy', ...parts].join(':');
  }

  /** Who turned autonomy off (`/ir autonomy off`), or undefined while it is on. */
  async offBy(): Promise<string | undefined> {
    return (await this.redis.get(this.key('off'))) ?? undefined;
  }

  async setOff(user: string | undefined): Promise<void> {
    if (user) await this.redis.set(this.key('off'), user);
    else await this.redis.del(this.key('off'));
  }

  /** Counts one automatic action; undefined when it may run, else why the breaker tripped. */
  async take(requestId: string, account: string | undefined, limits: Limits, now = Date.now()): Promise<string | undefined> {
    const acct = account ?? 'unknown';
    const res = (await this.redis.eval(TAKE_LUA, 2, this.key('hour'), this.key('hour', acct), String(now), String(HOUR_MS), requestId, String(limits.maxPerHour), String(limits.maxPerAccountPerHour))) as string;
    if (res === 'ok') return undefined;
    const [scope, n] = res.split(':');
    return scope === 'global'
      ? `Breaker tripped: ${n} automatic actions ran in the last hour (autonomy.maxPerHour is ${limits.maxPerHour}), so this one waits for approval like any request.`
      : `Breaker tripped: ${n} automatic actions ran in account ${acct} in the last hour (autonomy.maxPerAccountPerHour is ${limits.maxPerAccountPerHour}), so this one waits for approval like any request.`;
  }

  /** Automatic actions counted in the last hour, everywhere. */
  async lastHour(now = Date.now()): Promise<number> {
    return this.redis.zcount(this.key('hour'), now - HOUR_MS, '+inf');
  }

  /** The policy acts on a finding once, whatever re-deliveries and later versions bring. */
  async decided(findingKey: string): Promise<boolean> {
    return (await this.redis.exists(this.key('decided', findingKey))) === 1;
  }

  async markDecided(findingKey: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.key('decided', findingKey), '1', 'EX', ttlSeconds);
  }
}

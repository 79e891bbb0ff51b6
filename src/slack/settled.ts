import type { Redis, Result } from 'ioredis';

/**
 * "Shown in Slack at its latest version" for a card or a request's status message. Each keeps a
 * version that rises with every change and the version last rendered; the ones not yet shown sit
 * in an unsettled set (score: since when), which a sweep re-queues after Slack outages.
 *
 * KEYS[1] the hash, KEYS[2] the unsettled set. ARGV: member, now, message-ts field, ts (or ''),
 * rendered-version field, rendered version (or ''), version field. A hash gone from Redis leaves
 * the set; one shown at its latest version leaves it; one that moved on meanwhile stays, its clock
 * restarted (the render made progress).
 */
const SETTLE_LUA = `
local member, now, tsField, ts, rvField, rv, vField = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], member)
  return 0
end
if ts ~= '' then redis.call('HSET', KEYS[1], tsField, ts) end
if rv ~= '' then redis.call('HSET', KEYS[1], rvField, rv) end
local v = tonumber(redis.call('HGET', KEYS[1], vField) or '0')
local shown = tonumber(redis.call('HGET', KEYS[1], rvField) or '-1')
local posted = redis.call('HGET', KEYS[1], tsField)
if shown >= v and posted and posted ~= '' then
  redis.call('ZREM', KEYS[2], member)
else
  redis.call('ZADD', KEYS[2], 'XX', now, member)
end
return 1
`;

export interface SettleFields {
  ts: string;
  rendered: string;
  version: string;
}

export class SettledMessages {
  constructor(
    private readonly redis: Redis,
    private readonly setKey: string,
    private readonly fields: SettleFields,
  ) {
    if (!redis.irSettle) redis.defineCommand('irSettle', { numberOfKeys: 2, lua: SETTLE_LUA });
  }

  /** Records what Slack now shows (`ts` when just posted, `rendered` the version shown). */
  async settle(hashKey: string, member: string, shown: { ts?: string; rendered?: number } = {}): Promise<void> {
    const { ts, rendered, version } = this.fields;
    await this.redis.irSettle(hashKey, this.setKey, member, String(Date.now()), ts, shown.ts ?? '', rendered, shown.rendered === undefined ? '' : String(shown.rendered), version);
  }

  async drop(member: string): Promise<void> {
    await this.redis.zrem(this.setKey, member);
  }

  count(): Promise<number> {
    return this.redis.zcard(this.setKey);
  }

  /** Members not shown at their latest version since before `before` (ms). */
  async since(before: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.setKey, '-inf', before, 'LIMIT', 0, limit);
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    irSettle(...args: string[]): Result<number, Context>;
  }
}

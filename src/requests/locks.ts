import { randomUUID } from 'node:crypto';
import type { Redis, Result } from 'ioredis';

const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
/** All or none: a multi-target request holds every target or waits. */
const ACQUIRE_ALL_LUA = `
for i = 1, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  if cur and cur ~= ARGV[1] then return cur end
end
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
return 'ok'
`;

export interface Held {
  release(): Promise<void>;
}

/**
 * Mutual exclusion across workers, in Redis. A live holder renews its lease every third of it; a
 * holder that dies loses its lock when the lease runs out, so a crash blocks a target (or a
 * VPC's quarantine group, which every isolation in the VPC waits for) for one short lease only.
 */
export class Locks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly leaseMs = 10_000,
  ) {
    if (!redis.irLockAll) redis.defineCommand('irLockAll', { lua: ACQUIRE_ALL_LUA });
    if (!redis.irUnlock) redis.defineCommand('irUnlock', { numberOfKeys: 1, lua: RELEASE_LUA });
    if (!redis.irRenew) redis.defineCommand('irRenew', { numberOfKeys: 1, lua: RENEW_LUA });
  }

  private key(name: string): string {
    return `${this.prefix}:lock:${name}`;
  }

  /**
   * Takes every named lock for `owner`, or none. Re-taking locks an owner already holds succeeds
   * (a re-delivered job of the same request). Returns the owner holding the first busy lock.
   */
  async tryAcquire(names: string[], owner: string): Promise<{ ok: true; held: Held } | { ok: false; heldBy: string }> {
    const keys = [...new Set(names)].sort().map((n) => this.key(n));
    const res = String(await this.redis.irLockAll(keys.length, ...keys, owner, String(this.leaseMs)));
    if (res !== 'ok') return { ok: false, heldBy: res };
    // Renew while held: a long step must not lose the lock to another worker mid-way.
    const timer = setInterval(() => {
      for (const k of keys) void this.redis.irRenew(k, owner, String(this.leaseMs)).catch(() => undefined);
    }, Math.max(1000, Math.floor(this.leaseMs / 3)));
    timer.unref();
    return {
      ok: true,
      held: {
        release: async () => {
          clearInterval(timer);
          await Promise.all(keys.map((k) => this.redis.irUnlock(k, owner)));
        },
      },
    };
  }

  /** Runs `fn` holding `name`, waiting (polling) up to `waitMs` for it. */
  async withLock<T>(name: string, fn: () => Promise<T>, waitMs = 60_000, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<T> {
    const owner = randomUUID();
    const until = Date.now() + waitMs;
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
      const got = await this.tryAcquire([name], owner);
      if (got.ok) {
        try {
          return await fn();
        } finally {
          await got.held.release();
        }
      }
      if (Date.now() > until) throw new Error(`timed out after ${waitMs} ms waiting for ${name}, held by another job`);
      await sleep(delay);
    }
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    irLockAll(numKeys: number, ...args: string[]): Result<string, Context>;
    irUnlock(key: string, owner: string): Result<number, Context>;
    irRenew(key: string, owner: string, ms: string): Result<number, Context>;
  }
}

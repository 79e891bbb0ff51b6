import type { Redis, Result } from 'ioredis';
import { TOKEN_BUCKET_LUA } from './mutation-limiter';


export interface CloudTrailLimits {
  /** LookupEvents calls per second per account and region (AWS's quota is 2). */
  lookupsPerSecond: number;
  /** How long a lookup's answer is reused (ms). */
  cacheMs: number;
}

/** Thrown when the budget has no call to spare within the caller's patience: retry after `ms`. */
export class BudgetWait extends Error {
  constructor(readonly ms: number) {
    super(`CloudTrail LookupEvents budget: next call in ${ms} ms`);
    this.name = 'BudgetWait';
  }
}

/**
 * CloudTrail allows 2 LookupEvents calls per second per account and region, for every caller in
 * the account together; past it, calls fail with ThrottlingException. One token bucket per
 * account and region in Redis, shared by every worker (stories, blast radius), keeps ir-bot within
 * it. `take` never waits itself: a caller with time to spare waits in-process (`acquire`), a job
 * that would wait long hands itself back to Redis as a delayed job instead of holding a worker.
 *
 * Lookups are also cached for a short time: in a storm the same instance, access key or principal
 * is looked up by many stories.
 */
export class CloudTrailBudget {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: CloudTrailLimits,
    private readonly clock: () => number = Date.now,
  ) {
    if (!redis.ctBucket) redis.defineCommand('ctBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
  }

  /** Takes one call if the budget has one now (0), else says how long until it may (ms, nothing taken). */
  async take(account: string, region: string): Promise<number> {
    const rate = this.limits.lookupsPerSecond / 1000;
    // Burst of one: a second at 2/s may hold two calls, never a pile-up after a quiet minute.
    return Number(await this.redis.ctBucket(`${this.prefix}:ctrl:${account}:${region}`, String(rate), '1', String(this.clock())));
  }

  /**
   * Resolves once a call may go, waiting in-process up to `patienceMs`; past that throws
   * BudgetWait with the time still to wait (a job re-queues itself for it).
   */
  async acquire(account: string, region: string, patienceMs: number): Promise<void> {
    const until = this.clock() + patienceMs;
    for (;;) {
      const wait = await this.take(account, region);
      if (wait <= 0) return;
      if (this.clock() + wait > until) throw new BudgetWait(wait);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * The hook an action calls before each LookupEvents (ActionContext.cloudTrailCall): the call
   * spends the budget of the region it goes to, which is not always the request's own (IAM events
   * are read from the partition's global-event region, us-east-1, whose budget every request in
   * every region of the account shares).
   */
  forAccount(account: string, homeRegion: string, patienceMs: number): (region?: string) => Promise<void> {
    return (region) => this.acquire(account, region ?? homeRegion, patienceMs);
  }

  /** A cached lookup answer (JSON), or undefined. */
  async cached<T>(account: string, region: string, lookup: string): Promise<T | undefined> {
    const raw = await this.redis.get(this.cacheKey(account, region, lookup));
    return raw ? (JSON.parse(raw) as T) : undefined;
  }

  async remember(account: string, region: string, lookup: string, value: unknown): Promise<void> {
    if (this.limits.cacheMs > 0) await this.redis.set(this.cacheKey(account, region, lookup), JSON.stringify(value), 'PX', this.limits.cacheMs);
  }

  private cacheKey(account: string, region: string, lookup: string): string {
    return `${this.prefix}:ctcache:${account}:${region}:${lookup}`;
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    ctBucket(key: string, rate: string, burst: string, now: string): Result<number, Context>;
  }
}

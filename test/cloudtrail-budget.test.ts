import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { BudgetWait, CloudTrailBudget } from '../src/aws/cloudtrail-budget';

describe('the CloudTrail LookupEvents budget, shared by every worker through Redis', () => {
  let redis: Redis;
  let prefix: string;
  beforeEach(() => {
    redis = new Redis(process.env.TEST_REDIS_URL!);
    prefix = `t${randomBytes(5).toString('hex')}`;
  });
  afterEach(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('two workers asking at once get at most 2 calls in any second for one account and region; another region has its own', async () => {
    const other = redis.duplicate();
    const workers = [new CloudTrailBudget(redis, prefix, { lookupsPerSecond: 2, cacheMs: 0 }), new CloudTrailBudget(other, prefix, { lookupsPerSecond: 2, cacheMs: 0 })];
    const granted: number[] = [];
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        await workers[i % 2].acquire('123456789012', 'us-east-1', 10_000);
        granted.push(Date.now() - t0);
      }),
    );
    granted.sort((a, b) => a - b);
    for (let i = 2; i < granted.length; i++) expect(granted[i] - granted[i - 2]).toBeGreaterThanOrEqual(950);
    // The other region's bucket is full: no wait.
    const t1 = Date.now();
    await workers[0].acquire('123456789012', 'eu-west-1', 0);
    expect(Date.now() - t1).toBeLessThan(200);
    other.disconnect();
  });

  it('a caller without the patience to wait is told how long instead, and nothing is taken', async () => {
    const budget = new CloudTrailBudget(redis, prefix, { lookupsPerSecond: 2, cacheMs: 0 });
    await budget.acquire('123456789012', 'us-east-1', 0);
    const err = await budget.acquire('123456789012', 'us-east-1', 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetWait);
    expect((err as BudgetWait).ms).toBeGreaterThan(0);
    expect((err as BudgetWait).ms).toBeLessThanOrEqual(500);
  });

  it('a repeated lookup is answered from the short cache until it expires', async () => {
    const budget = new CloudTrailBudget(redis, prefix, { lookupsPerSecond: 2, cacheMs: 300 });
    await budget.remember('123456789012', 'us-east-1', 'ResourceName=i-0abc', [{ name: 'RunInstances' }]);
    expect(await budget.cached('123456789012', 'us-east-1', 'ResourceName=i-0abc')).toEqual([{ name: 'RunInstances' }]);
    expect(await budget.cached('123456789012', 'eu-west-1', 'ResourceName=i-0abc')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 400));
    expect(await budget.cached('123456789012', 'us-east-1', 'ResourceName=i-0abc')).toBeUndefined();
  });
});

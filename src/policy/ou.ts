import type { Redis } from 'ioredis';

/** Where an account sits in the organization (nearest OU first, the root last), or why that is not known. */
export type OuPath = { path: string[] } | { unknown: string };

/** A failed lookup is not retried for this long: a storm of findings must not become a storm of denied calls. */
const FAILURE_SECONDS = 60;

/**
 * Accounts' OU paths, cached in Redis for `autonomy.ouCacheSeconds`. The worker looks them up
 * (`lookup` throws with a responder-readable reason); the Slack process, which calls no AWS,
 * reads only what the worker recorded.
 */
export class OuPaths {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly cacheSeconds: number,
    private readonly lookup?: (account: string) => Promise<string[]>,
  ) {}

  private key(account: string): string {
    return `${this.prefix}:autonomy:ou:${account}`;
  }

  /** The recorded path or failure, else (with a lookup) a fresh lookup, recorded. */
  async of(account: string): Promise<OuPath> {
    const raw = await this.redis.get(this.key(account));
    if (raw) return JSON.parse(raw) as OuPath;
    if (!this.lookup) return { unknown: `not looked up in the last ${this.cacheSeconds} s (the worker looks it up when a finding of account ${account} arrives)` };
    let out: OuPath;
    try {
      out = { path: await this.lookup(account) };
    } catch (err) {
      out = { unknown: (err as Error).message };
    }
    await this.redis.set(this.key(account), JSON.stringify(out), 'EX', 'path' in out ? this.cacheSeconds : Math.min(FAILURE_SECONDS, this.cacheSeconds));
    return out;
  }
}

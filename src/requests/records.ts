import type { Redis } from 'ioredis';
import type { RecordStore } from '../actions/types';

/**
 * State recorded before a change so it can be undone (e.g. an instance's security groups before
 * isolation). Written once: a re-run of the same job after a crash must not record the
 * half-isolated state as "before". An isolation can last for months, so a live record is kept
 * for `undoRecordDays` (a year by default); once undone it is kept for the incident report for
 * `retentionDays`, like the rest of the case.
 */
export class RedisRecords implements RecordStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly lifetimes: { liveSeconds: number; retiredSeconds: number } = { liveSeconds: 365 * 86400, retiredSeconds: 30 * 86400 },
  ) {}

  private key(name: string): string {
    return `${this.prefix}:rec:${name}`;
  }

  async get<T>(name: string): Promise<T | undefined> {
    const v = await this.redis.get(this.key(name));
    return v ? (JSON.parse(v) as T) : undefined;
  }

  async putIfAbsent(name: string, value: unknown): Promise<boolean> {
    return (await this.redis.set(this.key(name), JSON.stringify(value), 'EX', this.lifetimes.liveSeconds, 'NX')) === 'OK';
  }

  /** The new record lives as long as a fresh one; the one it replaced is history, kept like a retired one. */
  async replace(name: string, value: unknown, at: number): Promise<void> {
    const key = this.key(name);
    const replaced = `${key}:replaced:${at}`;
    await this.redis
      .multi()
      .copy(key, replaced)
      .expire(replaced, this.lifetimes.retiredSeconds)
      .set(key, JSON.stringify(value), 'EX', this.lifetimes.liveSeconds)
      .exec();
  }

  /** Keeps the undone record under a history key for the incident report. */
  async retire(name: string, at: number): Promise<void> {
    const key = this.key(name);
    if ((await this.redis.exists(key)) === 0) return;
    const retired = `${key}:retired:${at}`;
    await this.redis.multi().rename(key, retired).expire(retired, this.lifetimes.retiredSeconds).exec();
  }
}

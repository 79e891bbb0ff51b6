import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Locks } from './locks';

/**
 * Work that many concurrent requests need the same answer to (one VPC's quarantine groups
 * reconciled, the instances sharing one role) is done once, across every worker: whoever takes
 * the lock does it and stores the answer for `freshMs`; the others wait for that answer and read
 * it back instead of queueing to do it again. A failure stores nothing, so the next in line tries
 * itself. `forget` drops an answer as soon as a caller sees AWS disagree with it.
 */
export class SingleFlight {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly locks: Locks,
    private readonly waitMs = 60_000,
  ) {}

  private key(name: string): string {
    return `${this.prefix}:once:${name}`;
  }

  async run<T>(name: string, freshMs: number, fn: () => Promise<T>): Promise<T> {
    const owner = randomUUID();
    const until = Date.now() + this.waitMs;
    // Short polls: the answer is usually a few AWS round trips away, and a waiter costs one GET.
    for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
      const hit = await this.read<T>(name);
      if (hit) return hit.value;
      const got = await this.locks.tryAcquire([name], owner);
      if (got.ok) {
        try {
          // The holder before us may have stored it between our read and our lock.
          const again = await this.read<T>(name);
          if (again) return again.value;
          const value = await fn();
          if (freshMs > 0) await this.redis.set(this.key(name), JSON.stringify({ value }), 'PX', Math.ceil(freshMs));
          return value;
        } finally {
          await got.held.release();
        }
      }
      if (Date.now() > until) throw new Error(`timed out after ${this.waitMs} ms waiting for ${name}, held by another job`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  async forget(name: string): Promise<void> {
    await this.redis.del(this.key(name));
  }

  private async read<T>(name: string): Promise<{ value: T } | undefined> {
    const raw = await this.redis.get(this.key(name));
    return raw ? (JSON.parse(raw) as { value: T }) : undefined;
  }
}

import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';

/** A name changes rarely; a day-old one is still the right person. */
const KEEP_SECONDS = 86_400;
/** A report names its requesters and approvers: a handful. More would be a loop, not a report. */
const MAX_LOOKUPS = 50;

/**
 * Slack display names by user id (users.info), cached in Redis so a report of a busy incident
 * asks Slack once per person per day. A name Slack does not give stays the id: a report is never
 * held up by a lookup.
 */
export class UserNames {
  constructor(
    private readonly slack: WebClient,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:user-name:${id}`;
  }

  async names(ids: Iterable<string>): Promise<Record<string, string>> {
    const wanted = [...new Set(ids)].filter((id) => /^[UW][A-Z0-9]{2,}$/.test(id)).slice(0, MAX_LOOKUPS);
    if (wanted.length === 0) return {};
    const cached = await this.redis.mget(...wanted.map((id) => this.key(id)));
    const out: Record<string, string> = {};
    for (const [i, id] of wanted.entries()) {
      const hit = cached[i];
      if (hit) {
        out[id] = hit;
        continue;
      }
      try {
        const u = (await this.slack.users.info({ user: id })).user as { name?: string; real_name?: string; profile?: { display_name?: string; real_name?: string } } | undefined;
        const name = u?.profile?.display_name || u?.profile?.real_name || u?.real_name || u?.name;
        if (!name) continue;
        out[id] = name;
        await this.redis.set(this.key(id), name, 'EX', KEEP_SECONDS);
      } catch (err) {
        this.log.warn({ user: id, err: (err as Error).message }, 'users.info failed: the report shows the user id');
      }
    }
    return out;
  }
}

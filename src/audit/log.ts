import type { Redis } from 'ioredis';
import type { Logger } from '../log';

export type AuditEvent =
  | 'requested'
  | 'refused-requester'
  | 'planned'
  | 'approval-requested'
  | 'approved'
  | 'refused-approver'
  | 'rejected'
  | 'cancelled'
  | 'expired'
  | 'plan-changed'
  | 'started'
  | 'resumed'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'refused-plan'
  | 'workflow-updated'
  | 'note-added'
  | 'report';

export interface AuditEntry {
  event: AuditEvent;
  /** Slack user who caused it; "system" for the worker's own steps. */
  user: string;
  requestId?: string;
  action?: string;
  target?: string;
  account?: string;
  region?: string;
  /** Plan, outcome or reason: whatever makes the entry stand on its own. */
  detail?: unknown;
}

export interface StoredAuditEntry extends AuditEntry {
  id: string;
  at: string;
}

/**
 * Append-only record of who asked, approved and did what, in a Redis stream (entries are never
 * edited; the stream has no MAXLEN). Every entry also goes to the logs, so a log pipeline keeps
 * its own copy.
 */
export class AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  private get key(): string {
    return `${this.prefix}:audit`;
  }

  async append(e: AuditEntry, now = Date.now()): Promise<string> {
    const at = new Date(now).toISOString();
    const fields = ['at', at, 'event', e.event, 'user', e.user];
    for (const k of ['requestId', 'action', 'target', 'account', 'region'] as const) if (e[k]) fields.push(k, String(e[k]));
    if (e.detail !== undefined) fields.push('detail', JSON.stringify(e.detail));
    const id = (await this.redis.xadd(this.key, '*', ...fields)) ?? '';
    this.log.info({ audit: { ...e, at, id } }, `audit ${e.event}`);
    return id;
  }

  /** Entries in order; `match` filters on target, request, or user. */
  async read(filter: { target?: string; requestId?: string; user?: string } = {}, count = 1000): Promise<StoredAuditEntry[]> {
    const rows = await this.redis.xrange(this.key, '-', '+', 'COUNT', count);
    const out: StoredAuditEntry[] = [];
    for (const [id, flat] of rows) {
      const f: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
      const entry: StoredAuditEntry = {
        id,
        at: f.at,
        event: f.event as AuditEvent,
        user: f.user,
        requestId: f.requestId,
        action: f.action,
        target: f.target,
        account: f.account,
        region: f.region,
        detail: f.detail ? JSON.parse(f.detail) : undefined,
      };
      if (filter.target && entry.target !== filter.target) continue;
      if (filter.requestId && entry.requestId !== filter.requestId) continue;
      if (filter.user && entry.user !== filter.user) continue;
      out.push(entry);
    }
    return out;
  }
}

import type { Redis, Result } from 'ioredis';
import type { Logger } from '../log';

export type AuditEvent =
  | 'requested'
  | 'refused-requester'
  | 'planned'
  | 'approval-requested'
  | 'approved'
  | 'refused-approver'
  | 'refused-protected'
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
  /** Every resource the entry is about when there are several (a "Stop all" request). */
  targets?: string[];
  /** The finding it is about, when known (its card's requests, notes, workflow, reports). */
  findingKey?: string;
  account?: string;
  region?: string;
  /** Plan, outcome or reason: whatever makes the entry stand on its own. */
  detail?: unknown;
}

export interface EncodedAuditEntry {
  stream: string;
  indexes: string[];
  fields: string[];
  at: string;
}

export interface StoredAuditEntry extends Omit<AuditEntry, 'targets'> {
  id: string;
  at: string;
}

/** What the trail can be looked up by; each is an index kept beside the stream. */
export type AuditQuery = { requestId: string } | { target: string } | { user: string } | { findingKey: string };

const INDEXED = ['requestId', 'target', 'user', 'findingKey'] as const;

/**
 * The entry and its index entries in one step, so a crash cannot leave an entry that no lookup
 * finds. KEYS[1] is the stream, the rest are index lists that get the new entry's id.
 */
const APPEND_LUA = `
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV))
for i = 2, #KEYS do redis.call('RPUSH', KEYS[i], id) end
return id
`;

/** Stream ids are `<ms>-<seq>`: order them as numbers, not strings. */
function byStreamId(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/**
 * Append-only record of who asked, approved and did what, in a Redis stream (entries are never
 * edited; the stream has no MAXLEN). Lookups by request, resource, user and finding go through
 * index lists of entry ids written with each entry, so a trail costs its own size however long
 * the stream grows. Every entry also goes to the logs, so a log pipeline keeps its own copy.
 */
export class AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    if (!redis.irAuditAppend) redis.defineCommand('irAuditAppend', { lua: APPEND_LUA });
  }

  private get key(): string {
    return `${this.prefix}:audit`;
  }

  private indexKey(q: AuditQuery): string {
    const [[field, value]] = Object.entries(q) as [[string, string]];
    return `${this.prefix}:audit:by:${field}:${value}`;
  }

  /** The stream fields and index keys of an entry, for a Lua step that writes it with other changes. */
  encode(e: AuditEntry, now = Date.now()): EncodedAuditEntry {
    const at = new Date(now).toISOString();
    const fields = ['at', at, 'event', e.event, 'user', e.user];
    for (const k of ['requestId', 'action', 'target', 'findingKey', 'account', 'region'] as const) if (e[k]) fields.push(k, String(e[k]));
    if (e.detail !== undefined) fields.push('detail', JSON.stringify(e.detail));
    const indexes = new Set<string>();
    for (const k of INDEXED) {
      // Most entries are the worker's own steps; a trail "by ir-bot" is never asked for.
      if (e[k] && !(k === 'user' && e.user === 'system')) indexes.add(this.indexKey({ [k]: String(e[k]) } as AuditQuery));
    }
    for (const t of e.targets ?? []) indexes.add(this.indexKey({ target: t }));
    return { stream: this.key, indexes: [...indexes], fields, at };
  }

  /** The log line of an entry written by someone else's Lua step (see `encode`). */
  logged(e: AuditEntry, enc: EncodedAuditEntry, id: string): void {
    this.log.info({ audit: { ...e, at: enc.at, id } }, `audit ${e.event}`);
  }

  async append(e: AuditEntry, now = Date.now()): Promise<string> {
    const enc = this.encode(e, now);
    const id = String(await this.redis.irAuditAppend(1 + enc.indexes.length, enc.stream, ...enc.indexes, ...enc.fields));
    this.logged(e, enc, id);
    return id;
  }

  /**
   * Entries matching any of the queries, oldest first; at most the newest `limit` of them.
   */
  async find(queries: AuditQuery[], limit = 5000): Promise<StoredAuditEntry[]> {
    if (queries.length === 0) return [];
    const lists = await Promise.all(queries.map((q) => this.redis.lrange(this.indexKey(q), -limit, -1)));
    const ids = [...new Set(lists.flat())].sort(byStreamId).slice(-limit);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.xrange(this.key, id, id);
    const rows = (await pipeline.exec()) ?? [];
    const out: StoredAuditEntry[] = [];
    for (const [err, found] of rows) {
      if (err) throw err;
      for (const [id, flat] of found as [string, string[]][]) out.push(toEntry(id, flat));
    }
    return out;
  }
}

function toEntry(id: string, flat: string[]): StoredAuditEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
  return {
    id,
    at: f.at,
    event: f.event as AuditEvent,
    user: f.user,
    requestId: f.requestId,
    action: f.action,
    target: f.target,
    findingKey: f.findingKey,
    account: f.account,
    region: f.region,
    detail: f.detail ? JSON.parse(f.detail) : undefined,
  };
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    irAuditAppend(numberOfKeys: number, ...args: string[]): Result<string, Context>;
  }
}

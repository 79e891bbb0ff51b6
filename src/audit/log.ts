import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis, Result } from 'ioredis';
import type { Logger } from '../log';

export type AuditEvent =
  | 'requested'
  | 'refused-requester'
  | 'planned'
  | 'approval-requested'
  | 'approved'
  | 'approved-first'
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
  | 'report'
  /** Autonomy (docs/autonomy.md): an automatic run stopped, a rule's trial run, a brake that kept a rule from acting, the kill switch. */
  | 'held'
  | 'policy-shadow'
  | 'policy-braked'
  /** A rule matching on `ou` was skipped: the account's OU could not be looked up. */
  | 'policy-ou-unknown'
  | 'autonomy-off'
  | 'autonomy-on';

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
local id = redis.call('XADD', KEYS[1], ARGV[1], unpack(ARGV, 2))
for i = 2, #KEYS do redis.call('RPUSH', KEYS[i], id) end
return id
`;

/**
 * A refused click is recorded once per user and event per window; later ones in the window are
 * only counted (KEYS[2]) and the count rides on the next recorded entry. Returns the count of
 * suppressed entries to report, or -1 when this one is suppressed.
 */
const THROTTLE_LUA = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  local n = redis.call('GET', KEYS[2])
  redis.call('DEL', KEYS[2])
  return tonumber(n or '0')
end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 86400)
return -1
`;

/** Drops the ids older than ARGV[1] (ms) from the head of an index list (ids are appended in order). */
const TRIM_INDEX_LUA = `
local n = 0
while true do
  local id = redis.call('LINDEX', KEYS[1], 0)
  if not id then break end
  local ms = tonumber(string.match(id, '^(%d+)-'))
  if not ms or ms >= tonumber(ARGV[1]) then break end
  redis.call('LPOP', KEYS[1])
  n = n + 1
end
return n
`;

const DAY_MS = 86_400_000;
const startOfUtcDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

/** Stream ids are `<ms>-<seq>`: order them as numbers, not strings. */
function byStreamId(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/**
 * Append-only record of who asked, approved and did what, in a Redis stream (entries are never
 * edited; whole days past `audit.retentionDays` move to daily JSONL files, see exportAndTrim). Lookups by request, resource, user and finding go through
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
    if (!redis.irAuditThrottle) redis.defineCommand('irAuditThrottle', { lua: THROTTLE_LUA, numberOfKeys: 2 });
    if (!redis.irAuditTrimIndex) redis.defineCommand('irAuditTrimIndex', { lua: TRIM_INDEX_LUA, numberOfKeys: 1 });
  }

  /**
   * Appends at most one entry per `throttleKey` per window (refused clicks: someone hammering a
   * button must not fill Redis); the next entry says how many were left out. Returns whether it
   * was recorded.
   */
  async appendThrottled(e: AuditEntry, throttleKey: string, windowSeconds = 60): Promise<boolean> {
    const k = `${this.prefix}:audit:throttle:${throttleKey}`;
    const suppressed = Number(await this.redis.irAuditThrottle(k, `${k}:count`, String(windowSeconds)));
    if (suppressed < 0) return false;
    await this.append(suppressed > 0 ? { ...e, detail: { ...(e.detail as object | undefined), suppressedBefore: suppressed } } : e);
    return true;
  }

  /**
   * Audit retention: every whole UTC day older than `retentionDays` is written to
   * `dir/audit-YYYY-MM-DD.jsonl` (one entry per line, fsynced, then renamed into place) and only
   * then trimmed from the stream and its indexes, so nothing is lost. Safe to run again after a
   * crash: a day's entries never change once the day is over, so a re-export writes the same file.
   */
  async exportAndTrim(dir: string, retentionDays: number, now = Date.now()): Promise<{ files: string[]; trimmed: number }> {
    const cutoff = startOfUtcDay(now) - retentionDays * DAY_MS;
    const files: string[] = [];
    const first = await this.redis.xrange(this.key, '-', '+', 'COUNT', 1);
    if (first.length === 0 || Number(first[0][0].split('-')[0]) >= cutoff) return { files, trimmed: 0 };
    await mkdir(dir, { recursive: true });
    for (let day = startOfUtcDay(Number(first[0][0].split('-')[0])); day < cutoff; day += DAY_MS) {
      const lines: string[] = [];
      let start = String(day);
      for (;;) {
        const page = await this.redis.xrange(this.key, start, String(day + DAY_MS - 1), 'COUNT', 1000);
        for (const [id, flat] of page) lines.push(JSON.stringify(toEntry(id, flat)));
        if (page.length < 1000) break;
        start = `(${page[page.length - 1][0]}`;
      }
      if (lines.length === 0) continue;
      const file = join(dir, `audit-${new Date(day).toISOString().slice(0, 10)}.jsonl`);
      const tmp = `${file}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(`${lines.join('\n')}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      files.push(file);
    }
    const trimmed = Number(await this.redis.xtrim(this.key, 'MINID', String(cutoff)));
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:audit:by:*`, 'COUNT', 1000);
      for (const k of keys) await this.redis.irAuditTrimIndex(k, String(cutoff));
      cursor = next;
    } while (cursor !== '0');
    this.log.info({ files, trimmed, before: new Date(cutoff).toISOString() }, 'audit entries exported and trimmed');
    return { files, trimmed };
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

  /**
   * `backdateId` stamps the stream id with `now` too (imports, retention tests); otherwise Redis
   * stamps it, so replicas with slightly different clocks never collide.
   */
  async append(e: AuditEntry, now = Date.now(), opts: { backdateId?: boolean } = {}): Promise<string> {
    const enc = this.encode(e, now);
    const id = String(await this.redis.irAuditAppend(1 + enc.indexes.length, enc.stream, ...enc.indexes, opts.backdateId ? `${now}-*` : '*', ...enc.fields));
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
    irAuditThrottle(key: string, countKey: string, windowSeconds: string): Result<number, Context>;
    irAuditTrimIndex(key: string, beforeMs: string): Result<number, Context>;
  }
}

import { createHash } from 'node:crypto';
import type { Redis, Result } from 'ioredis';
import type { ActionRequest, RequestState } from './model';
import { isTerminal } from './model';
import { SettledMessages } from '../slack/settled';

/**
 * Creates a request unless one for the same action and target is still open: a double click, a
 * second replica or a repeated command joins the open request instead of starting another.
 */
const CREATE_LUA = `
local existing = redis.call('GET', KEYS[1])
if existing and redis.call('EXISTS', ARGV[1] .. existing) == 1 then return {0, existing} end
local n = redis.call('INCR', KEYS[2])
local id = ARGV[2] .. '-' .. n
local key = ARGV[1] .. id
local nIndexes = tonumber(ARGV[6])
redis.call('HSET', key, 'id', id, 'version', 1, 'renderedVersion', 0, 'rev', 1, unpack(ARGV, 7 + nIndexes))
redis.call('EXPIRE', key, ARGV[5])
redis.call('SET', KEYS[1], id, 'EX', ARGV[4])
local oldest = tonumber(ARGV[3]) - tonumber(ARGV[5]) * 1000
redis.call('ZADD', KEYS[3], ARGV[3], id)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', oldest)
-- Its status message is not in Slack yet.
redis.call('ZADD', KEYS[4], 'NX', ARGV[3], id)
-- By finding and by resource, so a card's requests are found without scanning them all.
for i = 7, 6 + nIndexes do
  redis.call('ZADD', ARGV[i], ARGV[3], id)
  redis.call('ZREMRANGEBYSCORE', ARGV[i], '-inf', oldest)
  redis.call('EXPIRE', ARGV[i], ARGV[5])
end
return {1, id}
`;

/**
 * Compare-and-set on the request's state (and plan revision, and approval expiry), so the first
 * valid decision wins and a stale click or a re-delivered job changes nothing.
 */
const TRANSITION_LUA = `
local cur = redis.call('HMGET', KEYS[1], 'state', 'rev', 'expiresAt', 'id')
if not cur[1] then return 'missing' end
if ARGV[1] ~= '' then
  local ok = false
  for s in string.gmatch(ARGV[1], '[^,]+') do if s == cur[1] then ok = true end end
  if not ok then return 'state:' .. cur[1] end
end
if ARGV[2] ~= '' and ARGV[2] ~= cur[2] then return 'rev:' .. (cur[2] or '') end
if ARGV[3] ~= '' and cur[3] and tonumber(cur[3]) <= tonumber(ARGV[3]) then return 'expired' end
if #ARGV >= 7 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('ZADD', KEYS[3], 'NX', ARGV[5], cur[4])
if ARGV[4] == '1' and redis.call('GET', KEYS[2]) == cur[4] then redis.call('DEL', KEYS[2]) end
return 'ok'
`;

const JSON_FIELDS = new Set(['plan', 'progress', 'result', 'failure', 'targets', 'rerouted']);
const NUMBER_FIELDS = new Set(['createdAt', 'version', 'renderedVersion', 'rev', 'expiresAt', 'approvedAt', 'decidedAt', 'startedAt', 'finishedAt']);

/** Request ids name their target when it is short and plain (instance, key); an ARN is hashed. */
export function idPart(target: string): string {
  return /^[A-Za-z0-9-]{1,40}$/.test(target) ? target : createHash('sha256').update(target).digest('hex').slice(0, 12);
}

/** `null` clears a field. */
export type RequestPatch = { [K in keyof Omit<ActionRequest, 'id' | 'version'>]?: ActionRequest[K] | null };

function toFields(patch: RequestPatch): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) {
      out.push(k, '');
      continue;
    }
    out.push(k, JSON_FIELDS.has(k) ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  return out;
}

function fromHash(h: Record<string, string>): ActionRequest | undefined {
  if (!h.id) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === '') continue;
    if (JSON_FIELDS.has(k)) out[k] = JSON.parse(v);
    else if (NUMBER_FIELDS.has(k)) out[k] = Number(v);
    else if (k === 'needsApproval' || k === 'attachmentPosted') out[k] = v === '1';
    else out[k] = v;
  }
  return out as unknown as ActionRequest;
}

export type TransitionResult = { ok: true } | { ok: false; reason: 'missing' | 'expired' | 'state' | 'rev'; current?: string };

export type NewRequest = Pick<
  ActionRequest,
  'action' | 'target' | 'targets' | 'account' | 'region' | 'findingKey' | 'findingId' | 'channel' | 'threadTs' | 'requestedBy' | 'reason' | 'needsApproval'
>;

export class RequestStore {
  private readonly shown: SettledMessages;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retentionSeconds: number,
  ) {
    if (!redis.irCreateRequest) redis.defineCommand('irCreateRequest', { numberOfKeys: 4, lua: CREATE_LUA });
    if (!redis.irTransition) redis.defineCommand('irTransition', { numberOfKeys: 3, lua: TRANSITION_LUA });
    this.shown = new SettledMessages(redis, this.unsettledKey, { ts: 'statusTs', rendered: 'renderedVersion', version: 'version' });
  }

  private get unsettledKey(): string {
    return `${this.prefix}:reqs:unsettled`;
  }

  private key(id: string): string {
    return `${this.prefix}:req:${id}`;
  }

  /** One open request per action and set of instances. */
  private activeKey(action: string, targets: string[]): string {
    const ids = [...new Set(targets)].sort().join(',');
    const target = ids.length > 64 ? createHash('sha256').update(ids).digest('hex').slice(0, 32) : ids;
    return `${this.prefix}:active:${action}:${target}`;
  }

  private indexKey(kind: 'finding' | 'target', value: string): string {
    return `${this.prefix}:reqs:${kind}:${value}`;
  }

  /** `created: false` means an open request for this action and target exists and is returned. */
  async create(r: NewRequest, now = Date.now()): Promise<{ created: boolean; id: string }> {
    const fields = toFields({ ...r, state: 'planning', createdAt: now });
    const indexes = new Set([...(r.findingKey ? [this.indexKey('finding', r.findingKey)] : []), ...[r.target, ...r.targets].map((t) => this.indexKey('target', t))]);
    // The open-request marker outlives any sane approval wait, but not forever if a worker vanished.
    const activeTtl = 24 * 3600;
    const [created, id] = (await this.redis.irCreateRequest(
      this.activeKey(r.action, r.targets),
      `${this.prefix}:reqseq`,
      `${this.prefix}:reqs`,
      this.unsettledKey,
      `${this.prefix}:req:`,
      `${r.action}-${idPart(r.target)}`,
      String(now),
      String(activeTtl),
      String(this.retentionSeconds),
      String(indexes.size),
      ...indexes,
      ...fields,
    )) as [number, string];
    return { created: created === 1, id };
  }

  async get(id: string): Promise<ActionRequest | undefined> {
    return fromHash(await this.redis.hgetall(this.key(id)));
  }

  async transition(
    id: string,
    cond: { from?: RequestState[]; rev?: number; notExpiredAt?: number },
    patch: RequestPatch,
  ): Promise<TransitionResult> {
    const req = await this.redis.hmget(this.key(id), 'action', 'targets');
    if (!req[0]) return { ok: false, reason: 'missing' };
    const ids = JSON.parse(req[1] ?? '[]') as string[];
    const terminal = !!patch.state && isTerminal(patch.state);
    const res = String(
      await this.redis.irTransition(
        this.key(id),
        this.activeKey(req[0], ids),
        this.unsettledKey,
        (cond.from ?? []).join(','),
        cond.rev === undefined ? '' : String(cond.rev),
        cond.notExpiredAt === undefined ? '' : String(cond.notExpiredAt),
        terminal ? '1' : '0',
        String(Date.now()),
        ...toFields(patch),
      ),
    );
    if (res === 'ok') return { ok: true };
    const [reason, current] = res.split(':') as [string, string | undefined];
    return { ok: false, reason: reason as 'missing' | 'expired' | 'state' | 'rev', current };
  }

  /** Progress and similar notes from the job that owns the request; no state check needed. */
  async patch(id: string, patch: RequestPatch): Promise<void> {
    await this.redis.multi().hset(this.key(id), ...toFields(patch)).hincrby(this.key(id), 'version', 1).zadd(this.unsettledKey, 'NX', Date.now(), id).exec();
  }

  async markRendered(id: string, version: number, statusTs?: string): Promise<void> {
    await this.shown.settle(this.key(id), id, { ts: statusTs, rendered: version });
  }

  /** The status message needs no render (already current, or the request is gone). */
  async checkSettled(id: string): Promise<void> {
    await this.shown.settle(this.key(id), id);
  }

  /** Requests whose status message Slack does not show at its latest version yet. */
  unshownCount(): Promise<number> {
    return this.shown.count();
  }

  /** Requests whose status message Slack has not shown at its latest version since before `before` (ms). */
  unsettled(before: number, limit: number): Promise<string[]> {
    return this.shown.since(before, limit);
  }

  /** Requests made from any of these findings or naming any of these resources, oldest first. */
  async about(q: { findingKeys?: string[]; targets?: string[] }): Promise<ActionRequest[]> {
    const keys = [...(q.findingKeys ?? []).map((k) => this.indexKey('finding', k)), ...(q.targets ?? []).map((t) => this.indexKey('target', t))];
    const lists = await Promise.all(keys.map((k) => this.redis.zrange(k, 0, -1)));
    const all = await Promise.all([...new Set(lists.flat())].map((id) => this.get(id)));
    return all.filter((r): r is ActionRequest => r !== undefined).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Newest first. */
  async recent(limit: number): Promise<ActionRequest[]> {
    const ids = await this.redis.zrevrange(`${this.prefix}:reqs`, 0, limit - 1);
    const all = await Promise.all(ids.map((id) => this.get(id)));
    return all.filter((r): r is ActionRequest => r !== undefined);
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    irCreateRequest(...args: string[]): Result<[number, string], Context>;
    irTransition(...args: string[]): Result<string, Context>;
  }
}

import { createHash } from 'node:crypto';
import type { Redis, Result } from 'ioredis';
import type { ActionRequest, RequestState } from './model';
import { isTerminal } from './model';
import { SettledMessages } from '../slack/settled';
import type { EncodedAuditEntry } from '../audit/log';

/**
 * Creates a request unless one for the same action and target is still open: a double click, a
 * second replica or a repeated command joins the open request instead of starting another.
 */
const CREATE_LUA = `
local existing = redis.call('GET', KEYS[1])
if existing then
  -- The marker follows the request's state: only an open request is joined, however old.
  local st = redis.call('HGET', ARGV[1] .. existing, 'state')
  if st and st ~= 'done' and st ~= 'failed' and st ~= 'rejected' and st ~= 'expired' and st ~= 'refused' then return {0, existing} end
end
local n = redis.call('INCR', KEYS[2])
local id = ARGV[2] .. '-' .. n
local key = ARGV[1] .. id
local nIndexes = tonumber(ARGV[6])
local nAuditFields, nAuditIndexes = tonumber(ARGV[7]), 0
local audit0 = 10 + nIndexes
if nAuditFields > 0 then nAuditIndexes = tonumber(ARGV[audit0 + nAuditFields]) end
local fields0 = audit0 + (nAuditFields > 0 and nAuditFields + 1 + nAuditIndexes or 0)
redis.call('HSET', key, 'id', id, 'version', 1, 'renderedVersion', 0, 'rev', 1, unpack(ARGV, fields0))
redis.call('EXPIRE', key, ARGV[5])
redis.call('SET', KEYS[1], id, 'EX', ARGV[4])
local oldest = tonumber(ARGV[3]) - tonumber(ARGV[5]) * 1000
redis.call('ZADD', KEYS[3], ARGV[3], id)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', oldest)
-- Open until a terminal transition: what the reconciler looks at.
redis.call('ZADD', KEYS[5], ARGV[3], id)
-- Its status message is not in Slack yet.
redis.call('ZADD', KEYS[4], 'NX', ARGV[3], id)
-- By finding and by resource, so a card's requests are found without scanning them all.
for i = 10, 9 + nIndexes do
  redis.call('ZADD', ARGV[i], ARGV[3], id)
  redis.call('ZREMRANGEBYSCORE', ARGV[i], '-inf', oldest)
  redis.call('EXPIRE', ARGV[i], ARGV[5])
end
-- Its "requested" audit entry, in the same step: the id is only known here, so the entry's fields
-- and index keys carry a placeholder (ARGV[9]) where it goes.
local auditId = ''
if nAuditFields > 0 then
  local ph = ARGV[9]
  local fields = {}
  for i = audit0, audit0 + nAuditFields - 1 do
    if ARGV[i] == ph then fields[#fields + 1] = id else fields[#fields + 1] = ARGV[i] end
  end
  auditId = redis.call('XADD', ARGV[8], '*', unpack(fields))
  for i = audit0 + nAuditFields + 1, audit0 + nAuditFields + nAuditIndexes do
    local k = ARGV[i]
    if string.sub(k, -#ph) == ph then k = string.sub(k, 1, #k - #ph) .. id end
    redis.call('RPUSH', k, auditId)
  end
end
return {1, id, auditId}
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
-- A field that must still be empty (the first of two approvals is taken once).
if ARGV[7] ~= '' then
  local taken = redis.call('HGET', KEYS[1], ARGV[7])
  if taken and taken ~= '' then return 'taken:' .. taken end
end
local nAudit = tonumber(ARGV[6])
if #ARGV >= 9 + nAudit then redis.call('HSET', KEYS[1], unpack(ARGV, 8 + nAudit)) end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('ZADD', KEYS[3], 'NX', ARGV[5], cur[4])
if ARGV[4] == '1' then
  if redis.call('GET', KEYS[2]) == cur[4] then redis.call('DEL', KEYS[2]) end
  redis.call('ZREM', KEYS[4], cur[4])
end
-- The audit entry of this transition, in the same step: recorded once, never without the change.
if nAudit > 0 then
  local id = redis.call('XADD', KEYS[5], '*', unpack(ARGV, 8, 7 + nAudit))
  for i = 6, #KEYS do redis.call('RPUSH', KEYS[i], id) end
  return 'ok:' .. id
end
return 'ok'
`;

const JSON_FIELDS = new Set(['plan', 'progress', 'result', 'failure', 'targets', 'rerouted', 'auto']);
const NUMBER_FIELDS = new Set(['createdAt', 'version', 'renderedVersion', 'rev', 'expiresAt', 'approvedAt', 'firstApprovedAt', 'approvalsNeeded', 'decidedAt', 'startedAt', 'finishedAt', 'resumes', 'planFilePosted', 'autoAt', 'tickAt']);

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
    else if (k === 'needsApproval' || k === 'attachmentPosted' || k === 'followCard') out[k] = v === '1';
    else out[k] = v;
  }
  return out as unknown as ActionRequest;
}

/** Stands for the id of the request being created, in an audit entry written with it. */
export const NEW_REQUEST_ID = '{new-request-id}';

export type TransitionResult = { ok: true; auditId?: string } | { ok: false; reason: 'missing' | 'expired' | 'state' | 'rev' | 'taken'; current?: string };

export type NewRequest = Pick<
  ActionRequest,
  'action' | 'target' | 'targets' | 'account' | 'region' | 'findingKey' | 'findingId' | 'channel' | 'threadTs' | 'requestedBy' | 'reason' | 'needsApproval' | 'undoes' | 'followCard' | 'approvalsNeeded' | 'auto'
>;

export class RequestStore {
  private readonly shown: SettledMessages;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retentionSeconds: number,
  ) {
    if (!redis.irCreateRequest) redis.defineCommand('irCreateRequest', { numberOfKeys: 5, lua: CREATE_LUA });
    if (!redis.irTransition) redis.defineCommand('irTransition', { lua: TRANSITION_LUA });
    this.shown = new SettledMessages(redis, this.unsettledKey, { ts: 'statusTs', rendered: 'renderedVersion', version: 'version' });
  }

  private get openKey(): string {
    return `${this.prefix}:reqs:open`;
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

  /**
   * `created: false` means an open request for this action and target exists and is returned.
   * `audit` (encoded with `requestId: NEW_REQUEST_ID`) is written in the same step as the request.
   */
  async create(r: NewRequest, audit?: EncodedAuditEntry, now = Date.now()): Promise<{ created: boolean; id: string; auditId?: string }> {
    const fields = toFields({ ...r, state: 'planning', createdAt: now });
    const indexes = new Set([...(r.findingKey ? [this.indexKey('finding', r.findingKey)] : []), ...[r.target, ...r.targets].map((t) => this.indexKey('target', t))]);
    // The marker is checked against the request's state; its lifetime only cleans up after it.
    const activeTtl = this.retentionSeconds;
    const [created, id, auditId] = (await this.redis.irCreateRequest(
      this.activeKey(r.action, r.targets),
      `${this.prefix}:reqseq`,
      `${this.prefix}:reqs`,
      this.unsettledKey,
      this.openKey,
      `${this.prefix}:req:`,
      `${r.action}-${idPart(r.target)}`,
      String(now),
      String(activeTtl),
      String(this.retentionSeconds),
      String(indexes.size),
      String(audit?.fields.length ?? 0),
      audit?.stream ?? '',
      NEW_REQUEST_ID,
      ...indexes,
      ...(audit ? [...audit.fields, String(audit.indexes.length), ...audit.indexes] : []),
      ...fields,
    )) as [number, string, string];
    return { created: created === 1, id, auditId: auditId || undefined };
  }

  async get(id: string): Promise<ActionRequest | undefined> {
    return fromHash(await this.redis.hgetall(this.key(id)));
  }

  async transition(
    id: string,
    /** `unset`: a field that must still be empty, or the transition is not taken (reason `taken`, current = its value). */
    cond: { from?: RequestState[]; rev?: number; notExpiredAt?: number; unset?: keyof ActionRequest },
    patch: RequestPatch,
    audit?: EncodedAuditEntry,
  ): Promise<TransitionResult> {
    const req = await this.redis.hmget(this.key(id), 'action', 'targets');
    if (!req[0]) return { ok: false, reason: 'missing' };
    const ids = JSON.parse(req[1] ?? '[]') as string[];
    const terminal = !!patch.state && isTerminal(patch.state);
    const keys = [this.key(id), this.activeKey(req[0], ids), this.unsettledKey, this.openKey, ...(audit ? [audit.stream, ...audit.indexes] : [])];
    const res = String(
      await this.redis.irTransition(
        keys.length,
        ...keys,
        (cond.from ?? []).join(','),
        cond.rev === undefined ? '' : String(cond.rev),
        cond.notExpiredAt === undefined ? '' : String(cond.notExpiredAt),
        terminal ? '1' : '0',
        String(Date.now()),
        String(audit?.fields.length ?? 0),
        cond.unset ?? '',
        ...(audit?.fields ?? []),
        ...toFields(patch),
      ),
    );
    if (res === 'ok' || res.startsWith('ok:')) return { ok: true, auditId: res.slice(3) || undefined };
    const [reason, current] = res.split(':') as [string, string | undefined];
    return { ok: false, reason: reason as 'missing' | 'expired' | 'state' | 'rev' | 'taken', current };
  }

  /** Requests not yet ended, oldest first: `[id, created ms]`. */
  async open(limit: number): Promise<{ id: string; createdAt: number }[]> {
    const flat = await this.redis.zrange(this.openKey, 0, limit - 1, 'WITHSCORES');
    const out: { id: string; createdAt: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i], createdAt: Number(flat[i + 1]) });
    return out;
  }

  /** Drops an id whose request hash is gone (retention) from the open set. */
  async forgetOpen(id: string): Promise<void> {
    await this.redis.zrem(this.openKey, id);
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
    irCreateRequest(...args: string[]): Result<[number, string, string], Context>;
    irTransition(numberOfKeys: number, ...args: string[]): Result<string, Context>;
  }
}

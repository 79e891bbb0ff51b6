import { randomUUID } from 'node:crypto';
import type { Redis, Result } from 'ioredis';
import type { ClosedState, Finding } from '../findings/model';
import { SettledMessages } from '../slack/settled';
import type { CardMarks } from './incident';

export type FindingStatus = 'new' | 'updated' | 'duplicate';

export interface Assignment {
  cardId: string;
  status: FindingStatus;
  /** No render of this card is queued yet: the caller must queue one. */
  renderNeeded: boolean;
  /** The finding created this card (first post is due). */
  cardCreated: boolean;
}

export interface CardState {
  cardId: string;
  channel: string;
  ts?: string;
  storm: boolean;
  /** The routed channel refused the card, which went to the default channel instead. */
  rerouted?: { channel: string; error: string };
  version: number;
  renderedVersion: number;
  findings: Finding[];
  /** Who acknowledged, resolved or suppressed it from the card. */
  marks: CardMarks;
  /** What each instance's story found about its launch (CloudTrail RunInstances, the AMI's owner) and production (ASG, target groups). */
  launches: Record<string, LaunchFacts>;
}

/** The part of an instance's story the card gathers into its common cause. Raw AWS text: escape before display. */
export interface LaunchFacts {
  principal?: string;
  accessKeyId?: string;
  amiId?: string;
  amiOwnerId?: string;
  /** Amazon's own AMIs (alias `amazon`) are never "another account's". */
  amiOwnerAlias?: string;
  /** Production impact, for the card's first line: the instance's Auto Scaling group and target groups (names). */
  autoScalingGroup?: string;
  targetGroups?: string[];
  /** Why the Auto Scaling group or target groups could not be checked (the story's reason). */
  productionUnchecked?: string;
}

export interface ThreadRef {
  channel: string;
  ts: string;
}

export interface GroupingOptions {
  windowMs: number;
  maxCardsPerWindow: number;
  retentionSeconds: number;
}

/**
 * One atomic step per finding, so concurrent workers and re-delivered jobs agree:
 * store the finding if it is newer, then keep its card or find/open the card it joins.
 * Group keys (same resource, then same type+account) point at a card for `window` after the
 * card opened; once a channel opened `maxCards` cards in the window, new findings roll up per account.
 */
const ASSIGN_LUA = `
local fk = KEYS[1]
local chcards = KEYS[2]
local prefix, fkey, data = ARGV[1], ARGV[2], ARGV[3]
local upd, cnt = tonumber(ARGV[4]), tonumber(ARGV[5])
local channel, now, win = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local maxCards, newCard, retention, stormKey = tonumber(ARGV[9]), ARGV[10], tonumber(ARGV[11]), ARGV[12]

local status = 'new'
local prevU = redis.call('HGET', fk, 'u')
if prevU then
  local pu, pn = tonumber(prevU), tonumber(redis.call('HGET', fk, 'n') or '0')
  if upd > pu or (upd == pu and cnt > pn) then status = 'updated' else status = 'duplicate' end
end
if status ~= 'duplicate' then
  redis.call('HSET', fk, 'd', data, 'u', ARGV[4], 'n', ARGV[5], 'lc', ARGV[16])
end
redis.call('EXPIRE', fk, retention)
-- The instance's latest finding, for /ir commands that name only the instance.
if ARGV[13] ~= '' and status ~= 'duplicate' then redis.call('SET', prefix .. 'inst:' .. ARGV[13], fkey, 'EX', retention) end
-- The provider's finding id, for /ir report and /ir audit.
if status == 'new' then redis.call('SET', prefix .. 'fid:' .. ARGV[15], fkey, 'EX', retention) end

local card = redis.call('HGET', fk, 'c')
-- A render is already queued for the card (and has not started) unless 'rq' is missing or old.
local function renderNeeded(c)
  local ck = prefix .. 'card:' .. c
  local rq = tonumber(redis.call('HGET', ck, 'rq') or '0')
  if now - rq < tonumber(ARGV[14]) then return '0' end
  redis.call('HSET', ck, 'rq', now)
  return '1'
end

if card and redis.call('EXISTS', prefix .. 'card:' .. card) == 1 then
  if status == 'updated' then
    redis.call('HINCRBY', prefix .. 'card:' .. card, 'v', 1)
    redis.call('ZADD', prefix .. 'cards:unsettled', 'NX', now, card)
  end
  return {card, status, '0', renderNeeded(card)}
end

local function open(gk)
  local c = redis.call('GET', gk)
  if c and redis.call('EXISTS', prefix .. 'card:' .. c) == 1 then return c end
  return nil
end

local groupKeys = {}
local chosen = nil
for i = 17, #ARGV do
  local gk = prefix .. 'grp:' .. channel .. ':' .. ARGV[i]
  groupKeys[#groupKeys + 1] = gk
  if not chosen then chosen = open(gk) end
end

local created = '0'
local storm = '0'
if not chosen then
  redis.call('ZREMRANGEBYSCORE', chcards, '-inf', now - win)
  if redis.call('ZCARD', chcards) >= maxCards then
    local sk = prefix .. 'grp:' .. channel .. ':' .. stormKey
    chosen = open(sk)
    storm = '1'
    groupKeys[#groupKeys + 1] = sk
  end
end
if not chosen then
  chosen = newCard
  created = '1'
  redis.call('HSET', prefix .. 'card:' .. chosen, 'ch', channel, 'v', '0', 'rv', '-1', 'created', ARGV[7], 'storm', storm)
  redis.call('EXPIRE', prefix .. 'card:' .. chosen, retention)
  redis.call('ZADD', chcards, now, chosen)
  redis.call('PEXPIRE', chcards, win)
end
for _, gk in ipairs(groupKeys) do
  redis.call('SET', gk, chosen, 'PX', win, 'NX')
end
local members = prefix .. 'card:' .. chosen .. ':f'
redis.call('ZADD', members, 'NX', now, fkey)
redis.call('EXPIRE', members, retention)
redis.call('HSET', fk, 'c', chosen)
redis.call('HINCRBY', prefix .. 'card:' .. chosen, 'v', 1)
redis.call('ZADD', prefix .. 'cards:unsettled', 'NX', now, chosen)
return {chosen, status, created, renderNeeded(chosen)}
`;

/**
 * How long a queued render counts as pending. Past it, a finding queues another render anyway
 * (deduplicated by BullMQ), so a render lost between the mark and the queue heals itself.
 */
const RENDER_PENDING_MS = 60_000;

/** 16 hex digits; randomUUID draws from a cached entropy pool (randomBytes costs a syscall per call). */
const newCardId = () => randomUUID().replace(/-/g, '').slice(0, 16);

/** Redis keys are `${prefix}:…`; every deployment or test picks its own prefix. */
export class CardStore {
  private readonly shown: SettledMessages;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    if (!redis.assignFinding) {
      redis.defineCommand('assignFinding', { numberOfKeys: 2, lua: ASSIGN_LUA });
    }
    this.shown = new SettledMessages(redis, this.k('cards', 'unsettled'), { ts: 'ts', rendered: 'rv', version: 'v' });
  }

  private k(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /** Group keys for a finding, most specific first. */
  static groupKeys(f: Finding): string[] {
    const keys: string[] = [];
    if (f.instance) keys.push(`res:${f.instance.id}`);
    if (f.principal?.accessKeyId) keys.push(`res:${f.principal.accessKeyId}`);
    keys.push(`ta:${f.accountId}:${f.type}`);
    return keys;
  }

  async assign(f: Finding, channel: string, opts: GroupingOptions, now = Date.now()): Promise<Assignment> {
    const [cardId, status, created, render] = (await this.redis.assignFinding(
      this.k('f', f.key),
      this.k('chcards', channel),
      `${this.prefix}:`,
      f.key,
      JSON.stringify(f),
      String(Date.parse(f.updatedAt)),
      String(f.count),
      channel,
      String(now),
      String(opts.windowMs),
      String(opts.maxCardsPerWindow),
      newCardId(),
      String(opts.retentionSeconds),
      `acct:${f.accountId}`,
      f.instance?.id ?? '',
      String(RENDER_PENDING_MS),
      f.id,
      JSON.stringify({ ...(f.closed ? { closed: { state: f.closed.state } } : {}), ...(f.reopened ? { reopened: f.reopened } : {}) }),
      ...CardStore.groupKeys(f),
    )) as [string, FindingStatus, string, string];
    return { cardId, status, cardCreated: created === '1', renderNeeded: render === '1' };
  }

  /** Whether the stored version of a finding is closed or reopened: a few bytes, read for every finding at intake. */
  async lifecycleOf(key: string): Promise<Pick<Finding, 'reopened'> & { closed?: { state: ClosedState } } | undefined> {
    const raw = await this.redis.hget(this.k('f', key), 'lc');
    return raw ? (JSON.parse(raw) as Pick<Finding, 'reopened'> & { closed?: { state: ClosedState } }) : undefined;
  }

  async getFinding(key: string): Promise<Finding | undefined> {
    const data = await this.redis.hget(this.k('f', key), 'd');
    return data ? (JSON.parse(data) as Finding) : undefined;
  }

  async loadCard(cardId: string): Promise<CardState | undefined> {
    const [[cardErr, card], [membersErr, members], [launchErr, launchRows]] = ((await this.redis
      .multi()
      .hgetall(this.k('card', cardId))
      .zrange(this.k('card', cardId, 'f'), 0, -1)
      .hgetall(this.k('card', cardId, 'launch'))
      .exec()) ?? [[null, {}], [null, []], [null, {}]]) as [[Error | null, Record<string, string>], [Error | null, string[]], [Error | null, Record<string, string>]];
    if (cardErr || membersErr || launchErr) throw cardErr ?? membersErr ?? launchErr;
    if (!card?.ch) return undefined;
    const pipeline = this.redis.pipeline();
    for (const m of members) pipeline.hget(this.k('f', m), 'd');
    const rows = (await pipeline.exec()) ?? [];
    const findings = rows.map(([, v]) => v).filter((v): v is string => typeof v === 'string').map((v) => JSON.parse(v) as Finding);
    return {
      cardId,
      channel: card.ch,
      ts: card.ts || undefined,
      storm: card.storm === '1',
      rerouted: card.rerouted ? { channel: card.rerouted, error: card.reroutedError ?? 'unknown' } : undefined,
      version: Number(card.v ?? 0),
      renderedVersion: Number(card.rv ?? -1),
      findings,
      marks: parseMarks(card),
      launches: Object.fromEntries(Object.entries(launchRows ?? {}).map(([id, v]) => [id, JSON.parse(v) as LaunchFacts])),
    };
  }

  /** Records the posted message so later responses reply in its thread. */
  async markPosted(cardId: string, ts: string, version: number): Promise<void> {
    await this.shown.settle(this.k('card', cardId), cardId, { ts, rendered: version });
  }

  /** A render is starting: findings from now on must queue the next one. */
  async renderStarted(cardId: string): Promise<void> {
    await this.redis.hdel(this.k('card', cardId), 'rq');
  }

  async markRendered(cardId: string, version: number): Promise<void> {
    await this.shown.settle(this.k('card', cardId), cardId, { rendered: version });
  }

  /** A render found nothing to do (already shown, or the card is gone): settle it as it is. */
  async checkSettled(cardId: string): Promise<void> {
    await this.shown.settle(this.k('card', cardId), cardId);
  }

  /** Cards whose latest version Slack does not show yet. */
  unshownCount(): Promise<number> {
    return this.shown.count();
  }

  /** The card expired or lost its findings: nothing left to show. */
  async dropUnsettled(cardId: string): Promise<void> {
    await this.shown.drop(cardId);
  }

  /**
   * Cards Slack has not shown at their latest version since before `before` (ms): their render
   * gave up (a long Slack outage) or was lost. The sweeper queues them again.
   */
  async unsettled(before: number, limit: number): Promise<string[]> {
    return this.shown.since(before, limit);
  }

  /**
   * The routed channel cannot take the card (the bot is not invited, it was archived or deleted):
   * the card, and its thread with every later response, moves to `channel`. Only before it is posted.
   */
  async reroute(cardId: string, channel: string, error: string): Promise<void> {
    const ck = this.k('card', cardId);
    const [from, ts] = await this.redis.hmget(ck, 'ch', 'ts');
    if (!from || ts || from === channel) return;
    await this.redis.hset(ck, 'ch', channel, 'rerouted', from, 'reroutedError', error);
  }

  /** How many findings the card had when its full list last went to its thread (0: never). */
  async listedCount(cardId: string): Promise<number> {
    return Number((await this.redis.hget(this.k('card', cardId), 'listed')) ?? 0);
  }

  async markListed(cardId: string, findings: number): Promise<void> {
    await this.redis.hset(this.k('card', cardId), 'listed', String(findings));
  }

  /** The message was deleted in Slack: the next render posts it again. */
  async forgetMessage(cardId: string): Promise<void> {
    await this.redis.hdel(this.k('card', cardId), 'ts');
  }

  /** The thread a finding's card lives in, once the card is posted. */
  async threadOf(findingKey: string): Promise<ThreadRef | undefined> {
    const cardId = await this.redis.hget(this.k('f', findingKey), 'c');
    if (!cardId) return undefined;
    const [ch, ts] = await this.redis.hmget(this.k('card', cardId), 'ch', 'ts');
    return ch && ts ? { channel: ch, ts } : undefined;
  }

  /** The channel a finding's card was routed to (or rerouted to), posted or not yet. */
  async channelOf(findingKey: string): Promise<string | undefined> {
    const cardId = await this.redis.hget(this.k('f', findingKey), 'c');
    return (cardId && (await this.redis.hget(this.k('card', cardId), 'ch'))) || undefined;
  }

  /** `/ir isolate i-…` finds the instance's latest finding (account, region, thread) through this. */
  async findingKeyForId(findingId: string): Promise<string | undefined> {
    return (await this.redis.get(this.k('fid', findingId))) ?? undefined;
  }

  /** Every finding on a card (roll-ups hold many). */
  async cardFindings(cardId: string): Promise<Finding[]> {
    return (await this.loadCard(cardId))?.findings ?? [];
  }

  /**
   * Something the card shows changed outside its findings (a request moved, someone acknowledged):
   * a new version for the next render. Returns the card, if the finding has one.
   */
  async touch(findingKey: string, now = Date.now(), once?: string): Promise<string | undefined> {
    const cardId = await this.cardOf(findingKey);
    if (!cardId) return undefined;
    const ck = this.k('card', cardId);
    if (!(await this.redis.exists(ck))) return undefined;
    // `once` names the change (a request reaching a state): a second report of it changes nothing.
    if (once && !(await this.redis.hsetnx(ck, `seen:${once}`, '1'))) return undefined;
    await this.redis.multi().hincrby(ck, 'v', 1).zadd(this.k('cards', 'unsettled'), 'NX', now, cardId).exec();
    return cardId;
  }

  /**
   * Acknowledge makes the clicker the owner (a later Acknowledge takes it over); Resolve and
   * Suppress close the incident. Returns the card to render again.
   */
  async markWorkflow(findingKey: string, status: 'NOTIFIED' | 'RESOLVED' | 'SUPPRESSED', user: string, at = Date.now()): Promise<string | undefined> {
    const cardId = await this.cardOf(findingKey);
    if (!cardId) return undefined;
    const field = status === 'NOTIFIED' ? 'ack' : 'resolved';
    await this.redis.hset(this.k('card', cardId), field, JSON.stringify(status === 'NOTIFIED' ? { by: user, at } : { by: user, at, status }));
    return this.touch(findingKey, at);
  }

  /** An instance's story was told: its launch facts join the card's common cause (a new version when they are new). */
  async recordLaunch(cardId: string, instanceId: string, facts: LaunchFacts): Promise<boolean> {
    const key = this.k('card', cardId, 'launch');
    const value = JSON.stringify(facts);
    if ((await this.redis.hget(key, instanceId)) === value) return false;
    await this.redis
      .multi()
      .hset(key, instanceId, value)
      .expireat(key, Math.floor(Date.now() / 1000) + 90 * 86400)
      .hincrby(this.k('card', cardId), 'v', 1)
      .zadd(this.k('cards', 'unsettled'), 'NX', Date.now(), cardId)
      .exec();
    return true;
  }

  /** What the card last announced in a new message (escalations): a summary string, or undefined before the first. */
  async announced(cardId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.k('card', cardId), 'announced')) ?? undefined;
  }

  async markAnnounced(cardId: string, summary: string): Promise<void> {
    await this.redis.hset(this.k('card', cardId), 'announced', summary);
  }

  async cardOf(findingKey: string): Promise<string | undefined> {
    return (await this.redis.hget(this.k('f', findingKey), 'c')) ?? undefined;
  }

  async findingKeyForInstance(instanceId: string): Promise<string | undefined> {
    return (await this.redis.get(this.k('inst', instanceId))) ?? undefined;
  }
}

function parseMarks(card: Record<string, string>): CardMarks {
  const read = (v: string | undefined) => {
    try {
      return v ? (JSON.parse(v) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const ack = read(card.ack);
  const resolved = read(card.resolved);
  return {
    ...(ack ? { ack: { by: String(ack.by), at: Number(ack.at) } } : {}),
    ...(resolved && (resolved.status === 'RESOLVED' || resolved.status === 'SUPPRESSED') ? { resolved: { by: String(resolved.by), at: Number(resolved.at), status: resolved.status } } : {}),
  };
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    assignFinding(...args: string[]): Result<[string, string, string, string], Context>;
  }
}

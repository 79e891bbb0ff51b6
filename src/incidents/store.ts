import type { Redis } from 'ioredis';
import { cardClockKey } from '../jobs/incident-clock';

export const INCIDENT_STATUSES = ['investigating', 'contained', 'eradicated', 'recovered', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

/** Response-time milestones per incident, measured from its start (earliest finding first seen, else the declaration). */
export const MILESTONES = ['acknowledged', 'contained', 'eradicated', 'closed'] as const;
export type IncidentMilestone = (typeof MILESTONES)[number];

export const INCIDENT_ID_PATTERN = /^inc-\d{1,9}$/;

export interface Incident {
  id: string;
  number: number;
  title: string;
  status: IncidentStatus;
  /** When each status was entered. */
  statusAt: Partial<Record<IncidentStatus, number>>;
  commander?: string;
  scribe?: string;
  /** A Slack user, or `system` when a config rule declared it. */
  declaredBy: string;
  declaredAt: number;
  /** The earliest first-seen of its findings when declared (or the declaration): response times count from here. */
  startedAt: number;
  milestones: Partial<Record<IncidentMilestone, number>>;
  /** Where it was declared: problems the channel set-up meets are told there. */
  origin: { channel: string; threadTs?: string };
  /** Member cards, each by one of its finding keys (requests and threads are found from it). */
  findingKeys: string[];
  /** Requests made in the incident channel about resources no card shows. */
  requestIds: string[];
  /**
   * Channel set-up, step by step, so a job re-run after a crash continues instead of repeating:
   * `channelName` is written before conversations.create, `channel` after it answered.
   */
  channelName?: string;
  channel?: string;
  invited?: boolean;
  summaryTs?: string;
  pinned?: boolean;
  /** Parts that could not be set up, in words for the summary (the incident works without them). */
  problems: string[];
  closedBy?: string;
  /** The Jira issue: `creating` is written before the create call (a retry looks for it by label before creating again). */
  ticket?: { key?: string; state: 'pending' | 'created' | 'failed'; creating?: boolean; note?: string };
}

const CAS = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 else return 0 end";

export interface TimelineEntry {
  at: number;
  kind: 'declared' | 'status' | 'role' | 'card' | 'note' | 'result' | 'problem' | 'closed';
  user?: string;
  text: string;
}

/**
 * Incidents in Redis: one JSON record each (changed under WATCH, so concurrent commands never
 * lose each other's change), a card → incident map, a channel → incident map, an index by
 * declaration time for `/ir stats`, and an append-only timeline list.
 */
export class IncidentStore {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  private key(...parts: string[]): string {
    return [this.prefix, 'inc', ...parts].join(':');
  }

  async get(id: string): Promise<Incident | undefined> {
    const raw = await this.redis.get(this.key('rec', id));
    return raw ? (JSON.parse(raw) as Incident) : undefined;
  }

  /**
   * A new incident. With `cardId`, the card may belong to one incident only: when it already
   * does, that incident is returned with `created: false` (a double click declares once).
   */
  async create(init: Omit<Incident, 'id' | 'number' | 'status' | 'statusAt' | 'milestones' | 'requestIds' | 'problems'>, cardId?: string): Promise<{ incident: Incident; created: boolean }> {
    if (cardId) {
      const existing = await this.redis.get(this.key('card', cardId));
      if (existing) return { incident: (await this.get(existing))!, created: false };
    }
    const number = await this.redis.incr(this.key('seq'));
    const id = `inc-${number}`;
    if (cardId && !(await this.redis.set(this.key('card', cardId), id, 'NX'))) {
      const winner = (await this.redis.get(this.key('card', cardId)))!;
      return { incident: (await this.get(winner))!, created: false };
    }
    const incident: Incident = { ...init, id, number, status: 'investigating', statusAt: { investigating: init.declaredAt }, milestones: {}, requestIds: [], problems: [] };
    await this.redis.multi().set(this.key('rec', id), JSON.stringify(incident)).zadd(this.key('all'), init.declaredAt, id).exec();
    return { incident, created: true };
  }

  /**
   * Applies `change` to the stored record atomically: written only if the record is still what
   * `change` saw (compare-and-set in one script, since WATCH is unsafe on a connection shared by
   * concurrent jobs), else read again and retried. Undefined when unknown.
   */
  async update(id: string, change: (i: Incident) => Incident | undefined): Promise<Incident | undefined> {
    const key = this.key('rec', id);
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) return undefined;
      const next = change(JSON.parse(raw) as Incident);
      if (!next) return JSON.parse(raw) as Incident;
      if (await this.redis.eval(CAS, 1, key, raw, JSON.stringify(next))) return next;
    }
    throw new Error(`incident ${id} is changing too fast to update`);
  }

  /** When the card was first acknowledged (its Acknowledge button), if it was. */
  async cardAcknowledgedAt(cardId: string): Promise<number | undefined> {
    const at = Number(await this.redis.hget(cardClockKey(this.prefix, cardId), 'acknowledged'));
    return Number.isFinite(at) && at > 0 ? at : undefined;
  }

  async ofCard(cardId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('card', cardId))) ?? undefined;
  }

  /** Moves (or adds) a card to incident `to`; returns the incident it left, if any. */
  async setCard(cardId: string, to: string): Promise<string | undefined> {
    const from = await this.redis.getset(this.key('card', cardId), to);
    return from && from !== to ? from : undefined;
  }

  async ofTicket(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('ticket', key))) ?? undefined;
  }

  async setTicket(key: string, id: string): Promise<void> {
    await this.redis.set(this.key('ticket', key), id);
  }

  async ofChannel(channel: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('chan', channel))) ?? undefined;
  }

  async setChannel(channel: string, id: string): Promise<void> {
    await this.redis.set(this.key('chan', channel), id);
  }

  /** Whether the line named `key` was posted for this incident (lines are posted once each). */
  async said(id: string, key: string): Promise<boolean> {
    return (await this.redis.sismember(this.key('said', id), key)) === 1;
  }

  async markSaid(id: string, key: string): Promise<void> {
    await this.redis.sadd(this.key('said', id), key);
  }

  async addTimeline(id: string, e: TimelineEntry): Promise<void> {
    await this.redis.rpush(this.key('tl', id), JSON.stringify(e));
  }

  async timeline(id: string): Promise<TimelineEntry[]> {
    return (await this.redis.lrange(this.key('tl', id), 0, -1)).map((x) => JSON.parse(x) as TimelineEntry);
  }

  /** Incidents declared since `since` (ms), oldest first. */
  async declaredSince(since: number): Promise<Incident[]> {
    const ids = await this.redis.zrangebyscore(this.key('all'), since, '+inf');
    return (await Promise.all(ids.map((id) => this.get(id)))).filter((i): i is Incident => !!i);
  }
}

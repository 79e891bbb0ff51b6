import type { JobsOptions, Queue } from 'bullmq';
import type { CardStore } from '../cards/store';
import type { Metrics } from '../metrics';
import type { RequestStore } from '../requests/store';
import { label, timelineSafe, type IncidentFacts } from './view';
import { INCIDENT_STATUSES, type Incident, type IncidentMilestone, type IncidentStatus, type IncidentStore, type TimelineEntry } from './store';

/** Jobs of the incidents queue; every one is safe to run twice (see incidents/worker.ts). */
export type IncidentJob =
  /** Channel, invitations, pinned summary, links in the member cards' threads: each step once. */
  | { kind: 'setup'; id: string }
  /** Re-render the pinned summary (deduplicated: a burst of changes renders once). */
  | { kind: 'summary'; id: string }
  /** One line in the incident channel (status changes, results), posted once under `key`. */
  | { kind: 'say'; id: string; key: string; text: string; threadOf?: string }
  /** The report into the channel, then the archive when configured. */
  | { kind: 'close'; id: string; user: string }
  /** A new commander or scribe into the channel. */
  | { kind: 'invite'; id: string; user: string }
  /** Jira: create the issue, comment on it, or (close) comment the report and transition it. */
  | { kind: 'ticket'; id: string; step: 'create' | 'comment' | 'close'; text?: string };

/** Jira may be down for hours: retried with backoff (18 attempts, about three days in all), never in the way of containment. */
export const TICKET_JOB_OPTIONS: JobsOptions = { attempts: 18, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };

export const INCIDENT_JOB_OPTIONS: JobsOptions = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

const STATUS_MILESTONE: Partial<Record<IncidentStatus, IncidentMilestone>> = { contained: 'contained', eradicated: 'eradicated', closed: 'closed' };

export class IncidentError extends Error {}

/**
 * Incidents as a unit, without Slack: declare, join and move cards, roles, status, notes and
 * response times. Slack work (channel, invitations, summary) is queued for the worker.
 */
export class IncidentService {
  constructor(
    readonly store: IncidentStore,
    private readonly cards: CardStore,
    private readonly queue: Queue<IncidentJob>,
    private readonly metrics: Metrics,
    private readonly requests: RequestStore,
    /** Jira is configured: declared incidents get a ticket. */
    private readonly tickets = false,
  ) {}

  /** Queues a Jira step; `name` makes it once per incident (a retried command queues it once). */
  async ticket(id: string, step: 'create' | 'comment' | 'close', name: string, text?: string): Promise<void> {
    if (!this.tickets) return;
    await this.queue.add('ticket', { kind: 'ticket', id, step, text }, { ...TICKET_JOB_OPTIONS, jobId: `inc-ticket-${id}-${name}` });
  }

  /** Everything the summary, catch-up, timeline and report show: member findings, their requests, the timeline. */
  async facts(id: string): Promise<IncidentFacts | undefined> {
    const incident = await this.store.get(id);
    if (!incident) return undefined;
    const findings = [];
    const threads: NonNullable<IncidentFacts['threads']> = {};
    for (const k of incident.findingKeys) {
      const cardId = (await this.cards.cardOf(k)) ?? k;
      const all = await this.cards.cardFindings(cardId);
      findings.push(...(all.length ? all : [await this.cards.getFinding(k)].filter((f) => !!f).map((f) => f!)));
      const t = await this.cards.threadOf(k);
      if (t) threads[k] = t;
    }
    const resources = [...new Set(findings.flatMap((f) => [f.instance?.id, f.principal?.accessKeyId, f.principal?.arn]).filter((x): x is string => !!x))];
    const about = findings.length ? await this.requests.about({ findingKeys: findings.map((f) => f.key), targets: resources }) : [];
    const extra = (await Promise.all(incident.requestIds.filter((r) => !about.some((a) => a.id === r)).map((r) => this.requests.get(r)))).filter((r) => !!r).map((r) => r!);
    return { incident, findings, requests: [...about, ...extra], timeline: await this.store.timeline(id), threads };
  }

  async declare(input: { title?: string; findingKey?: string; user: string; origin: { channel: string; threadTs?: string } }, now = Date.now()): Promise<{ incident: Incident; created: boolean }> {
    let cardId: string | undefined;
    let startedAt = now;
    let title = input.title?.trim();
    if (input.findingKey) {
      cardId = (await this.cards.cardOf(input.findingKey)) ?? input.findingKey;
      const findings = await this.cards.cardFindings(cardId);
      const one = findings.length ? findings : [await this.cards.getFinding(input.findingKey)].filter((f) => !!f);
      const seen = one.map((f) => Date.parse(f!.firstSeen)).filter((t) => Number.isFinite(t));
      if (seen.length) startedAt = Math.min(now, ...seen);
      title ||= one[0] ? `${one[0].severityLabel} ${one[0].type}` : undefined;
    }
    const res = await this.store.create(
      {
        title: (title || 'Untitled incident').slice(0, 200),
        declaredBy: input.user,
        declaredAt: now,
        startedAt,
        origin: input.origin,
        findingKeys: input.findingKey ? [input.findingKey] : [],
        commander: input.user === 'system' ? undefined : input.user,
      },
      cardId,
    );
    if (!res.created) return res;
    const id = res.incident.id;
    await this.store.addTimeline(id, { at: now, kind: 'declared', user: input.user, text: `declared "${res.incident.title}"${input.user === 'system' ? ' by a config rule' : ''}` });
    // Acknowledged: the card's Acknowledge if it came first, else a person declaring it.
    const acked = cardId ? await this.store.cardAcknowledgedAt(cardId) : undefined;
    if (acked !== undefined || input.user !== 'system') await this.reach(id, 'acknowledged', Math.min(acked ?? now, now));
    if (this.tickets) {
      await this.store.update(id, (i) => ({ ...i, ticket: { state: 'pending' } }));
      await this.ticket(id, 'create', 'create');
    }
    await this.queue.add('setup', { kind: 'setup', id }, { ...INCIDENT_JOB_OPTIONS, jobId: `inc-setup-${id}` });
    return { incident: (await this.store.get(id))!, created: true };
  }

  /** A finding's key from its provider id or its key; undefined when ir-bot does not know it. */
  async findingKeyOf(idOrKey: string): Promise<string | undefined> {
    if (await this.cards.getFinding(idOrKey)) return idOrKey;
    return this.cards.findingKeyForId(idOrKey);
  }

  threadOfFinding(findingKey: string) {
    return this.cards.threadOf(findingKey);
  }

  /** The incident a card belongs to, by any of its finding keys. */
  async ofFinding(findingKey: string): Promise<Incident | undefined> {
    const cardId = (await this.cards.cardOf(findingKey)) ?? findingKey;
    const id = await this.store.ofCard(cardId);
    return id ? this.store.get(id) : undefined;
  }

  async ofChannel(channel: string): Promise<Incident | undefined> {
    const id = await this.store.ofChannel(channel);
    return id ? this.store.get(id) : undefined;
  }

  /** Adds a card to `id`, taking it out of the incident it was in. */
  async addCard(id: string, findingKey: string, user: string): Promise<{ incident: Incident; movedFrom?: string }> {
    const target = await this.store.get(id);
    if (!target) throw new IncidentError(`No incident \`${id}\` is known.`);
    if (target.status === 'closed') throw new IncidentError(`${label(target)} is closed; declare a new incident instead.`);
    const cardId = (await this.cards.cardOf(findingKey)) ?? findingKey;
    const cardKeys = new Set([findingKey, ...(await this.cards.cardFindings(cardId)).map((f) => f.key)]);
    const from = await this.store.setCard(cardId, id);
    if (from) {
      await this.store.update(from, (i) => ({ ...i, findingKeys: i.findingKeys.filter((k) => !cardKeys.has(k)) }));
      await this.store.addTimeline(from, { at: Date.now(), kind: 'card', user, text: `card moved to ${id}` });
      await this.refresh(from);
    }
    const incident = (await this.store.update(id, (i) => (i.findingKeys.some((k) => cardKeys.has(k)) ? undefined : { ...i, findingKeys: [...i.findingKeys, findingKey] })))!;
    const f = await this.cards.getFinding(findingKey);
    await this.store.addTimeline(id, { at: Date.now(), kind: 'card', user, text: `card joined${from ? ` (moved from ${from})` : ''}: ${f ? `${f.severityLabel} ${f.type}` : findingKey}` });
    // The setup job links member cards; re-running it links the new one (each link is posted once).
    await this.queue.add('setup', { kind: 'setup', id }, { ...INCIDENT_JOB_OPTIONS, jobId: `inc-setup-${id}-${findingKey}` });
    await this.refresh(id);
    return { incident, movedFrom: from };
  }

  async setRole(id: string, role: 'commander' | 'scribe', who: string, by: string): Promise<Incident> {
    const incident = await this.store.update(id, (i) => ({ ...i, [role]: who }));
    if (!incident) throw new IncidentError(`No incident \`${id}\` is known.`);
    const label = role === 'commander' ? 'incident commander' : 'scribe';
    await this.record(id, { at: Date.now(), kind: 'role', user: by, text: `<@${who}> is now ${label}` }, true);
    await this.queue.add('invite', { kind: 'invite', id, user: who }, { ...INCIDENT_JOB_OPTIONS, jobId: `inc-invite-${id}-${who}` });
    await this.reach(id, 'acknowledged');
    return incident;
  }

  /** Moves the status forward (investigating → contained → eradicated → recovered); `closed` only through close(). */
  async setStatus(id: string, status: IncidentStatus, by: string, now = Date.now()): Promise<Incident> {
    const before = await this.store.get(id);
    if (!before) throw new IncidentError(`No incident \`${id}\` is known.`);
    if (before.status === 'closed') throw new IncidentError(`${label(before)} is closed.`);
    const from = INCIDENT_STATUSES.indexOf(before.status);
    const to = INCIDENT_STATUSES.indexOf(status);
    if (to <= from) throw new IncidentError(`${label(before)} is already *${before.status}*; status only moves forward (${INCIDENT_STATUSES.join(' → ')}).`);
    const incident = (await this.store.update(id, (i) => ({ ...i, status, statusAt: { ...i.statusAt, [status]: now }, ...(status === 'closed' ? { closedBy: by } : {}) })))!;
    const since = now - (before.statusAt[before.status] ?? before.declaredAt);
    await this.record(id, { at: now, kind: 'status', user: by, text: `status *${before.status}* → *${status}* (after ${minutes(since)} ${before.status})` }, true);
    await this.reach(id, 'acknowledged', now);
    const m = STATUS_MILESTONE[status];
    if (m) await this.reach(id, m, now);
    if (status !== 'closed') await this.ticket(id, 'comment', `status-${status}`, `Status ${before.status} → ${status}, set in Slack by ${by}.`);
    return incident;
  }

  /** Closes: commander or an approver (the caller checks the approver part). */
  async close(id: string, by: string, isApprover: boolean): Promise<Incident> {
    const i = await this.store.get(id);
    if (!i) throw new IncidentError(`No incident \`${id}\` is known.`);
    if (i.commander !== by && !isApprover) throw new IncidentError(`Only the incident commander (${i.commander ? `<@${i.commander}>` : 'none yet'}) or an approver may close ${label(i)}.`);
    const closed = await this.setStatus(id, 'closed', by);
    await this.queue.add('close', { kind: 'close', id, user: by }, { ...INCIDENT_JOB_OPTIONS, jobId: `inc-close-${id}` });
    return closed;
  }

  async note(id: string, text: string, user: string, at = Date.now()): Promise<void> {
    await this.record(id, { at, kind: 'note', user, text: text.slice(0, 1000) }, false);
  }

  /** A timeline entry, and (when `announce`) the same line in the incident channel; the summary follows. */
  async record(id: string, e: TimelineEntry, announce: boolean): Promise<void> {
    await this.store.addTimeline(id, e);
    if (announce) await this.say(id, `tl-${e.at}-${e.kind}`, `${e.user && e.user !== 'system' ? `<@${e.user}>: ` : ''}${timelineSafe(e.text, 2000)}`);
    await this.refresh(id);
  }

  async say(id: string, key: string, text: string): Promise<void> {
    await this.queue.add('say', { kind: 'say', id, key, text }, { ...INCIDENT_JOB_OPTIONS, jobId: `inc-say-${id}-${key}`.replace(/[:.]/g, '_') });
  }

  /** A request changed (asked, waiting for approval, running): the summary of its incident, if any, follows. */
  async requestChanged(requestId: string): Promise<void> {
    const r = await this.requests.get(requestId);
    if (!r) return;
    const byCard = r.findingKey ? await this.ofFinding(r.findingKey) : undefined;
    const i = byCard ?? (await this.ofChannel(r.channel));
    if (!i || i.status === 'closed') return;
    // Asked in the incident channel about something no member card shows: it belongs here all the same.
    if (!byCard) await this.store.update(i.id, (x) => (x.requestIds.includes(r.id) ? undefined : { ...x, requestIds: [...x.requestIds, r.id] }));
    await this.refresh(i.id);
  }

  /** Re-renders the pinned summary soon; many changes in a burst render once. */
  async refresh(id: string): Promise<void> {
    await this.queue.add('summary', { kind: 'summary', id }, { ...INCIDENT_JOB_OPTIONS, deduplication: { id: `inc-summary-${id}`, keepLastIfActive: true }, delay: 200 });
  }

  /** The first time the incident reaches a milestone: kept on the record, and its delay to the histogram. */
  async reach(id: string, m: IncidentMilestone, at = Date.now()): Promise<boolean> {
    let first = false;
    const i = await this.store.update(id, (x) => {
      first = x.milestones[m] === undefined;
      return first ? { ...x, milestones: { ...x.milestones, [m]: at } } : undefined;
    });
    if (!i || !first) return false;
    this.metrics.incidentResponse.observe({ milestone: m }, Math.max(0, (at - i.startedAt) / 1000));
    return true;
  }
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

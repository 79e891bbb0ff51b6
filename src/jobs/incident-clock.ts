import type { Redis } from 'ioredis';
import { CONTAINMENT_ACTIONS } from '../audit/report';
import type { CardStore } from '../cards/store';
import type { Metrics } from '../metrics';
import type { ActionOutcome, ActionRequest } from '../requests/model';

/** Long enough to outlive any incident; a card's milestones are kept this long, then forgotten. */
const KEEP_SECONDS = 90 * 86_400;

export type Milestone = 'acknowledged' | 'contained';

/** Where a card's milestones are kept (declared incidents read a card's Acknowledge from here). */
export function cardClockKey(prefix: string, cardId: string): string {
  return `${prefix}:incident:${cardId}`;
}

/**
 * Time to acknowledge and time to contain, per incident (one card), on /metrics: the first time a
 * card is acknowledged or contained is kept in Redis (HSETNX, so a retried job or a second
 * Acknowledge click is not counted again), and its delay after the card's first finding was first
 * seen goes to a histogram.
 */
export class IncidentClock {
  constructor(private readonly deps: { redis: Redis; prefix: string; cards: CardStore; metrics: Metrics }) {}

  async reached(findingKey: string, milestone: Milestone, at = Date.now()): Promise<boolean> {
    const { redis, prefix, cards, metrics } = this.deps;
    const cardId = (await cards.cardOf(findingKey)) ?? findingKey;
    const key = cardClockKey(prefix, cardId);
    if (!(await redis.hsetnx(key, milestone, String(at)))) return false;
    await redis.expire(key, KEEP_SECONDS);
    const findings = await cards.cardFindings(cardId);
    const one = findings.length ? findings : [await cards.getFinding(findingKey)].filter((f) => !!f);
    const seen = one.map((f) => Date.parse(f!.firstSeen)).filter((t) => Number.isFinite(t));
    if (seen.length === 0) return true;
    const seconds = Math.max(0, (at - Math.min(...seen)) / 1000);
    (milestone === 'acknowledged' ? metrics.timeToAcknowledge : metrics.timeToContain).observe(seconds);
    return true;
  }

  /** A request that finished: a verified containment from a card is that incident's "contained". */
  async requestDone(r: ActionRequest, outcome: ActionOutcome): Promise<void> {
    if (!outcome.ok || !r.findingKey || !CONTAINMENT_ACTIONS.includes(r.action)) return;
    await this.reached(r.findingKey, 'contained', r.finishedAt ?? Date.now());
  }
}

import type { z } from 'zod';
import { asffRequired, fromAsff } from './asff';
import { fromGuardDuty, guardDutyRequired } from './guardduty';
import type { Finding } from './model';
import { arr, obj } from './loose';

export const GUARDDUTY_DETAIL_TYPE = 'GuardDuty Finding';
export const SECURITYHUB_DETAIL_TYPE = 'Security Hub Findings - Imported';

export interface Rejection {
  /** Where in the request: `event[2].detail.findings[0].AwsAccountId`. */
  where: string;
  reason: string;
}

export interface ParsedEvents {
  findings: Finding[];
  /** The first MAX_REJECTIONS_SHOWN rejections; `rejectedCount` says how many there were. */
  rejected: Rejection[];
  rejectedCount: number;
}

/** A sender needs the first few reasons to fix its input, not one per broken finding. */
export const MAX_REJECTIONS_SHOWN = 20;

function reject(out: ParsedEvents, ...r: Rejection[]): void {
  out.rejectedCount += r.length;
  const room = MAX_REJECTIONS_SHOWN - out.rejected.length;
  if (room > 0) out.rejected.push(...r.slice(0, room));
}

/** Findings an event carries: one for GuardDuty, `detail.findings` for Security Hub. */
function findingCount(event: unknown): number {
  const e = obj(event);
  if (e['detail-type'] !== SECURITYHUB_DETAIL_TYPE) return 1;
  const list = obj(e.detail).findings;
  return Array.isArray(list) ? list.length : 1;
}

function issuesAt(where: string, error: z.ZodError): Rejection[] {
  return error.issues.map((i) => ({
    where: [where, ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))].join(''),
    reason: i.message.endsWith('received undefined') ? 'required' : i.message,
  }));
}

function parseEvent(event: unknown, where: string, out: ParsedEvents): void {
  const e = obj(event);
  if (Object.keys(e).length === 0) {
    reject(out, { where, reason: 'must be an EventBridge event object' });
    return;
  }
  const detailType = e['detail-type'];
  if (typeof detailType !== 'string') {
    reject(out, { where: `${where}.detail-type`, reason: 'required' });
    return;
  }
  if (detailType === GUARDDUTY_DETAIL_TYPE) {
    const r = guardDutyRequired.safeParse(e.detail);
    if (r.success) out.findings.push(fromGuardDuty(r.data));
    else reject(out, ...issuesAt(`${where}.detail`, r.error));
    return;
  }
  if (detailType === SECURITYHUB_DETAIL_TYPE) {
    const list = obj(e.detail).findings;
    if (!Array.isArray(list) || list.length === 0) {
      reject(out, { where: `${where}.detail.findings`, reason: 'must be a non-empty array of ASFF findings' });
      return;
    }
    arr(list).forEach((f, i) => {
      const r = asffRequired.safeParse(f);
      if (r.success) out.findings.push(fromAsff(r.data));
      else reject(out, ...issuesAt(`${where}.detail.findings[${i}]`, r.error));
    });
    return;
  }
  reject(out, {
    where: `${where}.detail-type`,
    reason: `unknown detail-type ${JSON.stringify(detailType.slice(0, 100))} (expected "${GUARDDUTY_DETAIL_TYPE}" or "${SECURITYHUB_DETAIL_TYPE}")`,
  });
}

/** One EventBridge event or an array of them → findings and precise reasons for what was refused. */
export function parseEvents(body: unknown, maxEvents: number, maxFindings = Infinity): ParsedEvents | { error: string } {
  const out: ParsedEvents = { findings: [], rejected: [], rejectedCount: 0 };
  let events: { event: unknown; where: string }[];
  if (Array.isArray(body)) {
    if (body.length === 0) return { error: 'empty array: send at least one event' };
    if (body.length > maxEvents) return { error: `too many events in one request: ${body.length} (at most ${maxEvents})` };
    events = body.map((event, i) => ({ event, where: `event[${i}]` }));
  } else if (body !== null && typeof body === 'object') {
    events = [{ event: body, where: 'event' }];
  } else {
    return { error: 'body must be an EventBridge event object or an array of them' };
  }
  // Counted before any finding is looked at, so an oversized request costs nothing more.
  const total = events.reduce((n, e) => n + findingCount(e.event), 0);
  if (total > maxFindings) return { error: `too many findings in one request: ${total} (at most ${maxFindings}); send them in several requests` };
  for (const e of events) parseEvent(e.event, e.where, out);
  return out;
}

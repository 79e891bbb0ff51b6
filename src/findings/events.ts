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
  rejected: Rejection[];
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
    out.rejected.push({ where, reason: 'must be an EventBridge event object' });
    return;
  }
  const detailType = e['detail-type'];
  if (typeof detailType !== 'string') {
    out.rejected.push({ where: `${where}.detail-type`, reason: 'required' });
    return;
  }
  if (detailType === GUARDDUTY_DETAIL_TYPE) {
    const r = guardDutyRequired.safeParse(e.detail);
    if (r.success) out.findings.push(fromGuardDuty(r.data));
    else out.rejected.push(...issuesAt(`${where}.detail`, r.error));
    return;
  }
  if (detailType === SECURITYHUB_DETAIL_TYPE) {
    const list = obj(e.detail).findings;
    if (!Array.isArray(list) || list.length === 0) {
      out.rejected.push({ where: `${where}.detail.findings`, reason: 'must be a non-empty array of ASFF findings' });
      return;
    }
    arr(list).forEach((f, i) => {
      const r = asffRequired.safeParse(f);
      if (r.success) out.findings.push(fromAsff(r.data));
      else out.rejected.push(...issuesAt(`${where}.detail.findings[${i}]`, r.error));
    });
    return;
  }
  out.rejected.push({
    where: `${where}.detail-type`,
    reason: `unknown detail-type ${JSON.stringify(detailType.slice(0, 100))} (expected "${GUARDDUTY_DETAIL_TYPE}" or "${SECURITYHUB_DETAIL_TYPE}")`,
  });
}

/** One EventBridge event or an array of them → findings and precise reasons for what was refused. */
export function parseEvents(body: unknown, maxEvents: number): ParsedEvents | { error: string } {
  const out: ParsedEvents = { findings: [], rejected: [] };
  if (Array.isArray(body)) {
    if (body.length === 0) return { error: 'empty array: send at least one event' };
    if (body.length > maxEvents) return { error: `too many events in one request: ${body.length} (at most ${maxEvents})` };
    body.forEach((e, i) => parseEvent(e, `event[${i}]`, out));
  } else if (body !== null && typeof body === 'object') {
    parseEvent(body, 'event', out);
  } else {
    return { error: 'body must be an EventBridge event object or an array of them' };
  }
  return out;
}

import type { z } from 'zod';
import { asffRequired, fromAsff } from './asff';
import { fromGuardDuty, guardDutyRequired } from './guardduty';
import type { Finding } from './model';
import { arr, obj, str } from './loose';
import { fromOcsf, ocsfRequired } from './ocsf';

export const GUARDDUTY_DETAIL_TYPE = 'GuardDuty Finding';
export const SECURITYHUB_DETAIL_TYPE = 'Security Hub Findings - Imported';
export const SECURITYHUB_V2_DETAIL_TYPE = 'Findings Imported V2';
export const CUSTOM_ACTION_DETAIL_TYPE = 'Security Hub Findings - Custom Action';
const DETAIL_TYPES = [GUARDDUTY_DETAIL_TYPE, SECURITYHUB_DETAIL_TYPE, SECURITYHUB_V2_DETAIL_TYPE, CUSTOM_ACTION_DETAIL_TYPE];

/** Events Security Hub sends that carry no finding: refused, with what to change. */
const NOT_FINDINGS: Record<string, string> = {
  'Security Hub Insight Results': 'carries an insight\'s result counts, not a finding: nothing to put on a card (findings come as "Security Hub Findings - Imported")',
  'Security Hub Findings': 'is the pre-2019 detail-type: Security Hub now sends "Security Hub Findings - Imported"; point the EventBridge rule at that',
};

/** An analyst chose a Security Hub custom action on these findings (their cards are made or updated too). */
export interface CustomActionEvent {
  where: string;
  actionName: string;
  /** arn:…:securityhub:<region>:<account>:action/custom/<id> */
  actionArn?: string;
  eventId?: string;
  account?: string;
  /** Keys of the findings of this event that were accepted. */
  findingKeys: string[];
}

export interface Rejection {
  /** Where in the request: `event[2].detail.findings[0].AwsAccountId`. */
  where: string;
  reason: string;
}

export interface ParsedEvents {
  findings: Finding[];
  /** The first MAX_REJECTIONS_SHOWN rejections; `rejectedCount` says how many there were. */
  rejected: Rejection[];
  customActions: CustomActionEvent[];
  rejectedCount: number;
}

/** A sender needs the first few reasons to fix its input, not one per broken finding. */
export const MAX_REJECTIONS_SHOWN = 20;

function reject(out: ParsedEvents, ...r: Rejection[]): void {
  out.rejectedCount += r.length;
  const room = MAX_REJECTIONS_SHOWN - out.rejected.length;
  if (room > 0) out.rejected.push(...r.slice(0, room));
}

/** Findings an event carries: one for GuardDuty, `detail.findings` for Security Hub (v1, v2, custom actions). */
function findingCount(event: unknown): number {
  const e = obj(event);
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
  const context = { region: str(e.region), accountId: str(e.account) };
  if (detailType === GUARDDUTY_DETAIL_TYPE) {
    const r = guardDutyRequired.safeParse(e.detail);
    if (r.success) out.findings.push(fromGuardDuty(r.data, context));
    else reject(out, ...issuesAt(`${where}.detail`, r.error));
    return;
  }
  if (detailType in NOT_FINDINGS) {
    reject(out, { where: `${where}.detail-type`, reason: `${JSON.stringify(detailType)} is ${NOT_FINDINGS[detailType]}` });
    return;
  }
  if (!DETAIL_TYPES.includes(detailType)) {
    reject(out, {
      where: `${where}.detail-type`,
      reason: `unknown detail-type ${JSON.stringify(detailType.slice(0, 100))} (expected one of ${DETAIL_TYPES.map((t) => `"${t}"`).join(', ')})`,
    });
    return;
  }
  const list = obj(e.detail).findings;
  const ocsf = detailType === SECURITYHUB_V2_DETAIL_TYPE;
  if (!Array.isArray(list) || list.length === 0) {
    reject(out, { where: `${where}.detail.findings`, reason: `must be a non-empty array of ${ocsf ? 'OCSF' : 'ASFF'} findings` });
    return;
  }
  const before = out.findings.length;
  arr(list).forEach((f, i) => {
    if (ocsf) {
      const r = ocsfRequired.safeParse(f);
      if (r.success) out.findings.push(fromOcsf(r.data, context));
      else reject(out, ...issuesAt(`${where}.detail.findings[${i}]`, r.error));
      return;
    }
    const r = asffRequired.safeParse(f);
    if (r.success) out.findings.push(fromAsff(r.data, context));
    else reject(out, ...issuesAt(`${where}.detail.findings[${i}]`, r.error));
  });
  if (detailType === CUSTOM_ACTION_DETAIL_TYPE) {
    const detail = obj(e.detail);
    out.customActions.push({
      where,
      actionName: str(detail.actionName) ?? '',
      actionArn: str(arr(e.resources)[0]),
      eventId: str(e.id),
      account: str(e.account),
      findingKeys: out.findings.slice(before).map((f) => f.key),
    });
  }
}

/** One EventBridge event or an array of them → findings and precise reasons for what was refused. */
export function parseEvents(body: unknown, maxEvents: number, maxFindings = Infinity): ParsedEvents | { error: string } {
  const out: ParsedEvents = { findings: [], rejected: [], rejectedCount: 0, customActions: [] };
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

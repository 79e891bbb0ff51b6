/**
 * Where a finding is in its provider's lifecycle. A finding can arrive already closed (an analyst
 * resolved it in Security Hub, GuardDuty archived it, a control passed again): its card must say
 * so and stop offering containment, and a later active version must reopen the card.
 */
import type { ClosedState, Closure, Finding } from './model';
import { arr, bool, num, obj, str, type Json } from './loose';

/** Not closed, or closed and why. Odd values never close a finding: they are noted and it stays active. */
function firstClosure(checks: (Closure | undefined)[]): Closure | undefined {
  return checks.find((c): c is Closure => c !== undefined);
}

/** A state field's string value; anything else is noted as odd (and ignored). */
function stateText(v: unknown, field: string, known: readonly string[], notes: string[]): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = str(v);
  if (s === undefined || !known.includes(s.toUpperCase().replace(/[\s-]+/g, '_'))) {
    notes.push(`${field} ${JSON.stringify(v).slice(0, 40)} is not a value the provider uses: treated as active`);
    return undefined;
  }
  return s.toUpperCase().replace(/[\s-]+/g, '_');
}

/** ASFF: `RecordState`, `Workflow.Status` (and the older `WorkflowState`), `Compliance.Status`. */
export function asffClosure(f: Json, notes: string[]): Closure | undefined {
  const record = stateText(f.RecordState, 'RecordState', ['ACTIVE', 'ARCHIVED'], notes);
  const workflow = stateText(obj(f.Workflow).Status, 'Workflow.Status', ['NEW', 'NOTIFIED', 'RESOLVED', 'SUPPRESSED'], notes);
  const legacy = stateText(f.WorkflowState, 'WorkflowState', ['NEW', 'ASSIGNED', 'IN_PROGRESS', 'DEFERRED', 'RESOLVED'], notes);
  const compliance = stateText(obj(f.Compliance).Status, 'Compliance.Status', ['PASSED', 'WARNING', 'FAILED', 'NOT_AVAILABLE'], notes);
  return firstClosure([
    record === 'ARCHIVED' ? { state: 'archived', why: 'RecordState ARCHIVED' } : undefined,
    workflow === 'RESOLVED' || workflow === 'SUPPRESSED' ? { state: workflow === 'RESOLVED' ? 'resolved' : 'suppressed', why: `Workflow.Status ${workflow}` } : undefined,
    // Workflow.Status wins over the deprecated WorkflowState when both are there.
    !workflow && legacy === 'RESOLVED' ? { state: 'resolved', why: 'WorkflowState RESOLVED' } : undefined,
    compliance === 'PASSED' ? { state: 'resolved', why: 'Compliance.Status PASSED' } : undefined,
  ]);
}

/** GuardDuty: `service.archived` (an analyst or a suppression rule archived it). */
export function guardDutyClosure(service: Json, notes: string[]): Closure | undefined {
  const v = service.archived;
  if (v === undefined || v === null) return undefined;
  const archived = bool(v);
  if (archived === undefined) {
    notes.push(`service.archived ${JSON.stringify(v).slice(0, 40)} is not true or false: treated as active`);
    return undefined;
  }
  return archived ? { state: 'archived', why: 'service.archived true' } : undefined;
}

/** OCSF `status_id`: 3 Suppressed, 4 Resolved, 5 Archived, 6 Deleted; 0-2 and 99 are open. */
const OCSF_STATUS: Record<number, ClosedState | null> = { 0: null, 1: null, 2: null, 3: 'suppressed', 4: 'resolved', 5: 'archived', 6: 'closed', 99: null };
const OCSF_STATUS_TEXT = ['NEW', 'IN_PROGRESS', 'SUPPRESSED', 'RESOLVED', 'ARCHIVED', 'DELETED', 'OTHER', 'UNKNOWN', 'ACTIVE'];

/** OCSF: `activity_id` 3 (Close), `status_id`, `status`. */
export function ocsfClosure(f: Json, notes: string[]): Closure | undefined {
  const activity = f.activity_id === undefined || f.activity_id === null ? undefined : num(f.activity_id);
  if (f.activity_id !== undefined && f.activity_id !== null && (activity === undefined || ![0, 1, 2, 3, 99].includes(activity))) {
    notes.push(`activity_id ${JSON.stringify(f.activity_id).slice(0, 40)} is not an OCSF finding activity: treated as active`);
  }
  const statusId = f.status_id === undefined || f.status_id === null ? undefined : num(f.status_id);
  if (f.status_id !== undefined && f.status_id !== null && (statusId === undefined || OCSF_STATUS[statusId] === undefined)) {
    notes.push(`status_id ${JSON.stringify(f.status_id).slice(0, 40)} is not an OCSF finding status: treated as active`);
  }
  const status = stateText(f.status, 'status', OCSF_STATUS_TEXT, notes);
  const byId = statusId !== undefined ? OCSF_STATUS[statusId] : undefined;
  const byText: ClosedState | undefined = status === 'SUPPRESSED' ? 'suppressed' : status === 'RESOLVED' ? 'resolved' : status === 'ARCHIVED' ? 'archived' : status === 'DELETED' ? 'closed' : undefined;
  return firstClosure([
    activity === 3 ? { state: 'closed', why: 'activity_id 3 (Close)' } : undefined,
    byId ? { state: byId, why: `status_id ${statusId}` } : undefined,
    byText ? { state: byText, why: `status ${status}` } : undefined,
  ]);
}

/** ASFF `FindingProviderFields` (what BatchImportFindings takes): severity and types when the top level has none. */
export function providerFields(f: Json): { severity?: Json; types: unknown[] } {
  const p = obj(f.FindingProviderFields);
  return { severity: p.Severity === undefined ? undefined : obj(p.Severity), types: arr(p.Types) };
}

export function isClosed(f: Pick<Finding, 'closed'>): boolean {
  return f.closed !== undefined;
}

/**
 * The version about to be stored, given the one stored before: an active version after a closed
 * one says it reopened the finding (and keeps saying so while it stays active).
 */
export function withReopening(next: Finding, previous: (Pick<Finding, 'reopened'> & { closed?: { state: ClosedState } }) | undefined): Finding {
  if (next.closed || !previous) return next;
  if (previous.closed) return { ...next, reopened: { from: previous.closed.state, at: next.updatedAt } };
  if (previous.reopened && !next.reopened) return { ...next, reopened: previous.reopened };
  return next;
}

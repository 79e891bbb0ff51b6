/**
 * action_ids shared by the Block Kit builders and the listener registration, and the payload every
 * response button carries. Values are compact because overflow-menu option values allow 150 chars.
 */
export const RESPONSES = ['isolate', 'snapshot', 'memory', 'hunt', 'disable-key', 'deny-principal', 'revoke-sessions', 'blast-radius', 'delete-keys', 'revoke-rules'] as const;
export type ResponseKind = (typeof RESPONSES)[number];

export const ACTION_ID: Record<ResponseKind, string> = {
  isolate: 'ir_isolate',
  snapshot: 'ir_snapshot',
  hunt: 'ir_hunt',
  'disable-key': 'ir_disable_key',
  'deny-principal': 'ir_deny_principal',
  'revoke-sessions': 'ir_revoke_sessions',
  memory: 'ir_memory',
  'blast-radius': 'ir_blast_radius',
  'delete-keys': 'ir_delete_keys',
  'revoke-rules': 'ir_revoke_rules',
};
/** Overflow menu on a roll-up card's per-finding row. */
export const FINDING_MENU_ACTION_ID = 'ir_finding_menu';

export const RESPONSE_LABEL: Record<ResponseKind, string> = {
  isolate: 'Isolate',
  snapshot: 'Snapshot',
  hunt: 'Hunt',
  'disable-key': 'Disable key',
  'deny-principal': 'Deny all',
  'revoke-sessions': 'Revoke sessions',
  memory: 'Capture memory',
  'blast-radius': 'Map blast radius',
  'delete-keys': 'Delete keys it created',
  'revoke-rules': 'Revoke rules it added',
};

export interface ResponsePayload {
  /** The response asked for. */
  a: ResponseKind;
  /** Finding key (see findings/model.ts findingKey). */
  k: string;
  /** The resource the response acts on: instance id, access key id, or omitted for hunts. */
  r?: string;
  /**
   * Instead of `r` where an option value must stay short (overflow options allow 150 characters,
   * an ARN may take 120 alone): the response's position in the card's list for this finding.
   */
  i?: number;
}

/**
 * Longer than this, the resource is left out of a menu option's value and the listener reads it
 * from the stored finding (`k`): an overflow or select option value holds only 150 characters.
 */
const INLINE_RESOURCE_MAX = 32;
/** Buttons take 2,000 characters: an IAM ARN (at most 2,048 in theory, ~120 in practice) fits when short enough. */
const BUTTON_RESOURCE_MAX = 1800;

/**
 * `where`: a menu option (150 characters) or a button (2,000). A button whose resource is not the
 * card's own (a blast-radius pivot, a story's launcher) must carry it: the finding cannot say it.
 */
export function encodePayload(p: ResponsePayload, where: 'option' | 'button' = 'option'): string {
  const max = where === 'button' ? BUTTON_RESOURCE_MAX : INLINE_RESOURCE_MAX;
  return JSON.stringify(p.r !== undefined && p.r.length > max ? { a: p.a, k: p.k } : p);
}

/** Button values come back from Slack's servers, but anyone can craft a request: validate. */
export function decodePayload(value: string | undefined): ResponsePayload | undefined {
  if (!value || value.length > 2000) return undefined;
  try {
    const p = JSON.parse(value) as Partial<ResponsePayload>;
    if (!(RESPONSES as readonly string[]).includes(p.a as string)) return undefined;
    if (typeof p.k !== 'string' || !/^[0-9a-f]{24}$/.test(p.k)) return undefined;
    // Instance ids, access key ids, or IAM ARNs (checked again per action by the listener).
    if (p.r !== undefined && (typeof p.r !== 'string' || !/^[\w:/+=,.@-]{1,120}$/.test(p.r))) return undefined;
    if (p.i !== undefined && (!Number.isInteger(p.i) || p.i < 0 || p.i > 99 || p.r !== undefined)) return undefined;
    return { a: p.a as ResponseKind, k: p.k, r: p.r, ...(p.i !== undefined ? { i: p.i } : {}) };
  } catch {
    return undefined;
  }
}

/** Approval card and isolation result buttons. */
export const APPROVE_ACTION_ID = 'ir_approve';
export const REJECT_ACTION_ID = 'ir_reject';
export const RELEASE_ACTION_ID = 'ir_release';
/** Undo on a disable-key, deny-all or revoke-sessions result; carries that request's reference. */
export const UNDO_ACTION_ID = 'ir_undo';
/** Hold on a policy rule's veto countdown: stops the automatic run; the request then waits for approval. */
export const HOLD_ACTION_ID = 'ir_hold';

export interface DecisionPayload {
  /** Request id. */
  q: string;
  /** Plan revision the card showed: a click on a replaced plan must not approve the new one. */
  v: number;
}

export const REQUEST_ID_PATTERN = /^[a-z-]{3,20}-[A-Za-z0-9-]{1,40}-\d{1,12}$/;

export function encodeDecision(p: DecisionPayload): string {
  return JSON.stringify(p);
}

export function decodeDecision(value: string | undefined): DecisionPayload | undefined {
  if (!value || value.length > 200) return undefined;
  try {
    const p = JSON.parse(value) as Partial<DecisionPayload>;
    if (typeof p.q !== 'string' || !REQUEST_ID_PATTERN.test(p.q)) return undefined;
    if (!Number.isInteger(p.v) || (p.v as number) < 1) return undefined;
    return { q: p.q, v: p.v as number };
  } catch {
    return undefined;
  }
}

/**
 * "Isolate all" / "Snapshot all" / "Capture memory all" / "Stop all" on a roll-up card and on an instance's story: one
 * request per account and region for every instance listed, one plan, one approval.
 */
export const BULK_ACTIONS = ['isolate', 'snapshot', 'memory', 'stop'] as const;
export type BulkKind = (typeof BULK_ACTIONS)[number];
export const BULK_ACTION_ID: Record<BulkKind, string> = { isolate: 'ir_bulk_isolate', snapshot: 'ir_bulk_snapshot', memory: 'ir_bulk_memory', stop: 'ir_bulk_stop' };
export const BULK_LABEL: Record<BulkKind, string> = { isolate: 'Isolate all', snapshot: 'Snapshot all', memory: 'Capture memory all', stop: 'Stop all' };

export interface BulkPayload {
  a: BulkKind;
  /** Finding key of the card (a roll-up) or of the story's card. */
  k: string;
  /** The story's instances; absent on a roll-up, whose instances are read from its card in Redis. */
  ids?: string[];
}

export function encodeBulk(p: BulkPayload): string {
  return JSON.stringify(p);
}

export function decodeBulk(value: string | undefined): BulkPayload | undefined {
  if (!value || value.length > 2000) return undefined;
  try {
    const p = JSON.parse(value) as Partial<BulkPayload>;
    if (!(BULK_ACTIONS as readonly string[]).includes(p.a as string)) return undefined;
    if (typeof p.k !== 'string' || !/^[0-9a-f]{24}$/.test(p.k)) return undefined;
    if (p.ids === undefined) return { a: p.a as BulkKind, k: p.k };
    if (!Array.isArray(p.ids) || p.ids.length === 0 || p.ids.length > 50) return undefined;
    if (!p.ids.every((id) => typeof id === 'string' && /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(id))) return undefined;
    return { a: p.a as BulkKind, k: p.k, ids: p.ids };
  } catch {
    return undefined;
  }
}

/** "Show all N" on a roll-up: the full list of its findings as a file in its thread. Carries the card's finding key. */
export const SHOW_ALL_ACTION_ID = 'ir_show_all';

/** Security Hub workflow on a card (acts on every finding of the card) and the incident report. */
export const WORKFLOW_ACTION_ID = { NOTIFIED: 'ir_wf_ack', RESOLVED: 'ir_wf_resolve', SUPPRESSED: 'ir_wf_suppress' } as const;
export const WORKFLOW_LABEL = { NOTIFIED: 'Acknowledge', RESOLVED: 'Resolve', SUPPRESSED: 'Suppress' } as const;
export const REPORT_ACTION_ID = 'ir_report';
/** "Declare incident" on a card (src/incidents); carries the card's finding key. */
export const DECLARE_ACTION_ID = 'ir_incident_declare';

/** Approve / Reject on a Suppress that waits for approval: the card's finding key and the ask's id. */
export const SUPPRESS_APPROVE_ACTION_ID = 'ir_suppress_approve';
export const SUPPRESS_REJECT_ACTION_ID = 'ir_suppress_reject';

export interface SuppressAskPayload {
  k: string;
  s: string;
}

export function decodeSuppressAsk(value: string | undefined): SuppressAskPayload | undefined {
  const k = decodeFindingKey(value);
  const s = k && (JSON.parse(value!) as { s?: unknown }).s;
  return k && typeof s === 'string' && /^suppress-[0-9a-z-]{1,60}$/.test(s) ? { k, s } : undefined;
}

/** The card's finding key, carried by workflow and report buttons. */
export function decodeFindingKey(value: string | undefined): string | undefined {
  try {
    const k = (JSON.parse(value ?? '') as { k?: unknown }).k;
    return typeof k === 'string' && /^[0-9a-f]{24}$/.test(k) ? k : undefined;
  } catch {
    return undefined;
  }
}

/** Cancel on a running hunt, and the pivot buttons on a hunt's results. */
export const HUNT_CANCEL_ACTION_ID = 'ir_hunt_cancel';
export const PIVOT_ACTION_ID = 'ir_pivot';

export interface PivotPayload {
  kind: 'principal' | 'deny' | 'ip' | 'accessKey' | 'instance';
  value: string;
}

export function encodePivot(p: PivotPayload): string {
  return JSON.stringify(p);
}

export function decodePivot(value: string | undefined): PivotPayload | undefined {
  try {
    const p = JSON.parse(value ?? '') as Partial<PivotPayload>;
    if (!['principal', 'deny', 'ip', 'accessKey', 'instance'].includes(p.kind as string)) return undefined;
    if (typeof p.value !== 'string' || !/^[\w:/+=,.@-]{1,300}$/.test(p.value)) return undefined;
    return { kind: p.kind!, value: p.value };
  } catch {
    return undefined;
  }
}

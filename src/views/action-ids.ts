/**
 * action_ids shared by the Block Kit builders and the listener registration, and the payload every
 * response button carries. Values are compact because overflow-menu option values allow 150 chars.
 */
export const RESPONSES = ['isolate', 'snapshot', 'hunt', 'disable-key', 'deny-principal', 'revoke-sessions'] as const;
export type ResponseKind = (typeof RESPONSES)[number];

export const ACTION_ID: Record<ResponseKind, string> = {
  isolate: 'ir_isolate',
  snapshot: 'ir_snapshot',
  hunt: 'ir_hunt',
  'disable-key': 'ir_disable_key',
  'deny-principal': 'ir_deny_principal',
  'revoke-sessions': 'ir_revoke_sessions',
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

export function encodePayload(p: ResponsePayload): string {
  return JSON.stringify(p);
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

/** "Snapshot all" / "Stop all" on an instance's story: one request for every instance listed. */
export const BULK_ACTION_ID = { snapshot: 'ir_bulk_snapshot', stop: 'ir_bulk_stop' } as const;

export interface BulkPayload {
  a: 'snapshot' | 'stop';
  /** Finding key of the card the story belongs to. */
  k: string;
  ids: string[];
}

export function encodeBulk(p: BulkPayload): string {
  return JSON.stringify(p);
}

export function decodeBulk(value: string | undefined): BulkPayload | undefined {
  if (!value || value.length > 2000) return undefined;
  try {
    const p = JSON.parse(value) as Partial<BulkPayload>;
    if (p.a !== 'snapshot' && p.a !== 'stop') return undefined;
    if (typeof p.k !== 'string' || !/^[0-9a-f]{24}$/.test(p.k)) return undefined;
    if (!Array.isArray(p.ids) || p.ids.length === 0 || p.ids.length > 50) return undefined;
    if (!p.ids.every((id) => typeof id === 'string' && /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(id))) return undefined;
    return { a: p.a, k: p.k, ids: p.ids };
  } catch {
    return undefined;
  }
}

/** Security Hub workflow on a card (acts on every finding of the card) and the incident report. */
export const WORKFLOW_ACTION_ID = { NOTIFIED: 'ir_wf_ack', RESOLVED: 'ir_wf_resolve', SUPPRESSED: 'ir_wf_suppress' } as const;
export const WORKFLOW_LABEL = { NOTIFIED: 'Acknowledge', RESOLVED: 'Resolve', SUPPRESSED: 'Suppress' } as const;
export const REPORT_ACTION_ID = 'ir_report';

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

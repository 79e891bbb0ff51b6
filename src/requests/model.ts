import type { ActionOutcome, FailureView, PlanView } from '../actions/results';

export type { ActionOutcome, FailureView, PlanView };
/** An action someone asked for, from request to verified result. Stored as one Redis hash. */
export type ActionName =
  | 'isolate'
  | 'release'
  | 'snapshot'
  | 'stop'
  | 'disable-key'
  | 'enable-key'
  | 'deny-principal'
  | 'allow-principal'
  | 'revoke-sessions'
  | 'restore-sessions'
  | 'hunt'
  | 'memory'
  | 'blast-radius'
  | 'terminate'
  | 'delete-keys'
  | 'revoke-rules';
export const PIPELINE_ACTIONS: readonly ActionName[] = [
  'isolate',
  'release',
  'snapshot',
  'stop',
  'disable-key',
  'enable-key',
  'deny-principal',
  'allow-principal',
  'revoke-sessions',
  'restore-sessions',
  'hunt',
  'memory',
  'blast-radius',
  'terminate',
  'delete-keys',
  'revoke-rules',
];
/** Destructive beyond undo: always behind approval by a second person, whatever the config says. */
export const ALWAYS_TWO_PERSON: readonly ActionName[] = ['terminate'];
/** Eradication cannot be undone: always behind approval, whatever `access.requireApproval` says. */
export const ALWAYS_APPROVAL: readonly ActionName[] = ['terminate', 'delete-keys', 'revoke-rules'];

/** The undo of each reversible IAM action: what its result's undo button asks for. */
export const UNDO_OF: Partial<Record<ActionName, ActionName>> = {
  'disable-key': 'enable-key',
  'deny-principal': 'allow-principal',
  'revoke-sessions': 'restore-sessions',
};

export type RequestState = 'planning' | 'awaiting-approval' | 'approved' | 'running' | 'done' | 'failed' | 'rejected' | 'expired' | 'refused';
export const TERMINAL_STATES: readonly RequestState[] = ['done', 'failed', 'rejected', 'expired', 'refused'];

export interface ActionRequest {
  id: string;
  action: ActionName;
  /** What the request acts on: an instance id, an access key id or an IAM user/role ARN. */
  target: string;
  /** Every target of the request (several instances for snapshot and stop), `target` first. */
  targets: string[];
  account?: string;
  region?: string;
  findingKey?: string;
  findingId?: string;
  channel: string;
  /** The alert card's ts: status messages go in its thread. Absent: the status message is top-level. */
  threadTs?: string;
  statusTs?: string;
  /** Asked before the finding's card was posted (a Security Hub custom action): the status message waits for the card's thread. */
  followCard?: boolean;
  /** Asked in a channel that refused the bot's post: the status message went to the default channel. */
  rerouted?: { channel: string; error: string };
  requestedBy: string;
  reason?: string;
  /** The request this one undoes (a Release button acts on the isolation it was shown with; an IAM undo button on exactly that request's recorded state). */
  undoes?: string;
  createdAt: number;
  state: RequestState;
  version: number;
  renderedVersion: number;
  needsApproval: boolean;
  /**
   * Distinct approvers the request needs: 2 when no person in Slack asked for it (a Security Hub
   * custom action), since nobody answerable stands behind the request itself; absent means 1.
   */
  approvalsNeeded?: number;
  /** The first of two approvals, while the second is awaited. */
  firstApprovedBy?: string;
  firstApprovedAt?: number;
  /** Bumped each time a new plan needs a new approval; approval buttons carry it. */
  rev: number;
  plan?: PlanView;
  expiresAt?: number;
  approvedBy?: string;
  approvedAt?: number;
  decidedBy?: string;
  decidedAt?: number;
  notice?: string;
  progress?: { step: number; total: number; label: string };
  startedAt?: number;
  finishedAt?: number;
  result?: ActionOutcome;
  failure?: FailureView;
  /** Times the reconciler picked the request up again after its job died while running. */
  resumes?: number;
  /** The result's file (a hunt's CSV) is in the thread. */
  attachmentPosted?: boolean;
  /** The plan revision whose per-instance file (a bulk plan's detail) is in the thread. */
  planFilePosted?: number;
  /** Asked by a policy rule, not a person (docs/autonomy.md). */
  auto?: AutoInfo;
  /** When the rule's veto window ends and the approved plan runs; cleared by a Hold, the kill switch, the breaker or a changed plan. */
  autoAt?: number;
  /** Who (or what: autonomy-off, breaker) stopped the automatic run; the request then waits for a person's approval. */
  heldBy?: string;
  /** Last countdown refresh of the veto window (a new version, so the status message is redrawn). */
  tickAt?: number;
}

export interface AutoInfo {
  rule: string;
  mode: 'contain' | 'contain-unless-vetoed';
  /** The conditions that held, as the thread shows them (`type CryptoCurrency:*`, `tag env=dev`). */
  matched: string[];
  windowMs: number;
}

export function isTerminal(state: RequestState): boolean {
  return TERMINAL_STATES.includes(state);
}

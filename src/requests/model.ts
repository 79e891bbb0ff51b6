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
  | 'hunt';
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
];

export type RequestState = 'planning' | 'awaiting-approval' | 'approved' | 'running' | 'done' | 'failed' | 'rejected' | 'expired' | 'refused';
export const TERMINAL_STATES: readonly RequestState[] = ['done', 'failed', 'rejected', 'expired', 'refused'];

/** What the plan step found: shown before approval, compared again before execution. */
export interface PlanView {
  /** Each line one exact change, e.g. "eni-0a1: sg-1, sg-2 → sg-quarantine". */
  summary: string[];
  warnings: string[];
  /** Step labels in execution order, for "step k of n". */
  steps: string[];
  /** Hash of the AWS state the plan was built from; a different hash means AWS changed. */
  fingerprint: string;
  /** Set when the action must not run at all (not found, terminated, already isolated…). */
  blocked?: string;
  /** Action-specific state the execute step needs (e.g. the pre-isolation record). */
  data?: unknown;
}

export interface ActionOutcome {
  ok: boolean;
  /** The verified end state, one line per resource. */
  lines: string[];
  /** What the result does and does not guarantee. */
  notes: string[];
  /** Tabular results (hunts): the first rows, for the thread. */
  table?: { columns: string[]; rows: string[][]; total: number };
  /** A file for the thread (a hunt's full CSV). */
  attachment?: { filename: string; content: string };
  /** Values in the results worth acting on or hunting further. */
  pivots?: { kind: 'principal' | 'deny' | 'ip' | 'accessKey' | 'instance'; value: string }[];
  link?: { url: string; label: string };
}

export interface FailureView {
  message: string;
  /** Step that failed, 1-based, and its label. */
  step?: number;
  stepLabel?: string;
  /** What had been done before the failure: the state the target was left in. */
  done: string[];
}

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
  /** Asked in a channel that refused the bot's post: the status message went to the default channel. */
  rerouted?: { channel: string; error: string };
  requestedBy: string;
  reason?: string;
  createdAt: number;
  state: RequestState;
  version: number;
  renderedVersion: number;
  needsApproval: boolean;
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
  /** The result's file (a hunt's CSV) is in the thread. */
  attachmentPosted?: boolean;
}

export function isTerminal(state: RequestState): boolean {
  return TERMINAL_STATES.includes(state);
}

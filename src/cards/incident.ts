/**
 * The incident a card stands for, as a responder needs it at a glance: where it is in the playbook
 * (new → acknowledged → contained → resolved), who owns it, what each resource has had done to it,
 * and what still waits for a human. Built from the card's findings, the requests about them and
 * the workflow marks the card keeps; pure, so the card renders the same from the same records.
 */
import { actionableTargets, INSTANCE_ID, type Finding } from '../findings/model';
import type { ActionName, ActionRequest } from '../requests/model';
import { isTerminal } from '../requests/model';

export type IncidentStatus = 'new' | 'acknowledged' | 'contained' | 'resolved';

export interface Mark {
  by?: string;
  at?: number;
}

/** Set on the card by the Acknowledge / Resolve / Suppress buttons (Security Hub workflow). */
export interface CardMarks {
  ack?: Mark;
  resolved?: Mark & { status: 'RESOLVED' | 'SUPPRESSED' };
}

/** What an action left on a resource. */
export type Effect = 'isolated' | 'stopped' | 'terminated' | 'snapshotted' | 'memory' | 'disabled' | 'denied' | 'revoked';

const EFFECT_OF: Partial<Record<ActionName, Effect>> = {
  isolate: 'isolated',
  stop: 'stopped',
  terminate: 'terminated',
  snapshot: 'snapshotted',
  memory: 'memory',
  'disable-key': 'disabled',
  'deny-principal': 'denied',
  'revoke-sessions': 'revoked',
};
/** Undo actions take their effect away again. */
const UNDONE_BY: Partial<Record<ActionName, Effect>> = { release: 'isolated', 'enable-key': 'disabled', 'allow-principal': 'denied', 'restore-sessions': 'revoked' };
/** Effects that contain a resource (NIST 800-61 containment), as opposed to preserving evidence. */
export const CONTAINING: readonly Effect[] = ['isolated', 'stopped', 'terminated', 'disabled', 'denied', 'revoked'];

export interface ResourceState {
  id: string;
  kind: 'instance' | 'access-key' | 'principal';
  /** `result`: what the request's verified result says of this resource (e.g. "Auto Scaling group web-asg: detached ✓"); none when found already done. */
  done: Partial<Record<Effect, Mark & { approvedBy?: string; result?: string }>>;
  /** Requests still open on it (planning, awaiting approval, running). */
  pending: { action: ActionName; state: ActionRequest['state']; requestId: string }[];
}

export interface PendingApproval {
  request: ActionRequest;
  /** Who may approve: the configured approvers less the requester under the two-person rule. */
  approvers: string[];
}

export interface Incident {
  status: IncidentStatus;
  owner?: Mark;
  resolved?: CardMarks['resolved'];
  /** Every finding on the card is closed by its provider (resolved, suppressed, archived). */
  allClosed: boolean;
  resources: ResourceState[];
  /**
   * What requests from the card acted on beyond its findings' own resources (the key that launched
   * them, from its story): tracked so their buttons are withdrawn too, but not counted in N of M.
   */
  others: ResourceState[];
  contained: { n: number; m: number; by: Partial<Record<Effect, number>> };
  approvals: PendingApproval[];
  /** What the playbook suggests next, one line; none once resolved. */
  next?: string;
}

export function isContained(r: ResourceState): boolean {
  return CONTAINING.some((e) => r.done[e]);
}

/** Ids a skip or refusal says were already in the state the action wanted (done before, maybe outside ir-bot). */
function alreadyDone(r: ActionRequest): string[] {
  const texts = [...(((r.plan?.data as { skipped?: unknown } | undefined)?.skipped as unknown[] | undefined) ?? []), ...(r.state === 'refused' && r.plan?.blocked ? [r.plan.blocked] : [])];
  return texts.filter((t): t is string => typeof t === 'string' && /\balready (isolated|stopped|inactive)\b/i.test(t)).flatMap((t) => {
    const id = INSTANCE_ID.exec(t)?.[0] ?? r.targets.find((x) => t.includes(x));
    return id ? [id] : [];
  });
}

/**
 * The targets a finished request verifiably changed. A partial result names its verified instances
 * line by line: a bulk result as "<id>: verified", the multi-instance actions (snapshot, stop,
 * memory) as lines that start with the id and end in ✓ or ✗; an instance counts when it has such
 * lines and none of them is ✗ (a snapshot with one of two volumes failed is not snapshotted).
 */
function succeeded(r: ActionRequest): string[] {
  if (r.state !== 'done' || !r.result) return [];
  const skipped = new Set(
    (((r.plan?.data as { skipped?: unknown } | undefined)?.skipped as unknown[] | undefined) ?? []).flatMap((s) => (typeof s === 'string' ? [INSTANCE_ID.exec(s)?.[0] ?? ''] : [])),
  );
  if (r.result.ok) return r.targets.filter((t) => !skipped.has(t));
  const lines = r.result.lines;
  // Only these actions write one ✓/✗ line per instance (volume); others (revoke-sessions) mix in
  // lines about shared things (the role), so an instance's own ✓ says nothing of the whole.
  const perInstanceLines = PER_INSTANCE_LINES.includes(r.action);
  return r.targets.filter((t) => {
    if (lines.some((l) => l.startsWith(`${t}: verified`))) return true;
    if (!perInstanceLines) return false;
    const own = lines.filter((l) => l.startsWith(`${t}:`) || l.startsWith(`${t} `));
    return own.length > 0 && own.every((l) => l.includes('✓') && !l.includes('✗'));
  });
}

const PER_INSTANCE_LINES: ActionName[] = ['snapshot', 'stop', 'memory', 'terminate'];

/** What a succeeded request's result says of one target: its own lines in a bulk result, all of them for a request on that target alone. */
function resultFor(r: ActionRequest, target: string): string | undefined {
  const lines = r.result?.lines ?? [];
  return r.targets.length === 1 ? lines.join('\n') : lines.filter((l) => l.startsWith(`${target}:`) || l.startsWith(`${target} `)).join('\n');
}

export function incidentOf(findings: Finding[], requests: ActionRequest[], marks: CardMarks, access: { approvers: string[]; twoPersonRule: boolean }): Incident {
  const resources = new Map<string, ResourceState>();
  const add = (id: string, kind: ResourceState['kind']) => {
    if (!resources.has(id)) resources.set(id, { id, kind, done: {}, pending: [] });
  };
  for (const f of findings) {
    const t = actionableTargets(f);
    t.instances.forEach((id) => add(id, 'instance'));
    t.accessKeys.forEach((id) => add(id, 'access-key'));
    t.principals.forEach((id) => add(id, 'principal'));
  }
  const others = new Map<string, ResourceState>();
  const stateOf = (id: string) => {
    if (resources.has(id)) return resources.get(id);
    if (!others.has(id)) others.set(id, { id, kind: /^(AKIA|ASIA)/.test(id) ? 'access-key' : /^arn:/.test(id) ? 'principal' : 'instance', done: {}, pending: [] });
    return others.get(id);
  };
  const approvals: PendingApproval[] = [];
  const finished = (r: ActionRequest) => r.finishedAt ?? r.createdAt;
  for (const r of [...requests].sort((a, b) => finished(a) - finished(b))) {
    if (!isTerminal(r.state)) {
      for (const t of r.targets) stateOf(t)?.pending.push({ action: r.action, state: r.state, requestId: r.id });
      if (r.state === 'awaiting-approval') {
        approvals.push({ request: r, approvers: access.approvers.filter((a) => !(access.twoPersonRule && a === r.requestedBy)) });
      }
      continue;
    }
    const effect = EFFECT_OF[r.action];
    if (effect) {
      for (const t of succeeded(r)) {
        const s = stateOf(t);
        if (s) s.done[effect] = { by: r.requestedBy, at: r.finishedAt, approvedBy: r.approvedBy, result: resultFor(r, t) };
      }
      for (const t of alreadyDone(r)) {
        const s = stateOf(t);
        if (s && !s.done[effect]) s.done[effect] = {};
      }
    }
    const undone = UNDONE_BY[r.action];
    if (undone) for (const t of succeeded(r)) delete stateOf(t)?.done[undone];
  }

  const list = [...resources.values()];
  const containedList = list.filter(isContained);
  const by: Partial<Record<Effect, number>> = {};
  for (const r of containedList) {
    const e = CONTAINING.find((x) => r.done[x])!;
    by[e] = (by[e] ?? 0) + 1;
  }
  const allClosed = findings.length > 0 && findings.every((f) => f.closed);
  // A finding active again after someone resolved the card reopens it.
  const resolved = marks.resolved && !findings.some((f) => !f.closed && Date.parse(f.updatedAt) > (marks.resolved!.at ?? 0)) ? marks.resolved : undefined;
  const contained = { n: containedList.length, m: list.length, by };
  const status: IncidentStatus = resolved || allClosed ? 'resolved' : contained.m > 0 && contained.n === contained.m ? 'contained' : marks.ack ? 'acknowledged' : 'new';
  return { status, owner: marks.ack, resolved, allClosed, resources: list, others: [...others.values()], contained, approvals, next: nextStep(status, list, approvals) };
}

/** The playbook's next step (validate → scope → contain → preserve → eradicate → recover), from what is done. */
function nextStep(status: IncidentStatus, resources: ResourceState[], approvals: PendingApproval[]): string | undefined {
  if (status === 'resolved') return undefined;
  if (approvals.length) return `Approve or reject the ${approvals.map((a) => a.request.action).join(', ')} waiting in the thread`;
  const instances = resources.filter((r) => r.kind === 'instance');
  const open = resources.filter((r) => !isContained(r) && r.pending.length === 0);
  if (status === 'new' && open.length === resources.length) {
    return resources.length ? 'Acknowledge to own it, check the story in the thread, then contain' : 'Acknowledge to own it, then validate the finding';
  }
  if (open.length) {
    const inst = open.filter((r) => r.kind === 'instance').length;
    const keys = open.filter((r) => r.kind === 'access-key').length;
    const principals = open.filter((r) => r.kind === 'principal').length;
    const parts = [inst && `isolate ${inst} instance${inst > 1 ? 's' : ''}`, keys && `disable ${keys} key${keys > 1 ? 's' : ''}`, principals && `deny ${principals} principal${principals > 1 ? 's' : ''}`].filter(Boolean);
    return `Contain: ${parts.join(', ')}`;
  }
  const running = instances.filter((r) => !r.done.terminated);
  const unsnapped = running.filter((r) => !r.done.snapshotted && !r.pending.some((p) => p.action === 'snapshot')).length;
  if (unsnapped) return `Preserve: snapshot ${unsnapped} instance${unsnapped > 1 ? 's' : ''} (capture memory first if it matters)`;
  if (resources.some((r) => r.pending.length)) return 'Wait for the running responses to finish';
  return 'Eradicate: map the blast radius of whoever launched it, then recover and Resolve';
}

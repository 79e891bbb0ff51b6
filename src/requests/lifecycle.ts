import type { ActionOutcome, FailureView, PlanView } from '../actions/results';
import type { AuditEntry, AuditLog } from '../audit/log';
import type { Logger } from '../log';
import type { ActionRequest, RequestState } from './model';
import type { Pipeline } from './pipeline';
import type { RequestPatch, RequestStore } from './store';

type Event = Omit<AuditEntry, 'requestId' | 'action' | 'target' | 'targets' | 'findingKey' | 'account' | 'region'>;

/**
 * The request state machine, one method per named transition. Each one is a compare-and-set on
 * the request (state, plan revision, expiry) that writes its audit entry in the same Redis step,
 * then queues what comes next and the status render. A transition that loses the race (a second
 * click, a re-delivered job) changes nothing, records nothing, and returns false.
 *
 *   planning ─planned─> approved ─start─> running ─finish─> done
 *      │  └─askApproval─> awaiting-approval ─approve─┘   └─fail─> failed
 *      └─refuse─> refused          ├─reject─> rejected
 *                                  └─expire─> expired
 */
export class Lifecycle {
  constructor(
    private readonly store: RequestStore,
    private readonly audit: AuditLog,
    private readonly pipeline: Pipeline,
    private readonly approvalTimeoutMinutes: number,
    private readonly log: Logger,
  ) {}

  entry(r: ActionRequest, e: Event): AuditEntry {
    return { ...e, requestId: r.id, action: r.action, target: r.target, targets: r.targets, findingKey: r.findingKey, account: r.account, region: r.region };
  }

  private async move(r: ActionRequest, cond: { from: RequestState[]; rev?: number; notExpiredAt?: number }, patch: RequestPatch, e: Event): Promise<boolean> {
    const entry = this.entry(r, e);
    const enc = this.audit.encode(entry);
    const res = await this.store.transition(r.id, cond, patch, enc);
    if (!res.ok) {
      this.log.debug({ requestId: r.id, to: patch.state, reason: res.reason, current: res.current }, 'transition not taken');
      return false;
    }
    this.audit.logged(entry, enc, res.auditId ?? '');
    return true;
  }

  /** No approval needed: straight to execution. */
  async planned(r: ActionRequest, plan: PlanView): Promise<boolean> {
    // A bulk plan's summary says shared changes once: the audit keeps every instance's too (perInstance).
    const ok = await this.move(r, { from: ['planning'] }, { state: 'approved', plan }, { event: 'planned', user: 'system', detail: { summary: plan.summary, warnings: plan.warnings, perInstance: plan.detail?.content } });
    if (ok) await this.pipeline.execute(r.id, r.rev);
    await this.pipeline.render(r.id);
    return ok;
  }

  /** Shows the plan for approval (`notice` set: AWS changed after an approval, this is a new plan). */
  async askApproval(r: ActionRequest, plan: PlanView, rev: number, from: 'planning' | 'approved', notice?: string): Promise<boolean> {
    const expiresAt = Date.now() + this.approvalTimeoutMinutes * 60_000;
    // A rule's request runs when its veto window ends; a plan that changed after that goes to people.
    const autoAt = from === 'planning' && r.auto ? Date.now() + r.auto.windowMs : undefined;
    const ok = await this.move(
      r,
      { from: [from], rev: r.rev },
      // A new plan needs all its approvals afresh.
      { state: 'awaiting-approval', plan, rev, expiresAt, notice: notice ?? null, approvedBy: null, approvedAt: null, firstApprovedBy: null, firstApprovedAt: null, autoAt: autoAt ?? null },
      { event: notice ? 'plan-changed' : 'approval-requested', user: 'system', detail: { summary: plan.summary, warnings: plan.warnings, rev, perInstance: plan.detail?.content } },
    );
    // The window's job starts at once: it counts down in the thread, then runs or holds.
    if (ok) await this.pipeline.expire(r.id, rev, autoAt !== undefined ? Date.now() : expiresAt);
    await this.pipeline.render(r.id);
    return ok;
  }

  /**
   * Stops a rule's automatic run (a Hold click, the kill switch, the breaker): the request waits
   * for a person's approval under a new plan revision, so the window's job and any button showing
   * the old one change nothing.
   */
  async hold(r: ActionRequest, by: string, notice: string): Promise<boolean> {
    const expiresAt = Date.now() + this.approvalTimeoutMinutes * 60_000;
    const rev = r.rev + 1;
    const ok = await this.move(r, { from: ['awaiting-approval'], rev: r.rev }, { rev, autoAt: null, heldBy: by, notice, expiresAt }, { event: 'held', user: by, detail: { rule: r.auto?.rule, reason: notice, rev } });
    if (ok) await this.pipeline.expire(r.id, rev, expiresAt);
    await this.pipeline.render(r.id);
    return ok;
  }

  /**
   * Records the approval, then queues the execution. When the queue cannot take it (Redis blip),
   * the approval still stands and `queued` is false: the reconciler queues it as soon as it can.
   */
  async approve(r: ActionRequest, rev: number, userId: string, now = Date.now()): Promise<{ ok: boolean; queued: boolean }> {
    const ok = await this.move(r, { from: ['awaiting-approval'], rev, notExpiredAt: now }, { state: 'approved', approvedBy: userId, approvedAt: now }, { event: 'approved', user: userId, detail: { rev, summary: r.plan?.summary } });
    if (!ok) return { ok, queued: false };
    const queued = await this.pipeline
      .execute(r.id, rev)
      .then(() => true)
      .catch((err: Error) => {
        this.log.warn({ requestId: r.id, err: err.message }, 'approved, but the execution could not be queued yet; the reconciler will queue it');
        return false;
      });
    await this.pipeline.render(r.id).catch(() => undefined);
    return { ok, queued };
  }

  /**
   * The first of the two approvals a request nobody in Slack asked for needs: recorded, the
   * request keeps waiting. Taken once; `taken` names whoever was first when another click won.
   */
  async approveFirst(r: ActionRequest, rev: number, userId: string, now = Date.now()): Promise<{ ok: true } | { ok: false; taken?: string }> {
    const entry = this.entry(r, { event: 'approved-first', user: userId, detail: { rev, summary: r.plan?.summary, needs: r.approvalsNeeded } });
    const enc = this.audit.encode(entry);
    const res = await this.store.transition(r.id, { from: ['awaiting-approval'], rev, notExpiredAt: now, unset: 'firstApprovedBy' }, { firstApprovedBy: userId, firstApprovedAt: now }, enc);
    if (!res.ok) return { ok: false, taken: res.reason === 'taken' ? res.current : undefined };
    this.audit.logged(entry, enc, res.auditId ?? '');
    await this.pipeline.render(r.id).catch(() => undefined);
    return { ok: true };
  }

  async reject(r: ActionRequest, rev: number, userId: string, now = Date.now()): Promise<boolean> {
    const ok = await this.move(r, { from: ['awaiting-approval'], rev, notExpiredAt: now }, { state: 'rejected', decidedBy: userId, decidedAt: now, finishedAt: now }, { event: 'rejected', user: userId, detail: { rev, summary: r.plan?.summary } });
    if (ok) await this.pipeline.render(r.id);
    return ok;
  }

  async expire(r: ActionRequest): Promise<boolean> {
    const ok = await this.move(r, { from: ['awaiting-approval'], rev: r.rev }, { state: 'expired', finishedAt: Date.now() }, { event: 'expired', user: 'system', detail: { after: `${this.approvalTimeoutMinutes} min` } });
    if (ok) await this.pipeline.render(r.id);
    return ok;
  }

  /** The plan cannot run (not found, already done, AWS changed into something unrunnable). */
  async refuse(r: ActionRequest, plan: PlanView, from: 'planning' | 'approved', notice?: string): Promise<boolean> {
    const ok = await this.move(r, { from: [from], ...(from === 'approved' ? { rev: r.rev } : {}) }, { state: 'refused', plan, finishedAt: Date.now(), ...(notice ? { notice } : {}) }, { event: 'refused-plan', user: 'system', detail: { reason: plan.blocked } });
    await this.pipeline.render(r.id);
    return ok;
  }

  async start(r: ActionRequest, plan: PlanView): Promise<boolean> {
    const ok = await this.move(r, { from: ['approved'], rev: r.rev }, { state: 'running', plan, startedAt: Date.now(), notice: null }, { event: 'started', user: r.approvedBy ?? r.requestedBy, detail: { approvedBy: r.approvedBy } });
    if (ok) await this.pipeline.render(r.id);
    return ok;
  }

  /** A running request picked up again (re-delivery after a crash, a durable wait, the reconciler). */
  async resumed(r: ActionRequest, detail: Record<string, unknown>): Promise<void> {
    await this.audit.append(this.entry(r, { event: 'resumed', user: 'system', detail }));
  }

  async retrying(r: ActionRequest, message: string, attempt: number, attempts: number): Promise<void> {
    await this.store.patch(r.id, { notice: `${message}; retrying (attempt ${attempt + 1} of ${attempts})` });
    await this.audit.append(this.entry(r, { event: 'retrying', user: 'system', detail: { message, attempt } }));
    await this.pipeline.render(r.id, false);
  }

  async finish(r: ActionRequest, outcome: ActionOutcome): Promise<boolean> {
    // The audit keeps what was found, not a hunt's file (the full result stays in Athena's output location).
    const ok = await this.move(r, { from: ['running'] }, { state: 'done', result: outcome, finishedAt: Date.now(), notice: null, progress: null }, { event: 'succeeded', user: 'system', detail: { ...outcome, attachment: outcome.attachment && { filename: outcome.attachment.filename } } });
    if (ok && r.findingKey) {
      // The finding in Security Hub gets a note saying what was done about it.
      // A policy rule approves its own request: named once.
      const approvers = [r.firstApprovedBy, r.approvedBy !== r.requestedBy ? r.approvedBy : undefined].filter(Boolean).join(' and ');
      const who = approvers ? `asked by ${r.requestedBy}, approved by ${approvers}` : `asked by ${r.requestedBy}`;
      await this.pipeline.task({ kind: 'note', findingKey: r.findingKey, user: r.requestedBy, text: `ir-bot: ${r.action} ${r.targets.join(', ')} done (${r.id}, ${who}). ${outcome.lines.slice(0, 3).join('; ')}` });
    }
    await this.pipeline.render(r.id);
    return ok;
  }

  /** Ends the request as failed, with the state the target was left in. */
  async fail(r: ActionRequest, failure: FailureView): Promise<boolean> {
    const ok = await this.move(r, { from: ['planning', 'approved', 'running'] }, { state: 'failed', failure, finishedAt: Date.now(), notice: null }, { event: 'failed', user: 'system', detail: failure });
    if (ok) await this.pipeline.render(r.id);
    return ok;
  }
}

import type { AuditLog } from '../audit/log';
import type { RecordStore } from '../actions/types';
import type { Config } from '../config/load';
import type { Pipeline } from './pipeline';

/**
 * Suppress on a card hides every finding of the card in Security Hub's default views, in one
 * click: a finding nobody looks at again. When `access.requireApproval` names `suppress` (the
 * default), the click only asks, and an approver's click (not the asker's, under the two-person
 * rule) queues the workflow change. The ask and the decision are durable records: the first
 * decision is written once (put-if-absent), so two approvers clicking together decide once.
 */
export interface SuppressAsk {
  id: string;
  findingKey: string;
  requestedBy: string;
  requestedAt: number;
  expiresAt: number;
  /** Findings on the card when it was asked: what the approver is shown. */
  findings: number;
}

interface SuppressDecision {
  decision: 'approve' | 'reject';
  by: string;
  at: number;
}

export type SuppressAskResult = { status: 'created' | 'joined'; ask: SuppressAsk };
export type SuppressDecisionResult = { ok: true; ask: SuppressAsk; decision: SuppressDecision } | { ok: false; message: string };

const askName = (findingKey: string) => `suppress-ask:${findingKey}`;
const decisionName = (askId: string) => `suppress-decision:${askId}`;

export class SuppressApprovals {
  constructor(
    private readonly access: Config['access'],
    private readonly records: RecordStore,
    private readonly audit: AuditLog,
    private readonly pipeline: Pipeline,
  ) {}

  get needed(): boolean {
    return this.access.requireApproval.includes('suppress');
  }

  /** The open ask for the card, or a new one; a second click (by anyone) joins the open ask. */
  async ask(findingKey: string, userId: string, findings: number, now = Date.now()): Promise<SuppressAskResult> {
    const current = await this.records.get<SuppressAsk>(askName(findingKey));
    if (current && current.expiresAt > now) return { status: 'joined', ask: current };
    const ask: SuppressAsk = { id: `suppress-${now.toString(36)}-${findingKey.slice(0, 8)}`, findingKey, requestedBy: userId, requestedAt: now, expiresAt: now + this.access.approvalTimeoutMinutes * 60_000, findings };
    if (current) await this.records.replace(askName(findingKey), ask, now);
    else if (!(await this.records.putIfAbsent(askName(findingKey), ask))) return { status: 'joined', ask: (await this.records.get<SuppressAsk>(askName(findingKey)))! };
    await this.audit.append({ event: 'requested', user: userId, requestId: ask.id, action: 'suppress', findingKey, detail: { findings } });
    return { status: 'created', ask };
  }

  /** The caller has checked the user is an approver; the rest (which ask, expiry, two-person rule, first decision wins) is here. */
  async decide(findingKey: string, askId: string, userId: string, decision: 'approve' | 'reject', now = Date.now()): Promise<SuppressDecisionResult> {
    const earlier = await this.records.get<SuppressDecision>(decisionName(askId));
    if (earlier) return { ok: false, message: `Already ${earlier.decision === 'approve' ? 'approved' : 'rejected'} by <@${earlier.by}>.` };
    const ask = await this.records.get<SuppressAsk>(askName(findingKey));
    if (!ask || ask.id !== askId) return { ok: false, message: 'This Suppress request is no longer open (a newer one was asked since, or it was cleaned up). Nothing was changed.' };
    if (ask.expiresAt <= now) return { ok: false, message: 'This Suppress request has expired and nothing was changed. Click Suppress on the card again to ask afresh.' };
    if (decision === 'approve' && this.access.twoPersonRule && userId === ask.requestedBy) {
      await this.audit.appendThrottled({ event: 'refused-approver', user: userId, requestId: ask.id, action: 'suppress', findingKey }, `refused-approver:${userId}`);
      return { ok: false, message: 'Two-person rule: you asked for this, so someone else from the approvers must approve it.' };
    }
    const d: SuppressDecision = { decision, by: userId, at: now };
    if (!(await this.records.putIfAbsent(decisionName(ask.id), d))) {
      const won = (await this.records.get<SuppressDecision>(decisionName(ask.id)))!;
      return { ok: false, message: `Already ${won.decision === 'approve' ? 'approved' : 'rejected'} by <@${won.by}>.` };
    }
    if (decision === 'approve') {
      try {
        await this.pipeline.task({ kind: 'workflow', findingKey, status: 'SUPPRESSED', user: ask.requestedBy, approvedBy: userId });
      } catch (err) {
        // Not queued: the approval must not stand, or a second click would find it "already approved" and nothing would run.
        await this.records.retire(decisionName(ask.id), now);
        throw err;
      }
    }
    // Decided: the next Suppress click on the card asks afresh.
    await this.records.retire(askName(findingKey), now);
    await this.audit.append({ event: decision === 'approve' ? 'approved' : 'rejected', user: userId, requestId: ask.id, action: 'suppress', findingKey, detail: { findings: ask.findings, requestedBy: ask.requestedBy } });
    return { ok: true, ask, decision: d };
  }
}

import type { IsolationRecord } from '../actions/isolate';
import { isolationRecordName } from '../actions/isolate';
import type { RecordStore } from '../actions/types';
import type { WorkflowChoice } from '../actions/securityhub-workflow';
import { huntCancelRecord } from '../hunts/templates';
import type { AuditLog, StoredAuditEntry } from '../audit/log';
import type { CardStore } from '../cards/store';
import type { Config } from '../config/load';
import { actionableTargets, type Finding } from '../findings/model';
import { NO_REPLICA_WAIT, type ReplicaMark } from '../redis';
import { ALWAYS_APPROVAL, ALWAYS_TWO_PERSON, type ActionName, type ActionRequest, type AutoInfo } from './model';
import type { Lifecycle } from './lifecycle';
import type { Pipeline } from './pipeline';
import { LOCKING_ACTIONS, needsApproval, principalOf, protectedReason } from './guard';
import { NEW_REQUEST_ID, type RequestStore } from './store';
import { releaseAsk, undoAsk, type UndoAsk } from './undo';
import { SuppressApprovals } from './suppress';

export interface SubmitInput {
  action: ActionName;
  target: string;
  /** Several instances for snapshot and stop; defaults to [target]. */
  targets?: string[];
  /** From a card button: the finding the card shows. */
  findingKey?: string;
  /** Where the request was made: used when the instance has no card to thread under. */
  channel: string;
  threadTs?: string;
  userId: string;
  reason?: string;
  /** The request this one undoes: the Release button's isolation, or the IAM result whose undo button was clicked. */
  undoes?: string;
  /** Asked from outside Slack (a Security Hub custom action): approval is needed whatever the config says. */
  alwaysNeedsApproval?: boolean;
  /** No person in Slack asked (`userId` names a machine): two distinct approvers must approve. */
  machineMade?: boolean;
  /** The card may not be posted yet: the status message waits for its thread. */
  followCard?: boolean;
  /** Asked by a policy rule (userId is then `policy:<rule>`): planned and shown like any request, run by the rule when its window ends. */
  auto?: AutoInfo;
}

export type SubmitResult =
  /** `unconfirmed`: stored, but not yet on the replicas REDIS_WAIT_REPLICAS asks for (a failover now could lose it). */
  | { status: 'created' | 'joined'; request: ActionRequest; unconfirmed?: boolean }
  | { status: 'refused'; message: string };

const UNCONFIRMED_APPROVAL =
  'Approved and queued, but Redis could not yet confirm a replica holds the approval: if Redis fails over in the next moments it may be lost. If the thread does not show the request running within a minute, approve it again.';

export type DecisionResult = { ok: true; request: ActionRequest; message?: string } | { ok: false; message: string };

/**
 * What a Slack handler may ask of the pipeline: store the request and queue its plan, record a
 * decision. No AWS here: the worker reads AWS.
 */
export class RequestService {
  /** Suppress on a card, when it waits for an approver (see suppress.ts). */
  readonly suppress: SuppressApprovals;

  constructor(
    private readonly config: Pick<Config, 'access' | 'aws'>,
    private readonly store: RequestStore,
    private readonly pipeline: Pipeline,
    private readonly audit: AuditLog,
    private readonly cards: CardStore,
    private readonly records: RecordStore,
    private readonly lifecycle: Lifecycle,
    /** REDIS_WAIT_REPLICAS: taken before writing, confirmed after (see ReplicaWait). */
    private readonly replicaMark: () => ReplicaMark = () => NO_REPLICA_WAIT,
  ) {
    this.suppress = new SuppressApprovals(config.access, records, audit, pipeline);
  }

  async submit(input: SubmitInput): Promise<SubmitResult> {
    const written = this.replicaMark();
    const principal = LOCKING_ACTIONS.includes(input.action) ? principalOf(input.target) : undefined;
    const guarded = principal && protectedReason(principal, this.config);
    if (guarded) {
      await this.refused('refused-protected', input.userId, { action: input.action, target: input.target });
      return { status: 'refused', message: guarded };
    }
    let account: string | undefined;
    let region: string | undefined;
    let channel = input.channel;
    let threadTs = input.threadTs;
    const isInstance = input.target.startsWith('i-');
    // Terminate names the principal first: its case is the card of the first instance it names.
    const caseInstance = input.action === 'terminate' ? input.targets?.find((t) => t.startsWith('i-')) : undefined;
    let findingKey = input.findingKey ?? (isInstance ? await this.cards.findingKeyForInstance(input.target) : caseInstance ? await this.cards.findingKeyForInstance(caseInstance) : undefined);
    let findingId: string | undefined;
    if (input.action === 'release') {
      // Release acts where the isolation happened and reports in the isolation's thread.
      const rec = await this.records.get<IsolationRecord>(isolationRecordName(input.target));
      if (!rec) {
        return { status: 'refused', message: `Nothing is recorded for \`${input.target}\`: ir-bot did not isolate it (or it was already released), so there is no earlier state to restore.` };
      }
      if (input.undoes && rec.requestId !== input.undoes) {
        return {
          status: 'refused',
          message: `This Release button belongs to isolation \`${input.undoes}\`, but \`${input.target}\` was isolated again since (\`${rec.requestId}\`): releasing would undo the newer isolation. Use the Release button on its result, or \`/ir release ${input.target}\`.`,
        };
      }
      account = rec.account;
      region = rec.region;
      const iso = await this.store.get(rec.requestId);
      if (iso && !input.threadTs) {
        channel = iso.channel;
        threadTs = iso.threadTs ?? iso.statusTs;
        findingKey = iso.findingKey;
      }
    }
    if (input.undoes && input.action !== 'release') {
      // An IAM undo acts where the request it undoes acted.
      const done = await this.store.get(input.undoes);
      account ??= done?.account;
      region ??= done?.region;
    }
    // A principal's ARN names its account; IAM is global, so the region only picks the endpoint.
    account ??= /^arn:aws[a-z-]*:(iam|sts)::(\d{12}):/.exec(input.target)?.[2];
    if (findingKey) {
      const f = await this.cards.getFinding(findingKey);
      const names = f ? [f.instance?.id, f.principal?.accessKeyId, f.principal?.arn, ...Object.values(actionableTargets(f)).flat()] : [];
      // A blast radius from the story maps the instance's launcher, who is not on the card: it still belongs to the case.
      if (f && (names.includes(input.target) || input.action === 'blast-radius' || (caseInstance && names.includes(caseInstance)))) {
        account ??= f.accountId;
        region ??= f.region;
        findingId = f.id;
        if (!threadTs) {
          const thread = await this.cards.threadOf(findingKey);
          if (thread) ({ channel, ts: threadTs } = thread);
        }
      } else if (input.action !== 'hunt') {
        // A hunt asked from a card stays in its case (the incident report lists it); it runs where Athena is, not in the finding's account.
        findingKey = undefined;
      }
    }
    const targets = input.targets?.length ? [...new Set([input.target, ...input.targets])] : [input.target];
    const requested = { event: 'requested' as const, user: input.userId, requestId: NEW_REQUEST_ID, action: input.action, target: input.target, targets, findingKey, account, region, detail: { reason: input.reason, findingId, ...(input.auto && { rule: input.auto.rule, matched: input.auto.matched, mode: input.auto.mode }) } };
    const encoded = this.audit.encode(requested);
    const { created, id, auditId } = await this.store.create({
      action: input.action,
      target: input.target,
      targets,
      account,
      region,
      findingKey,
      findingId,
      channel,
      threadTs,
      requestedBy: input.userId,
      reason: input.reason,
      undoes: input.undoes,
      // An automatic request is approved by its rule when the window ends, so a Hold or a brake leaves it waiting for a person.
      needsApproval: input.auto !== undefined || input.alwaysNeedsApproval === true || input.machineMade === true || ALWAYS_APPROVAL.includes(input.action) || needsApproval(input.action, this.config.access),
      followCard: input.followCard,
      approvalsNeeded: input.machineMade ? 2 : undefined,
      auto: input.auto,
    }, encoded);
    const request = (await this.store.get(id))!;
    if (!created) return { status: 'joined', request };
    if (auditId) this.audit.logged({ ...requested, requestId: id }, encoded, auditId);
    await this.pipeline.plan(id);
    await this.pipeline.render(id);
    return { status: 'created', request, unconfirmed: !(await written.confirm()) };
  }

  /** Records a refused attempt: who tried to ask or approve without the right to. */
  async refused(event: 'refused-requester' | 'refused-approver' | 'refused-protected', userId: string, what: { action?: string; target?: string; requestId?: string }): Promise<void> {
    // Rate-limited: a user hammering a button they may not use records one entry a minute.
    await this.audit.appendThrottled({ event, user: userId, ...what }, `${event}:${userId}`);
  }

  /** The caller has checked the user is an approver; the rest (state, revision, expiry, two-person rule) is here. */
  async decide(requestId: string, rev: number, userId: string, decision: 'approve' | 'reject'): Promise<DecisionResult> {
    const r = await this.store.get(requestId);
    if (!r) return { ok: false, message: 'That request is no longer known (it may have been cleaned up after the retention period).' };
    const now = Date.now();
    if (r.state === 'awaiting-approval' && r.expiresAt && r.expiresAt <= now) {
      await this.lifecycle.expire(r);
      return { ok: false, message: 'This approval has expired and nothing was changed. Ask again to get a fresh plan.' };
    }
    if (r.state !== 'awaiting-approval') return { ok: false, message: alreadyDecided(r) };
    if (r.rev !== rev) return { ok: false, message: 'This card shows an older plan that AWS has since made stale. Use the newest approval card in the thread.' };
    if (decision === 'approve' && (this.config.access.twoPersonRule || ALWAYS_TWO_PERSON.includes(r.action)) && userId === r.requestedBy) {
      await this.refused('refused-approver', userId, { requestId, action: r.action, target: r.target });
      return { ok: false, message: 'Two-person rule: you asked for this, so someone else from the approvers must approve it.' };
    }
    if (decision === 'approve' && (r.approvalsNeeded ?? 1) > 1) {
      const first = await this.firstOfTwo(r, rev, userId, now);
      if (first) return first;
    }
    if (decision === 'approve') {
      const written = this.replicaMark();
      const res = await this.lifecycle.approve(r, rev, userId, now);
      if (!res.ok) return this.notDecided(requestId, r);
      const request = (await this.store.get(requestId))!;
      // The approval stands even when the queue is briefly unreachable: say what is true.
      if (res.queued && !(await written.confirm())) return { ok: true, request, message: UNCONFIRMED_APPROVAL };
      if (!res.queued) return { ok: true, request, message: 'Approved and recorded. The job queue is not reachable right now, so nothing has run yet: it runs as soon as the queue is back, and the thread will show it.' };
      return { ok: true, request };
    }
    if (!(await this.lifecycle.reject(r, rev, userId, now))) return this.notDecided(requestId, r);
    return { ok: true, request: (await this.store.get(requestId))! };
  }

  /**
   * A request no person in Slack asked for runs only once two different approvers approved it.
   * Returns the answer when this click is the first approval (or a repeat of it); undefined when
   * it is the second, distinct one and the approval proper may go ahead.
   */
  private async firstOfTwo(r: ActionRequest, rev: number, userId: string, now: number): Promise<DecisionResult | undefined> {
    let first = r.firstApprovedBy;
    if (!first) {
      const res = await this.lifecycle.approveFirst(r, rev, userId, now);
      if (res.ok) {
        return {
          ok: true,
          request: (await this.store.get(r.id))!,
          message: 'Your approval is recorded (1 of 2). Nobody in Slack asked for this request (a Security Hub custom action did), so a second approver must approve it before anything runs.',
        };
      }
      if (!res.taken) return this.notDecided(r.id, r);
      first = res.taken;
    }
    if (first === userId) {
      await this.refused('refused-approver', userId, { requestId: r.id, action: r.action, target: r.target });
      return { ok: false, message: 'You already gave the first of the two approvals this request needs: a different approver must give the second.' };
    }
    return undefined;
  }

  private async notDecided(requestId: string, r: ActionRequest): Promise<DecisionResult> {
    const fresh = (await this.store.get(requestId)) ?? r;
    if (fresh.state === 'awaiting-approval' && fresh.expiresAt && fresh.expiresAt <= Date.now()) {
      await this.lifecycle.expire(fresh);
      return { ok: false, message: 'This approval has expired and nothing was changed. Ask again to get a fresh plan.' };
    }
    return { ok: false, message: alreadyDecided(fresh) };
  }

  /** Security Hub workflow for every finding on the card of `findingKey`. */
  async workflow(findingKey: string, status: WorkflowChoice, userId: string): Promise<void> {
    await this.pipeline.task({ kind: 'workflow', findingKey, status, user: userId });
  }

  /** "Show all" on a roll-up: every finding of the card as a file in its thread. */
  async showAll(findingKey: string, userId: string): Promise<void> {
    await this.pipeline.task({ kind: 'listing', findingKey, user: userId });
  }

  /** Finds the finding by its provider id (or key) and queues its report; false when unknown. */
  async report(findingIdOrKey: string, userId: string, where: { channel: string; threadTs?: string }): Promise<boolean> {
    const key = (await this.cards.getFinding(findingIdOrKey)) ? findingIdOrKey : await this.cards.findingKeyForId(findingIdOrKey);
    if (!key) return false;
    await this.pipeline.task({ kind: 'report', findingKey: key, user: userId, channel: where.channel, threadTs: where.threadTs });
    return true;
  }

  /**
   * The audit trail for a resource (instance, key, ARN), a Slack user, or a finding id (every
   * request made about it), oldest first.
   */
  async auditTrail(query: string): Promise<StoredAuditEntry[]> {
    if (/^[UW][A-Z0-9]{2,}$/.test(query)) return this.audit.find([{ user: query }]);
    const key = await this.cards.findingKeyForId(query);
    if (key) {
      const requests = await this.store.about({ findingKeys: [key] });
      return this.audit.find([{ findingKey: key }, ...requests.map((r) => ({ requestId: r.id }))]);
    }
    return this.audit.find([{ target: query }, { requestId: query }]);
  }

  /** Asks the running hunt to stop; the job stops the Athena query at its next check. */
  async cancelHunt(requestId: string, userId: string): Promise<string> {
    const r = await this.store.get(requestId);
    if (!r || r.action !== 'hunt') return 'That hunt is no longer known.';
    if (r.state !== 'running' && r.state !== 'planning' && r.state !== 'approved') return `That hunt is already ${r.state}.`;
    await this.records.putIfAbsent(huntCancelRecord(requestId), { by: userId });
    await this.audit.append({ event: 'cancelled', user: userId, requestId, action: 'hunt', target: r.target });
    return 'Cancelling: the query is stopped at its next status check.';
  }

  finding(key: string) {
    return this.cards.getFinding(key);
  }

  /** Every finding on the card of `findingKey` (a roll-up's "Isolate all" acts on its instances). */
  async cardFindings(findingKey: string): Promise<Finding[]> {
    const cardId = await this.cards.cardOf(findingKey);
    return cardId ? this.cards.cardFindings(cardId) : [];
  }

  /** The latest finding about an instance, which says its account and region. */
  async instanceFinding(instanceId: string): Promise<Finding | undefined> {
    const key = await this.cards.findingKeyForInstance(instanceId);
    return key ? this.cards.getFinding(key) : undefined;
  }

  get(id: string): Promise<ActionRequest | undefined> {
    return this.store.get(id);
  }

  /** What the undo button of request `id` asks for, or why it may not (see undo.ts). */
  async undoOf(id: string): Promise<UndoAsk> {
    const r = await this.store.get(id);
    return undoAsk(r, r ? await this.store.about({ targets: [r.target] }) : []);
  }

  /** What the Release button of isolation `id` asks for (see undo.ts). */
  async releaseOf(id: string): Promise<UndoAsk> {
    return releaseAsk(await this.store.get(id));
  }

  recent(limit = 10): Promise<ActionRequest[]> {
    return this.store.recent(limit);
  }
}

function alreadyDecided(r: ActionRequest): string {
  switch (r.state) {
    case 'approved':
    case 'running':
    case 'done':
    case 'failed':
      return r.approvedBy ? `Already approved by <@${r.approvedBy}>; nothing more to do.` : `This request is already ${r.state}.`;
    case 'rejected':
      return r.decidedBy ? `Already rejected by <@${r.decidedBy}>.` : 'Already rejected.';
    case 'expired':
      return 'This approval has expired and nothing was changed. Ask again to get a fresh plan.';
    default:
      return `This request is ${r.state}; it cannot be decided now.`;
  }
}

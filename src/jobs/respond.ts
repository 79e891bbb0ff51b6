import type { Job } from 'bullmq';
import {
  allowPrincipalAction,
  denyPrincipalAction,
  disableKeyAction,
  enableKeyAction,
  restoreSessionsAction,
  revokeSessionsAction,
} from '../actions/iam';
import { huntAction } from '../actions/hunt';
import { isolateAction } from '../actions/isolate';
import { InstanceUnavailable } from '../actions/instance';
import { releaseAction } from '../actions/release';
import { snapshotAction } from '../actions/snapshot';
import { stopAction } from '../actions/stop';
import { FinalError, StepFailure, type ActionContext, type RecordStore, type ResponseAction } from '../actions/types';
import type { AuditEntry, AuditLog } from '../audit/log';
import type { AwsClients } from '../aws/clients';
import { AwsCallError } from '../aws/errors';
import type { MutationLimiter } from '../aws/mutation-limiter';
import { Responder } from '../aws/responder';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import type { ActionName, ActionRequest, PlanView } from '../requests/model';
import type { Pipeline } from '../requests/pipeline';
import type { Locks } from '../requests/locks';
import type { RequestStore } from '../requests/store';
import { retryLater } from './delay';
import type { ActionJob } from '../queues';

export const ACTIONS: Record<ActionName, ResponseAction> = {
  isolate: isolateAction,
  release: releaseAction,
  snapshot: snapshotAction,
  stop: stopAction,
  'disable-key': disableKeyAction,
  'enable-key': enableKeyAction,
  'deny-principal': denyPrincipalAction,
  'allow-principal': allowPrincipalAction,
  'revoke-sessions': revokeSessionsAction,
  'restore-sessions': restoreSessionsAction,
  hunt: huntAction,
};

export interface RespondDeps {
  config: Pick<Config, 'access' | 'isolation' | 'snapshot' | 'stop' | 'iam' | 'athena' | 'hunts' | 'aws'>;
  store: RequestStore;
  pipeline: Pipeline;
  audit: AuditLog;
  records: RecordStore;
  aws: AwsClients;
  limiter: MutationLimiter;
  locks: Locks;
  log: Logger;
  actions?: Record<ActionName, ResponseAction>;
}

function describe(err: unknown, attempts: number): { message: string; retryable: boolean } {
  const cause = err instanceof StepFailure ? err.cause : (err as Error);
  if (cause instanceof AwsCallError) {
    if (cause.kind === 'throttled') return { message: `AWS kept throttling ${cause.iamAction} (${cause.code}) after ${attempts} attempt(s)`, retryable: true };
    return { message: cause.message, retryable: cause.retryable };
  }
  if (cause instanceof InstanceUnavailable || cause instanceof FinalError) return { message: cause.message, retryable: false };
  // Network trouble, Redis hiccups, bugs: worth another attempt; the message is kept for the last one.
  return { message: `unexpected error: ${cause?.message ?? String(cause)}`, retryable: true };
}

/** plan → (approval) → execute → verify, each step safe to re-run after a crash or a re-delivery. */
export function actionProcessor(deps: RespondDeps) {
  const { store, pipeline, config } = deps;
  const actions = deps.actions ?? ACTIONS;

  const audit = (r: ActionRequest, e: Omit<AuditEntry, 'requestId' | 'action' | 'target' | 'account' | 'region'>) =>
    deps.audit.append({ ...e, requestId: r.id, action: r.action, target: r.target, targets: r.targets, findingKey: r.findingKey, account: r.account, region: r.region });

  async function withContext<T>(r: ActionRequest, fn: (ctx: ActionContext) => Promise<T>): Promise<T> {
    const session = await deps.aws.responder({ account: r.account, region: r.region }, { requestId: r.id, userId: r.approvedBy ?? r.requestedBy });
    try {
      const ctx: ActionContext = {
        aws: new Responder(session.clients, session.account, session.region, () => deps.limiter.take(session.account, session.region)),
        requestId: r.id,
        requestedBy: r.requestedBy,
        approvedBy: r.approvedBy,
        caseId: r.findingId ?? r.id,
        records: deps.records,
        isolation: config.isolation,
        snapshot: config.snapshot,
        stop: config.stop,
        iam: config.iam,
        athena: config.athena,
        hunts: config.hunts,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        now: () => new Date(),
        serialize: (name, fn) => deps.locks.withLock(name, fn),
        progress: async (step, total, label) => {
          await store.patch(r.id, { progress: { step, total, label } });
          await pipeline.render(r.id, false);
        },
      };
      if (!r.account || !r.region) await store.patch(r.id, { account: session.account, region: session.region });
      return await fn(ctx);
    } finally {
      session.destroy();
    }
  }

  /** Attempts left: throw to retry; otherwise record the failure where the user sees it. */
  async function fail(job: Job<ActionJob>, r: ActionRequest, err: unknown): Promise<string> {
    const attempts = job.opts.attempts ?? 1;
    const { message, retryable } = describe(err, job.attemptsMade + 1);
    if (retryable && job.attemptsMade + 1 < attempts) {
      await store.patch(r.id, { notice: `${message}; retrying (attempt ${job.attemptsMade + 2} of ${attempts})` });
      await audit(r, { event: 'retrying', user: 'system', detail: { message, attempt: job.attemptsMade + 1 } });
      await pipeline.render(r.id, false);
      throw err;
    }
    const step = err instanceof StepFailure ? err : undefined;
    const failure = { message, step: step?.step, stepLabel: step?.stepLabel, done: step?.done ?? [] };
    const res = await store.transition(r.id, { from: ['planning', 'approved', 'running'] }, { state: 'failed', failure, finishedAt: Date.now(), notice: null });
    if (res.ok) {
      await audit(r, { event: 'failed', user: 'system', detail: failure });
      await pipeline.render(r.id);
    }
    deps.log.warn({ requestId: r.id, err: message }, 'action failed');
    return 'failed';
  }

  async function askApproval(r: ActionRequest, plan: PlanView, rev: number, fromState: 'planning' | 'approved', notice?: string): Promise<boolean> {
    const expiresAt = Date.now() + config.access.approvalTimeoutMinutes * 60_000;
    const res = await store.transition(
      r.id,
      { from: [fromState], rev: r.rev },
      { state: 'awaiting-approval', plan, rev, expiresAt, notice: notice ?? null, approvedBy: null, approvedAt: null },
    );
    if (!res.ok) return false;
    await pipeline.expire(r.id, rev, expiresAt);
    await audit(r, { event: notice ? 'plan-changed' : 'approval-requested', user: 'system', detail: { summary: plan.summary, warnings: plan.warnings, rev } });
    return true;
  }

  async function onPlan(r: ActionRequest): Promise<string> {
    if (r.state !== 'planning') {
      // Re-delivered after the plan was stored: make sure the next job exists, then stop.
      if (r.state === 'approved') await pipeline.execute(r.id, r.rev);
      if (r.state === 'awaiting-approval' && r.expiresAt) await pipeline.expire(r.id, r.rev, r.expiresAt);
      return r.state;
    }
    const plan = await withContext(r, (ctx) => actions[r.action].plan(r.targets, ctx));
    if (plan.blocked) {
      const res = await store.transition(r.id, { from: ['planning'] }, { state: 'refused', plan, finishedAt: Date.now() });
      if (res.ok) await audit(r, { event: 'refused-plan', user: 'system', detail: { reason: plan.blocked } });
    } else if (r.needsApproval) {
      await askApproval(r, plan, r.rev, 'planning');
    } else {
      const res = await store.transition(r.id, { from: ['planning'] }, { state: 'approved', plan });
      if (res.ok) {
        await audit(r, { event: 'planned', user: 'system', detail: { summary: plan.summary, warnings: plan.warnings } });
        await pipeline.execute(r.id, r.rev);
      }
    }
    await pipeline.render(r.id);
    return 'planned';
  }

  async function onExecute(job: Job<ActionJob>, r: ActionRequest): Promise<string> {
    if (job.data.rev !== r.rev) return 'stale';
    const action = actions[r.action];
    if (r.state !== 'approved' && r.state !== 'running') return r.state;
    return withContext(r, async (ctx) => {
      let plan = r.plan!;
      if (r.state === 'approved') {
        // The approval is for the plan shown. Re-read AWS: if anything it would change moved, ask again.
        const fresh = await action.plan(r.targets, ctx);
        if (fresh.blocked) {
          const res = await store.transition(r.id, { from: ['approved'], rev: r.rev }, { state: 'refused', plan: fresh, finishedAt: Date.now(), notice: 'AWS changed after the plan was made' });
          if (res.ok) await audit(r, { event: 'refused-plan', user: 'system', detail: { reason: fresh.blocked } });
          await pipeline.render(r.id);
          return 'refused';
        }
        if (fresh.fingerprint !== plan.fingerprint) {
          if (r.needsApproval) {
            await askApproval(r, fresh, r.rev + 1, 'approved', `AWS changed after ${r.approvedBy ?? 'the'} approval, so nothing was run. This is the new plan: it needs its own approval.`);
            await pipeline.render(r.id);
            return 'plan-changed';
          }
          plan = fresh;
        }
        const res = await store.transition(r.id, { from: ['approved'], rev: r.rev }, { state: 'running', plan, startedAt: Date.now(), notice: null });
        if (!res.ok) return `not started: ${res.reason}`;
        await audit(r, { event: 'started', user: r.approvedBy ?? r.requestedBy, detail: { approvedBy: r.approvedBy } });
      } else {
        await audit(r, { event: 'resumed', user: 'system', detail: { attempt: job.attemptsMade + 1 } });
      }
      await pipeline.render(r.id);
      const outcome = await action.execute(plan, ctx);
      const res = await store.transition(r.id, { from: ['running'] }, { state: 'done', result: outcome, finishedAt: Date.now(), notice: null, progress: null });
      if (res.ok) {
        await audit(r, { event: 'succeeded', user: 'system', detail: outcome });
        // The finding in Security Hub gets a note saying what was done about it.
        if (r.findingKey) {
          const who = r.approvedBy ? `asked by ${r.requestedBy}, approved by ${r.approvedBy}` : `asked by ${r.requestedBy}`;
          await pipeline.task({ kind: 'note', findingKey: r.findingKey, user: r.requestedBy, text: `ir-bot: ${r.action} ${r.targets.join(', ')} done (${r.id}, ${who}). ${outcome.lines.slice(0, 3).join('; ')}` });
        }
      }
      await pipeline.render(r.id);
      return outcome.ok ? 'done' : 'done-unverified';
    });
  }

  async function onExpire(job: Job<ActionJob>, r: ActionRequest, token?: string): Promise<string> {
    if (job.data.rev !== r.rev) return 'stale';
    if (r.state === 'approved') {
      // Covers a crash between recording an approval and queueing its execution.
      await pipeline.execute(r.id, r.rev);
      return 'approved';
    }
    if (r.state !== 'awaiting-approval' || !r.expiresAt) return r.state;
    if (r.expiresAt > Date.now()) return retryLater(job, token, r.expiresAt - Date.now());
    const res = await store.transition(r.id, { from: ['awaiting-approval'], rev: r.rev }, { state: 'expired', finishedAt: Date.now() });
    if (res.ok) {
      await audit(r, { event: 'expired', user: 'system', detail: { after: `${config.access.approvalTimeoutMinutes} min` } });
      await pipeline.render(r.id);
    }
    return 'expired';
  }

  return async (job: Job<ActionJob>, token?: string): Promise<string> => {
    const r = await store.get(job.data.requestId);
    if (!r) return 'gone';
    try {
      if (job.name === 'plan') return await onPlan(r);
      if (job.name === 'execute') return await onExecute(job, r);
      if (job.name === 'expire') return await onExpire(job, r, token);
      return 'unknown job';
    } catch (err) {
      if ((err as Error).name === 'DelayedError' || job.name === 'expire') throw err;
      return fail(job, (await store.get(r.id)) ?? r, err);
    }
  };
}

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
import { blastRadiusAction } from '../actions/blast-radius';
import { memoryAction } from '../actions/memory';
import { terminateAction } from '../actions/terminate';
import { deleteKeysAction, revokeRulesAction } from '../actions/eradicate';
import { eachInstance } from '../actions/each-instance';
import { isolateAction } from '../actions/isolate';
import { InstanceUnavailable, findInstance } from '../actions/instance';
import { releaseAction } from '../actions/release';
import { snapshotAction } from '../actions/snapshot';
import { stopAction } from '../actions/stop';
import { FinalError, NotYet, StepFailure, type ActionContext, type RecordStore, type ResponseAction } from '../actions/types';
import type { AuditLog } from '../audit/log';
import type { AwsClients } from '../aws/clients';
import { AwsCallError } from '../aws/errors';
import type { MutationLimiter } from '../aws/mutation-limiter';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import { Lifecycle } from '../requests/lifecycle';
import type { ActionName, ActionOutcome, ActionRequest } from '../requests/model';
import type { Pipeline } from '../requests/pipeline';
import type { Locks } from '../requests/locks';
import type { SingleFlight } from '../requests/single-flight';
import type { CloudTrailBudget } from '../aws/cloudtrail-budget';
import type { RequestStore } from '../requests/store';
import { retryLater } from './delay';
import type { ActionJob } from '../queues';
import { protectedReason } from '../requests/guard';
import { liveTagBrake, vetoWindowStep, type WindowDeps } from '../policy/window';

export const ACTIONS: Record<ActionName, ResponseAction> = {
  // Several instances: one plan and approval, run in parallel (src/actions/each-instance.ts).
  isolate: eachInstance(isolateAction, 'isolate', { sharedWork: (name) => name.startsWith('sg:') }),
  release: eachInstance(releaseAction, 'release'),
  snapshot: snapshotAction,
  stop: stopAction,
  'disable-key': disableKeyAction,
  'enable-key': enableKeyAction,
  'deny-principal': denyPrincipalAction,
  'allow-principal': allowPrincipalAction,
  'revoke-sessions': revokeSessionsAction,
  'restore-sessions': restoreSessionsAction,
  hunt: huntAction,
  memory: memoryAction,
  'blast-radius': blastRadiusAction,
  terminate: terminateAction,
  'delete-keys': deleteKeysAction,
  'revoke-rules': revokeRulesAction,
};

export interface RespondDeps {
  config: Pick<Config, 'access' | 'isolation' | 'snapshot' | 'stop' | 'iam' | 'athena' | 'hunts' | 'aws' | 'memory' | 'blastRadius'>;
  store: RequestStore;
  pipeline: Pipeline;
  audit: AuditLog;
  records: RecordStore;
  aws: AwsClients;
  limiter: MutationLimiter;
  locks: Locks;
  /** Shared answers for concurrent requests (one VPC's groups); absent, each request works alone. */
  once?: SingleFlight;
  /** The LookupEvents budget per account and region, shared with stories. */
  cloudTrail?: CloudTrailBudget;
  log: Logger;
  actions?: Record<ActionName, ResponseAction>;
  /** Runs the veto windows of policy rules' requests (docs/autonomy.md); without it they wait for people. */
  autonomy?: WindowDeps;
  /** Told of every request that finished (time to contain on /metrics); its failure does not fail the request. */
  onFinished?: (r: ActionRequest, outcome: ActionOutcome) => Promise<void>;
}

/** An action reading CloudTrail (a blast radius) is a long job: it may wait in place for the budget. */
const CLOUDTRAIL_PATIENCE_MS = 120_000;

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

/** Who approved the plan that went stale (both, for a request that needed two). The notice is shown escaped, so plain ids. */
function approvalsOf(r: ActionRequest): string {
  const who = [r.firstApprovedBy, r.approvedBy].filter((u): u is string => !!u);
  return who.length ? `the approval by ${who.join(' and ')}` : 'the approval';
}

/** plan → (approval) → execute → verify, each step safe to re-run after a crash or a re-delivery. */
export function actionProcessor(deps: RespondDeps) {
  const { store, pipeline, config } = deps;
  const actions = deps.actions ?? ACTIONS;

  const life = new Lifecycle(store, deps.audit, pipeline, config.access.approvalTimeoutMinutes, deps.log);

  async function withContext<T>(r: ActionRequest, fn: (ctx: ActionContext) => Promise<T>): Promise<T> {
    const session = await deps.aws.responder({ account: r.account, region: r.region }, { requestId: r.id, userId: r.approvedBy ?? r.requestedBy });
    try {
      const ctx: ActionContext = {
        aws: session.responder(() => deps.limiter.take(session.account, session.region)),
        requestId: r.id,
        planRevision: r.rev,
        requestedBy: r.requestedBy,
        // A rule's request is approved by the rule itself: its tags and notes name it once.
        approvedBy: r.approvedBy !== r.requestedBy ? r.approvedBy : undefined,
        undoes: r.undoes,
        startedAt: r.startedAt ?? Date.now(),
        caseId: r.findingId ?? r.id,
        records: deps.records,
        isolation: config.isolation,
        snapshot: config.snapshot,
        stop: config.stop,
        iam: config.iam,
        athena: config.athena,
        hunts: config.hunts,
        memory: config.memory,
        blastRadius: config.blastRadius,
        reason: r.reason,
        protectedReason: (p) => protectedReason(p, config, [session.roleArn, session.callerArn]),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        now: () => new Date(),
        serialize: (name, fn) => deps.locks.withLock(name, fn),
        ...(deps.once && { shared: (name, freshMs, fn) => deps.once!.run(name, freshMs, fn), forget: (name) => deps.once!.forget(name) }),
        ...(deps.cloudTrail && { cloudTrailCall: deps.cloudTrail.forAccount(session.account, session.region, CLOUDTRAIL_PATIENCE_MS) }),
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
      await life.retrying(r, message, job.attemptsMade + 1, attempts);
      throw err;
    }
    const step = err instanceof StepFailure ? err : undefined;
    await life.fail(r, { message, step: step?.step, stepLabel: step?.stepLabel, done: step?.done ?? [] });
    deps.log.warn({ requestId: r.id, err: message }, 'action failed');
    return 'failed';
  }

  async function onPlan(r: ActionRequest): Promise<string> {
    if (r.state !== 'planning') {
      // Re-delivered after the plan was stored: make sure the next job exists, then stop.
      if (r.state === 'approved') await pipeline.execute(r.id, r.rev);
      // A rule's veto window ticks from now, not from the approval's expiry.
      if (r.state === 'awaiting-approval' && r.expiresAt) await pipeline.expire(r.id, r.rev, r.autoAt !== undefined ? Date.now() : r.expiresAt);
      return r.state;
    }
    const plan = await withContext(r, (ctx) => actions[r.action].plan(r.targets, ctx));
    if (plan.blocked) await life.refuse(r, plan, 'planning');
    else if (r.needsApproval) await life.askApproval(r, plan, r.rev, 'planning');
    else await life.planned(r, plan);
    return 'planned';
  }

  /** Mutating work on one target runs one request at a time, across workers (plan check through verify). */
  async function holdingTargets<T>(job: Job<ActionJob>, token: string | undefined, r: ActionRequest, fn: () => Promise<T>): Promise<T> {
    const names = r.targets.map((t) => `target:${t}`);
    const got = await deps.locks.tryAcquire(names, r.id);
    if (!got.ok) {
      const notice = `waiting: request ${got.heldBy} is changing the same target; this one runs after it`;
      if (r.notice !== notice) {
        await store.patch(r.id, { notice });
        await pipeline.render(r.id, false);
      }
      return retryLater(job, token, 1000);
    }
    try {
      return await fn();
    } finally {
      await got.held.release();
    }
  }

  async function onExecute(job: Job<ActionJob>, r: ActionRequest, token?: string): Promise<string> {
    if (job.data.rev !== r.rev) return 'stale';
    const action = actions[r.action];
    if (r.state !== 'approved' && r.state !== 'running') return r.state;
    return holdingTargets(job, token, r, () =>
      withContext(r, async (ctx) => {
        let plan = r.plan!;
        if (r.state === 'approved') {
          // The approval is for the plan shown. Re-read AWS: if anything it would change moved, ask again.
          const fresh = await action.plan(r.targets, ctx);
          if (fresh.blocked) {
            await life.refuse(r, fresh, 'approved', 'AWS changed after the plan was made');
            return 'refused';
          }
          const braked = await liveTagBrake(r, deps.autonomy?.protectedTags, async (id) => Object.fromEntries(((await findInstance(ctx.aws, id)).Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])));
          if (braked) {
            await life.askApproval(r, fresh, r.rev + 1, 'approved', braked);
            return 'held: protected tag';
          }
          if (fresh.fingerprint !== plan.fingerprint) {
            if (r.needsApproval) {
              await life.askApproval(r, fresh, r.rev + 1, 'approved', `AWS changed after ${approvalsOf(r)}, so nothing was run. This is the new plan: it needs its own approval${(r.approvalsNeeded ?? 1) > 1 ? 's' : ''}.`);
              return 'plan-changed';
            }
            plan = fresh;
          }
          if (!(await life.start(r, plan))) return 'not started';
        } else if (!job.data.waited) {
          await life.resumed(r, { attempt: job.attemptsMade + 1 });
        }
        let outcome;
        try {
          outcome = await action.execute(plan, ctx);
        } catch (err) {
          // A long wait (a snapshot completing) goes back to Redis instead of holding this job.
          if (err instanceof NotYet) {
            await job.updateData({ ...job.data, waited: true });
            if (err.note) await store.patch(r.id, { notice: err.note });
            return retryLater(job, token, err.ms);
          }
          throw err;
        }
        await life.finish((await store.get(r.id)) ?? r, outcome);
        await deps.onFinished?.((await store.get(r.id)) ?? r, outcome).catch((err: Error) => deps.log.warn({ requestId: r.id, err: err.message }, 'after-finish hook failed'));
        return outcome.ok ? 'done' : 'done-unverified';
      }),
    );
  }

  async function onExpire(job: Job<ActionJob>, r: ActionRequest, token?: string): Promise<string> {
    if (job.data.rev !== r.rev) return 'stale';
    if (r.state === 'awaiting-approval' && r.autoAt !== undefined && deps.autonomy) {
      const step = await vetoWindowStep(r, { ...deps.autonomy, life, store, pipeline });
      return 'wait' in step ? retryLater(job, token, step.wait) : step.done;
    }
    if (r.state === 'approved') {
      // Covers a crash between recording an approval and queueing its execution.
      await pipeline.execute(r.id, r.rev);
      return 'approved';
    }
    if (r.state !== 'awaiting-approval' || !r.expiresAt) return r.state;
    if (r.expiresAt > Date.now()) return retryLater(job, token, r.expiresAt - Date.now());
    await life.expire(r);
    return 'expired';
  }

  return async (job: Job<ActionJob>, token?: string): Promise<string> => {
    const r = await store.get(job.data.requestId);
    if (!r) return 'gone';
    try {
      if (job.name === 'plan') return await onPlan(r);
      if (job.name === 'execute') return await onExecute(job, r, token);
      if (job.name === 'expire') return await onExpire(job, r, token);
      return 'unknown job';
    } catch (err) {
      if ((err as Error).name === 'DelayedError' || job.name === 'expire') throw err;
      return fail(job, (await store.get(r.id)) ?? r, err);
    }
  };
}

import type { Job, Queue } from 'bullmq';
import type { Logger } from '../log';
import type { ActionJob } from '../queues';
import type { Lifecycle } from '../requests/lifecycle';
import { isTerminal, type ActionRequest } from '../requests/model';
import type { Pipeline } from '../requests/pipeline';
import type { RequestStore } from '../requests/store';

export const RECONCILE_JOB = 'reconcile';

export interface ReconcileDeps {
  store: RequestStore;
  life: Lifecycle;
  pipeline: Pipeline;
  actions: Queue<ActionJob>;
  /** Times a running request is picked up again after its job died, before it is ended as failed. */
  maxResumes: number;
  log: Logger;
}

/** A job that will still run: waiting, delayed, active (BullMQ re-queues an active one whose worker died). */
async function isLive(job: Job | undefined): Promise<boolean> {
  if (!job) return false;
  const state = await job.getState();
  return state === 'waiting' || state === 'delayed' || state === 'active' || state === 'prioritized' || state === 'waiting-children';
}

/**
 * Every request ends: done, failed with the state left, rejected, refused or expired. This pass
 * finds the ones whose next step has no live job (lost between storing and queueing, failed by
 * BullMQ after too many stalls without our code running, removed) and queues that step again (each
 * is idempotent), expires approvals past their time, and ends a request whose worker keeps dying.
 */
export function reconcileProcessor(deps: ReconcileDeps) {
  const { store, life, pipeline, actions, log } = deps;

  /** Re-runs a failed job in place, or queues the step anew when its job is gone or finished. */
  async function requeue(job: Job | undefined, add: () => Promise<void>): Promise<void> {
    if (job && (await job.getState()) === 'failed') {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return;
    }
    if (job) await job.remove().catch(() => undefined);
    await add();
  }

  async function one(r: ActionRequest): Promise<string | undefined> {
    switch (r.state) {
      case 'planning': {
        const job = await actions.getJob(`plan-${r.id}`);
        if (await isLive(job)) return undefined;
        await requeue(job, () => pipeline.plan(r.id));
        return 'plan queued again';
      }
      case 'awaiting-approval': {
        if (r.expiresAt && r.expiresAt <= Date.now()) {
          await life.expire(r);
          return 'expired';
        }
        const job = await actions.getJob(`expire-${r.id}-r${r.rev}`);
        if (await isLive(job)) return undefined;
        // A rule's veto window ticks from now (it runs once autoAt has passed).
        await requeue(job, () => pipeline.expire(r.id, r.rev, r.autoAt !== undefined ? Date.now() : r.expiresAt ?? Date.now()));
        return 'expiry queued again';
      }
      case 'approved':
      case 'running': {
        const job = await actions.getJob(`exec-${r.id}-r${r.rev}`);
        if (await isLive(job)) return undefined;
        const fresh = await store.get(r.id);
        if (!fresh || isTerminal(fresh.state)) return undefined;
        const resumes = fresh.resumes ?? 0;
        if (fresh.state === 'running' && resumes >= deps.maxResumes) {
          const at = fresh.progress ? `step ${fresh.progress.step} of ${fresh.progress.total} (${fresh.progress.label})` : 'an unknown step';
          await life.fail(fresh, {
            message: `the worker running this stopped ${resumes + 1} times (killed, restarted or out of time) and it was not finished; it was last at ${at}. AWS may hold part of the change: check the target, then ask again (every step re-reads AWS first).`,
            step: fresh.progress?.step,
            stepLabel: fresh.progress?.label,
            done: [],
          });
          return 'ended as failed';
        }
        if (fresh.state === 'running') await store.patch(r.id, { resumes: resumes + 1 });
        await requeue(job, () => pipeline.execute(r.id, r.rev));
        return fresh.state === 'running' ? 'resumed' : 'execution queued again';
      }
      default:
        return undefined;
    }
  }

  return async (): Promise<Record<string, string>> => {
    const done: Record<string, string> = {};
    for (const { id } of await store.open(1000)) {
      const r = await store.get(id);
      if (!r || isTerminal(r.state)) {
        await store.forgetOpen(id);
        continue;
      }
      try {
        const what = await one(r);
        if (what) done[id] = what;
      } catch (err) {
        log.warn({ requestId: id, err: (err as Error).message }, 'reconcile failed for a request; next pass tries again');
      }
    }
    if (Object.keys(done).length) log.warn({ requests: done }, 'requests without a live job were picked up again');
    return done;
  };
}

import { AwsCallError } from '../aws/errors';
import { InstanceUnavailable } from './instance';
import type { ActionOutcome, PlanView } from './results';
import { FinalError, StepFailure, blockedPlan, fingerprint, type ActionContext, type ResponseAction } from './types';

/** What a bulk plan carries to its execute step: each instance's own plan, as its action made it. */
export interface EachInstancePlanData {
  each: { instanceId: string; plan: PlanView }[];
  skipped: string[];
}

/** A failure another attempt may fix (throttling, 5xx, network): the job is retried as a whole. */
function retryable(err: unknown): boolean {
  const cause = err instanceof StepFailure ? err.cause : err;
  if (cause instanceof AwsCallError) return cause.retryable;
  return !(cause instanceof InstanceUnavailable || cause instanceof FinalError);
}

/**
 * Runs a one-instance action (isolate, release) over several instances of one account and region
 * as one request: the plan lists every instance and every change, one approval covers them all,
 * and execution runs them in parallel (the per-account mutation limiter paces AWS). With one
 * instance it is the action itself, unchanged.
 */
export interface EachInstanceOptions {
  /**
   * Work the instances run under `ctx.serialize(name)` that is the same for all of them (one VPC's
   * quarantine groups): done once per name in a bulk run and shared, instead of ten times in a row
   * behind one lock.
   */
  sharedWork?: (name: string) => boolean;
}

/**
 * Each instance's warnings, prefixed with its id; a check that could not be made for several of
 * them (the same permission denied ten times) is named once, with the instances it concerns.
 */
function instanceWarnings(each: { instanceId: string; plan: PlanView }[]): string[] {
  const unchecked = new Map<string, string[]>();
  const out: string[] = [];
  for (const p of each) {
    for (const w of p.plan.warnings) {
      if (!w.startsWith('could not check')) out.push(`${p.instanceId}: ${w}`);
      else unchecked.set(w, [...(unchecked.get(w) ?? []), p.instanceId]);
    }
  }
  for (const [w, ids] of unchecked) out.push(ids.length === 1 ? `${ids[0]}: ${w}` : `${w} (${ids.length} instances: ${ids.join(', ')})`);
  return out;
}

export function eachInstance(action: ResponseAction, verb: string, opts: EachInstanceOptions = {}): ResponseAction {
  async function plan(instanceIds: string[], ctx: ActionContext): Promise<PlanView> {
    if (instanceIds.length <= 1) return action.plan(instanceIds, ctx);
    const plans = await Promise.all(instanceIds.map(async (id) => ({ instanceId: id, plan: await action.plan([id], ctx) })));
    const each = plans.filter((p) => !p.plan.blocked);
    const skipped = plans.filter((p) => p.plan.blocked).map((p) => `${p.instanceId}: ${p.plan.blocked}`);
    if (each.length === 0) return blockedPlan(`Nothing to ${verb}: ${skipped.join('; ')}`);
    const summary = [`${each.length} instance(s) in account ${ctx.aws.account} / ${ctx.aws.region}, in parallel:`];
    for (const p of each) summary.push(`${p.instanceId}: ${p.plan.summary.join('; ')}`);
    const warnings = [...skipped.map((s) => `skipped, ${s}`), ...instanceWarnings(each)];
    const data: EachInstancePlanData = { each, skipped };
    return {
      summary,
      warnings,
      steps: each.map((p) => p.instanceId),
      fingerprint: fingerprint(each.map((p) => [p.instanceId, p.plan.fingerprint])),
      data,
    };
  }

  async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
    const data = p.data as EachInstancePlanData | undefined;
    if (!data?.each) return action.execute(p, ctx);
    const n = data.each.length;
    const shared = new Map<string, Promise<unknown>>();
    const once = <T>(name: string, run: () => Promise<T>): Promise<T> => {
      if (!opts.sharedWork?.(name)) return run();
      if (!shared.has(name)) shared.set(name, run());
      return shared.get(name) as Promise<T>;
    };
    const serialize = <T>(name: string, fn: () => Promise<T>): Promise<T> => once(name, () => ctx.serialize(name, fn));
    const sharedWork: Pick<ActionContext, 'shared' | 'forget'> = {
      shared: ctx.shared && (<T>(name: string, freshMs: number, fn: () => Promise<T>) => once(name, () => ctx.shared!(name, freshMs, fn))),
      forget:
        ctx.forget &&
        (async (name: string) => {
          // Forgotten here too, so the instances that saw the change share the one redo.
          shared.delete(name);
          await ctx.forget!(name);
        }),
    };
    const stepOf = new Map<string, string>();
    let done = 0;
    // Progress folds every instance into one line: "k of n done", and the step each running one is at.
    const report = async () => {
      const running = [...stepOf].map(([id, s]) => `${id} ${s}`).join(', ');
      // Shown as "step k of n, instances done; now i-… 5/9, …".
      await ctx.progress(done, n, running ? `instances done; now ${running}` : 'instances done');
    };
    const results = await Promise.allSettled(
      data.each.map(async ({ instanceId, plan: own }) => {
        const sub: ActionContext = {
          ...ctx,
          serialize,
          ...sharedWork,
          progress: async (step, total) => {
            stepOf.set(instanceId, `${step}/${total}`);
          },
        };
        try {
          return await action.execute(own, sub);
        } finally {
          stepOf.delete(instanceId);
          done++;
          await report();
        }
      }),
    );
    const again = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && retryable(r.reason));
    // Every step re-reads AWS first, so a re-run skips the instances already finished.
    if (again) throw again.reason;
    const lines: string[] = [];
    const notes = new Set<string>();
    let ok = true;
    for (const [i, r] of results.entries()) {
      const id = data.each[i].instanceId;
      if (r.status === 'fulfilled') {
        ok &&= r.value.ok;
        lines.push(`${id}: ${r.value.ok ? 'verified' : 'NOT verified'}: ${r.value.lines.join('; ')}`);
        for (const note of r.value.notes) notes.add(note);
      } else {
        ok = false;
        const f = r.reason instanceof StepFailure ? r.reason : undefined;
        lines.push(`${id}: FAILED${f ? ` at step ${f.step} (${f.stepLabel})` : ''}: ${(r.reason as Error).message}${f?.done.length ? `; done before: ${f.done.join(', ')}` : ''}`);
      }
    }
    for (const s of data.skipped) lines.push(`skipped, ${s}`);
    return { ok, lines, notes: [...notes] };
  }

  return { plan, execute };
}


import { AwsCallError } from '../aws/errors';
import { InstanceUnavailable } from './instance';
import type { ActionOutcome, PlanView } from './results';
import { byLine, planFile, whom } from './plan-digest';
import { FinalError, StepFailure, blockedPlan, fingerprint, type ActionContext, type ResponseAction } from './types';

/** What a bulk plan carries to its execute step: each instance's own plan, as its action made it. */
export interface EachInstancePlanData {
  each: { instanceId: string; plan: PlanView }[];
  /** `<instance id>: <why>`, as the instance's own plan said. */
  skipped: string[];
}

/** "i-0abc: i-0abc is already isolated since …: every interface …" → "already isolated since …". */
export function shortReason(instanceId: string, blocked: string): string {
  const own = blocked.startsWith(instanceId) ? blocked.slice(instanceId.length).replace(/^[\s:]+(is\s+)?/, '') : blocked;
  const cut = own.search(/: |\. /);
  return cut > 0 ? own.slice(0, cut) : own.replace(/\.$/, '');
}

function splitSkipped(s: string): { id: string; reason: string } {
  const at = s.indexOf(': ');
  return at > 0 ? { id: s.slice(0, at), reason: s.slice(at + 2) } : { id: s, reason: 'skipped' };
}

/** An instance's warnings, where one about instances sharing its role counts only those outside the plan. */
function warningsInPlan(plan: PlanView, ids: string[]): string[] {
  const shared = plan.bulk?.sharedWith;
  if (!shared) return plan.warnings;
  const outside = shared.instances.filter((id) => !ids.includes(id));
  const own = plan.warnings.filter((w) => w !== shared.warning);
  if (outside.length === 0) return own;
  const named = outside.length <= 3 ? outside.join(', ') : `${outside.slice(0, 3).join(', ')} and ${outside.length - 3} more`;
  return [...own, `shares its instance role with ${outside.length} instance(s) outside this plan (${named}): revoking the role's sessions would hit them too`];
}

/**
 * A bulk plan a person reads in seconds: production impact and skipped instances first, each on
 * its own line; then the changes every instance shares, said once ("10 instances: every interface
 * to ir-quarantine; …"); the per-instance detail goes to a file in the thread.
 */
function digestPlan(each: { instanceId: string; plan: PlanView }[], skipped: string[], ctx: ActionContext, title: string): PlanView {
  const ids = each.map((p) => p.instanceId);
  const summary: string[] = [];
  for (const [line, who] of byLine(each.map((p) => ({ id: p.instanceId, lines: p.plan.bulk?.impact ?? [] })))) summary.push(`:warning: ${whom(who, ids)}: ${line}`);
  for (const s of skipped.map(splitSkipped)) summary.push(`skipped ${s.id}: ${shortReason(s.id, s.reason)}`);
  // Lines shared by the same instances are one bullet; a plan without a digest shares only exact repeats.
  const shared = new Map<string, { who: string[]; lines: string[] }>();
  const ownOnly: string[] = [];
  for (const [line, who] of byLine(each.map((p) => ({ id: p.instanceId, lines: p.plan.bulk?.same ?? p.plan.summary })))) {
    if (who.length === 1 && !each.find((p) => p.instanceId === who[0])?.plan.bulk) {
      ownOnly.push(`${who[0]}: ${line}`);
      continue;
    }
    const key = who.join(' ');
    shared.set(key, { who, lines: [...(shared.get(key)?.lines ?? []), line] });
  }
  for (const { who, lines } of shared.values()) summary.push(`${whom(who, ids)}: ${lines.join('; ')}`);
  // A few changes of one instance each are read as fast as a pointer to them.
  if (ownOnly.length > 5) summary.push(`and ${ownOnly.length} changes of one instance each`);
  else summary.push(...ownOnly);
  const warnings = [...byLine(each.map((p) => ({ id: p.instanceId, lines: warningsInPlan(p.plan, ids) })))].map(([w, who]) => `${whom(who, ids)}: ${w}`);

  const file: string[] = [];
  for (const p of each) {
    file.push(p.instanceId, ...p.plan.summary.map((l) => `  - ${l}`), ...p.plan.warnings.map((w) => `  ! ${w}`), '');
  }
  for (const s of skipped.map(splitSkipped)) file.push(`${s.id}: skipped`, `  ${s.reason}`, '');
  const detail = planFile(ctx, title, ids.length, file);
  summary.push(`Every change, instance by instance: ${detail.filename} in this thread`);
  return {
    summary,
    warnings,
    steps: ids,
    fingerprint: fingerprint(each.map((p) => [p.instanceId, p.plan.fingerprint])),
    data: { each, skipped } satisfies EachInstancePlanData,
    detail,
  };
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

export function eachInstance(action: ResponseAction, verb: string, opts: EachInstanceOptions = {}): ResponseAction {
  async function plan(instanceIds: string[], ctx: ActionContext): Promise<PlanView> {
    if (instanceIds.length <= 1) return action.plan(instanceIds, ctx);
    const plans = await Promise.all(instanceIds.map(async (id) => ({ instanceId: id, plan: await action.plan([id], ctx) })));
    const each = plans.filter((p) => !p.plan.blocked);
    const skipped = plans.filter((p) => p.plan.blocked).map((p) => `${p.instanceId}: ${p.plan.blocked}`);
    if (each.length === 0) return blockedPlan(`Nothing to ${verb}: ${skipped.join('; ')}`);
    return digestPlan(each, skipped, ctx, verb[0].toUpperCase() + verb.slice(1));
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
    return bulkOutcome(data, results, verb, ctx.requestId);
  }

  return { plan, execute };
}

/**
 * A bulk result leads with counts ("10 isolated ✓, 1 skipped: i-… already isolated since …").
 * The thread shows (`summary`) only what needs a look besides: failures, anything not verified,
 * production changes; every instance's verified state goes to a file, and stays in `lines`.
 */
function bulkOutcome(data: EachInstancePlanData, results: PromiseSettledResult<ActionOutcome>[], verb: string, requestId: string): ActionOutcome {
  const past = `${verb.replace(/e$/, '')}ed`;
  const shown: string[] = [];
  const file: string[] = [];
  const notes = new Set<string>();
  let verified = 0;
  let unverified = 0;
  let failed = 0;
  for (const [i, r] of results.entries()) {
    const id = data.each[i].instanceId;
    if (r.status === 'fulfilled') {
      if (r.value.ok) verified++;
      else unverified++;
      const line = `${id}: ${r.value.ok ? 'verified' : 'NOT verified'}: ${r.value.lines.join('; ')}`;
      file.push(line);
      if (!r.value.ok) shown.push(line);
      else for (const l of r.value.impact ?? []) shown.push(`${id}: ${l}`);
      for (const note of r.value.notes) notes.add(note);
    } else {
      failed++;
      const f = r.reason instanceof StepFailure ? r.reason : undefined;
      const line = `${id}: FAILED${f ? ` at step ${f.step} (${f.stepLabel})` : ''}: ${(r.reason as Error).message}${f?.done.length ? `; done before: ${f.done.join(', ')}` : ''}`;
      file.push(line);
      shown.push(line);
    }
  }
  const skipped = data.skipped.map(splitSkipped);
  for (const s of skipped) file.push(`${s.id}: skipped: ${s.reason}`);
  const counts = [`${verified} ${past} ✓`];
  if (unverified) counts.push(`${unverified} NOT verified ✗`);
  if (failed) counts.push(`${failed} FAILED ✗`);
  if (skipped.length) {
    const why = skipped.length <= 2 ? `: ${skipped.map((s) => `${s.id} ${shortReason(s.id, s.reason)}`).join('; ')}` : ' (listed in the file)';
    counts.push(`${skipped.length} skipped${why}`);
  }
  const filename = `result-${requestId}.txt`.replace(/[^\w.-]/g, '_');
  return {
    ok: unverified === 0 && failed === 0,
    lines: [counts.join(', '), ...file],
    summary: [counts.join(', '), ...shown, `Every instance's verified state: ${filename} in this thread`],
    notes: [...notes],
    attachment: { filename, content: `${file.join('\n')}\n` },
  };
}

import type { Lifecycle } from '../requests/lifecycle';
import type { ActionRequest } from '../requests/model';
import type { Pipeline } from '../requests/pipeline';
import type { RequestStore } from '../requests/store';
import type { AutonomyState, Limits } from './state';
import { protectedTagIn } from './match';

export interface WindowDeps {
  state: AutonomyState;
  limits: Limits;
  /** How often the countdown in the thread is redrawn. */
  countdownMs: number;
  /** autonomy.protectedTags: checked again on the instances' live tags just before a rule's run. */
  protectedTags?: string[];
  /** Told how each automatic request ended its window (for /metrics). */
  onOutcome?: (r: ActionRequest, outcome: 'ran' | 'breaker' | 'autonomy-off') => void;
}

export const AUTONOMY_OFF_NOTICE = (by: string) =>
  `Held: automatic containment is switched off (\`/ir autonomy off\` by ${by}). Nothing was changed; approve or reject below.`;

/**
 * One tick of a rule's veto window, run by the request's expiry job: redraw the countdown and
 * wait, or, once the window has ended, take a slot under the hourly limits and approve in the
 * rule's name. Each step is a compare-and-set on the plan revision, so a Hold (which bumps it)
 * always wins over a window job that is running or delivered twice.
 */
export async function vetoWindowStep(
  r: ActionRequest,
  deps: WindowDeps & { life: Lifecycle; store: RequestStore; pipeline: Pipeline },
  now = Date.now(),
): Promise<{ wait: number } | { done: string }> {
  const off = await deps.state.offBy();
  if (off) {
    const held = await deps.life.hold(r, 'autonomy-off', AUTONOMY_OFF_NOTICE(off));
    if (held) deps.onOutcome?.(r, 'autonomy-off');
    return { done: held ? 'held: autonomy off' : 'lost to another decision' };
  }
  const left = (r.autoAt ?? now) - now;
  if (left > 0) {
    await deps.store.patch(r.id, { tickAt: now });
    await deps.pipeline.render(r.id, false);
    return { wait: Math.min(left, deps.countdownMs) };
  }
  const tripped = await deps.state.take(r.id, r.account, deps.limits, now);
  if (tripped) {
    const held = await deps.life.hold(r, 'breaker', tripped);
    if (held) deps.onOutcome?.(r, 'breaker');
    return { done: held ? 'held: breaker' : 'lost to another decision' };
  }
  const res = await deps.life.approve(r, r.rev, r.requestedBy, now);
  if (res.ok) deps.onOutcome?.(r, 'ran');
  return { done: res.ok ? 'approved by rule' : 'lost to another decision' };
}

/**
 * Why a rule may not run on these instances as AWS tags them now (a finding's tags may be older
 * than a protected tag someone added since), or undefined. Only for a request the rule approved itself.
 */
export async function liveTagBrake(r: ActionRequest, protectedTags: string[] | undefined, tagsOf: (id: string) => Promise<Record<string, string>>): Promise<string | undefined> {
  if (!r.auto || r.approvedBy !== r.requestedBy || !protectedTags?.length) return undefined;
  for (const id of r.targets.filter((t) => t.startsWith('i-'))) {
    const tag = protectedTagIn(await tagsOf(id), protectedTags);
    if (tag) return `Held before running: ${id} now carries the protected tag ${tag}, and a policy rule never contains a protected resource on its own. Nothing was changed; approve to run it anyway, or reject.`;
  }
  return undefined;
}

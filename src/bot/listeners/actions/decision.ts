import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { decodeDecision, type DecisionPayload } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { QUEUE_DOWN, tellUser, whereOf } from '../reply';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;
type Decided = { ok: boolean; message?: string };

/**
 * A button that decides like an approval: only approvers count, a refused click is audited and
 * changes nothing, and `decide` (first valid decision wins) runs for the rest. `decide` undefined:
 * the feature behind the button is off.
 */
function approverButton(deps: BotDeps, verb: string, decide: ((p: DecisionPayload, userId: string) => Promise<Decided>) | undefined) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodeDecision((body.actions[0] as ButtonAction | undefined)?.value);
    const where = whereOf(body);
    if (!payload || !decide) return tellUser(client, logger, where, 'That button carries no valid request reference, so nothing was done.');
    try {
      const allowed = await deps.authz.check(actorOf(body), 'approvers', client);
      if (!allowed.ok) {
        const r = await deps.requests.get(payload.q);
        await deps.requests.refused('refused-approver', body.user.id, { requestId: payload.q, action: r?.action, target: r?.target });
        return tellUser(client, logger, where, `:no_entry: Only approvers may ${verb}. ${allowed.reason} Your click changed nothing.`);
      }
      const res = await decide(payload, body.user.id);
      if (!res.ok) return tellUser(client, logger, where, `:no_entry: ${res.message}`);
      if (res.message) return tellUser(client, logger, where, `:hourglass_flowing_sand: ${res.message}`);
    } catch (err) {
      logger.error(`could not ${verb}: ${(err as Error).message}`);
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
  };
}

/** Approve / Reject on an approval card. */
export function decisionButton(deps: BotDeps, decision: 'approve' | 'reject') {
  return approverButton(deps, `${decision} this`, (p, user) => deps.requests.decide(p.q, p.v, user, decision));
}

/** Hold on a policy rule's countdown: it decides like an approval (the request then waits for one). */
export function holdButton(deps: BotDeps) {
  const autonomy = deps.autonomy;
  return approverButton(deps, 'hold an automatic action', autonomy && ((p, user) => autonomy.hold(p.q, p.v, user)));
}

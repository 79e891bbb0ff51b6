import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { decodeDecision } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { QUEUE_DOWN, tellUser, whereOf } from '../reply';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** Approve / Reject on an approval card: only approvers count, and the first valid decision wins. */
export function decisionButton(deps: BotDeps, decision: 'approve' | 'reject') {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodeDecision((body.actions[0] as ButtonAction | undefined)?.value);
    const where = whereOf(body);
    if (!payload) return tellUser(client, logger, where, 'That button carries no valid request reference, so nothing was done.');
    try {
      const allowed = await deps.authz.check(actorOf(body), 'approvers', client);
      if (!allowed.ok) {
        const r = await deps.requests.get(payload.q);
        await deps.requests.refused('refused-approver', body.user.id, { requestId: payload.q, action: r?.action, target: r?.target });
        return tellUser(client, logger, where, `:no_entry: Only approvers may ${decision} this. ${allowed.reason} Your click changed nothing.`);
      }
      const res = await deps.requests.decide(payload.q, payload.v, body.user.id, decision);
      if (!res.ok) return tellUser(client, logger, where, `:no_entry: ${res.message}`);
      if (res.message) return tellUser(client, logger, where, `:hourglass_flowing_sand: ${res.message}`);
    } catch (err) {
      logger.error(`could not record a decision: ${(err as Error).message}`);
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
  };
}

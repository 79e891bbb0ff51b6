import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { decodeDecision } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { QUEUE_DOWN, tellUser, whereOf } from '../reply';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** Hold on a policy rule's countdown: approvers only (it decides like an approval); the first valid click wins. */
export function holdButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodeDecision((body.actions[0] as ButtonAction | undefined)?.value);
    const where = whereOf(body);
    if (!payload || !deps.autonomy) return tellUser(client, logger, where, 'That button carries no valid request reference, so nothing was done.');
    try {
      const allowed = await deps.authz.check(actorOf(body), 'approvers', client);
      if (!allowed.ok) {
        const r = await deps.requests.get(payload.q);
        await deps.requests.refused('refused-approver', body.user.id, { requestId: payload.q, action: r?.action, target: r?.target });
        return tellUser(client, logger, where, `:no_entry: Only approvers may hold an automatic action. ${allowed.reason} Your click changed nothing.`);
      }
      const res = await deps.autonomy.hold(payload.q, payload.v, body.user.id);
      if (!res.ok) return tellUser(client, logger, where, `:no_entry: ${res.message}`);
    } catch (err) {
      logger.error(`could not hold: ${(err as Error).message}`);
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
  };
}

import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { decodeSuppressAsk } from '../../../views/action-ids';
import { suppressApprovalView } from '../../../views/suppress-approval';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { QUEUE_DOWN, tellUser } from '../reply';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** Approve / Reject on a Suppress that waits for approval: approvers only, the first decision wins. */
export function suppressDecisionButton(deps: BotDeps, decision: 'approve' | 'reject') {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodeSuppressAsk((body.actions[0] as ButtonAction | undefined)?.value);
    const channel = body.channel?.id ?? body.container?.channel_id;
    const where = { channel, user: body.user.id, threadTs: body.message?.thread_ts ?? body.message?.ts };
    if (!payload || !channel) return tellUser(client, logger, where, 'That button carries no valid Suppress reference, so nothing was done.');
    try {
      const allowed = await deps.authz.check(actorOf(body), 'approvers', client);
      if (!allowed.ok) {
        await deps.requests.refused('refused-approver', body.user.id, { requestId: payload.s, action: 'suppress' });
        return tellUser(client, logger, where, `:no_entry: Only approvers may ${decision} this. ${allowed.reason} Your click changed nothing.`);
      }
      const res = await deps.requests.suppress.decide(payload.k, payload.s, body.user.id, decision);
      if (!res.ok) return tellUser(client, logger, where, `:no_entry: ${res.message}`);
      if (body.message?.ts) await client.chat.update({ channel, ts: body.message.ts, ...suppressApprovalView(res.ask, res.decision) });
    } catch (err) {
      logger.error(`could not record a Suppress decision: ${(err as Error).message}`);
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
  };
}

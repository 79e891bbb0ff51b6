import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { decodeDecision } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { QUEUE_DOWN, tellUser } from '../reply';
import { submitRequest } from '../submit';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/**
 * The undo button on a disable-key, deny-all or revoke-sessions result: an enable-key,
 * allow-principal or restore-sessions request bound to that request, in its thread, through the
 * usual plan and approval.
 */
export function undoButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodeDecision((body.actions[0] as ButtonAction | undefined)?.value);
    const where = { channel: body.channel?.id ?? body.container?.channel_id, user: body.user.id, threadTs: body.message?.thread_ts ?? body.message?.ts };
    if (!payload) return tellUser(client, logger, where, 'That button carries no valid request reference, so nothing was done.');
    let ask;
    try {
      ask = await deps.requests.undoOf(payload.q);
    } catch {
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
    if (!ask.ok) return tellUser(client, logger, where, `:no_entry: ${ask.message}`);
    const r = ask.request;
    const reply = await submitRequest(deps, client, logger, {
      action: ask.action,
      target: r.target,
      findingKey: r.findingKey,
      channel: r.channel,
      threadTs: r.threadTs ?? r.statusTs,
      userId: body.user.id,
      undoes: r.id,
    });
    if (reply) await tellUser(client, logger, where, reply);
  };
}

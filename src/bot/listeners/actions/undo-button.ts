import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { UndoAsk } from '../../../requests/undo';
import { decodeDecision } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { QUEUE_DOWN, tellUser, whereOf } from '../reply';
import { submitRequest } from '../submit';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/**
 * The undo buttons on a result: Release on an isolation; Re-enable key, Lift deny-all and Restore
 * sessions on the IAM containments. Each asks for its undo request bound to the request it was
 * shown with (`undoes`), in that request's thread, through the usual plan and approval; `ask`
 * says whether that request may still be undone.
 */
export function undoButton(deps: BotDeps, ask: (requestId: string) => Promise<UndoAsk>) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodeDecision((body.actions[0] as ButtonAction | undefined)?.value);
    const where = whereOf(body);
    if (!payload) return tellUser(client, logger, where, 'That button carries no valid request reference, so nothing was done.');
    let answer;
    try {
      answer = await ask(payload.q);
    } catch {
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
    if (!answer.ok) return tellUser(client, logger, where, `:no_entry: ${answer.message}`);
    const r = answer.request;
    const reply = await submitRequest(deps, client, logger, {
      action: answer.action,
      target: r.target,
      targets: r.targets,
      findingKey: r.findingKey,
      channel: r.channel,
      threadTs: r.threadTs ?? r.statusTs,
      userId: body.user.id,
      undoes: r.id,
    }, { actor: actorOf(body) });
    if (reply) await tellUser(client, logger, where, reply);
  };
}

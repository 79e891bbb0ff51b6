import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { decodeBulk } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { tellUser } from '../reply';
import { submitRequest } from '../submit';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** "Snapshot all" / "Stop all" on an instance's story: one request, one plan, one approval. */
export function bulkButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodeBulk((body.actions[0] as ButtonAction | undefined)?.value);
    const channel = body.channel?.id ?? body.container?.channel_id;
    const threadTs = body.message?.thread_ts ?? body.message?.ts;
    const where = { channel, user: body.user.id, threadTs };
    if (!payload) return tellUser(client, logger, where, 'That button carries no valid list of instances, so nothing was done.');
    const reply = await submitRequest(deps, client, logger, {
      action: payload.a,
      target: payload.ids[0],
      targets: payload.ids,
      findingKey: payload.k,
      channel: channel ?? '',
      threadTs,
      userId: body.user.id,
    }, { actor: actorOf(body) });
    if (reply) await tellUser(client, logger, where, reply);
  };
}

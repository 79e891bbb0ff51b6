import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { decodeDecision } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { QUEUE_DOWN, tellUser } from '../reply';
import { submitRequest } from '../submit';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** The Release button on an isolation result: a release request for the same instance, same thread. */
export function releaseButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodeDecision((body.actions[0] as ButtonAction | undefined)?.value);
    const where = { channel: body.channel?.id ?? body.container?.channel_id, user: body.user.id, threadTs: body.message?.thread_ts ?? body.message?.ts };
    if (!payload) return tellUser(client, logger, where, 'That button carries no valid request reference, so nothing was done.');
    let isolation;
    try {
      isolation = await deps.requests.get(payload.q);
    } catch {
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
    if (!isolation || isolation.action !== 'isolate') return tellUser(client, logger, where, 'That isolation is no longer known, so nothing was done. Use `/ir release <instance-id>`.');
    const reply = await submitRequest(deps, client, logger, {
      action: 'release',
      target: isolation.target,
      targets: isolation.targets,
      findingKey: isolation.findingKey,
      channel: isolation.channel,
      threadTs: isolation.threadTs ?? isolation.statusTs,
      userId: body.user.id,
      undoes: isolation.id,
    }, { actor: actorOf(body) });
    if (reply) await tellUser(client, logger, where, reply);
  };
}

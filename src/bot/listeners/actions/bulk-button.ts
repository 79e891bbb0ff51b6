import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { decodeBulk } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { QUEUE_DOWN, tellUser } from '../reply';
import { submitPerAccount } from '../submit-bulk';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/**
 * "Isolate all" / "Snapshot all" / "Stop all" on a roll-up (its instances are read from the card
 * in Redis, so the value stays short) or on an instance's story (which lists its instances).
 */
export function bulkButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodeBulk((body.actions[0] as ButtonAction | undefined)?.value);
    const channel = body.channel?.id ?? body.container?.channel_id;
    const threadTs = body.message?.thread_ts ?? body.message?.ts;
    const where = { channel, user: body.user.id, threadTs };
    if (!payload) return tellUser(client, logger, where, 'That button carries no valid list of instances, so nothing was done.');
    let findings;
    try {
      findings = await deps.requests.cardFindings(payload.k);
    } catch {
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
    const anchor = findings.find((f) => f.key === payload.k);
    // The story's own instance first, so the request threads under its finding.
    const ids = payload.ids ?? [...new Set([anchor?.instance?.id, ...findings.map((f) => f.instance?.id)].filter((x): x is string => !!x))];
    if (ids.length === 0) return tellUser(client, logger, where, 'No instance is left on that card, so nothing was done.');
    const reply = await submitPerAccount(deps, client, logger, { action: payload.a, instanceIds: ids, findings, channel: channel ?? '', threadTs, userId: body.user.id }, { actor: actorOf(body) });
    if (reply) await tellUser(client, logger, where, reply);
  };
}

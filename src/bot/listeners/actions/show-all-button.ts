import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { decodeFindingKey } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { NO_FINDING_REFERENCE, QUEUE_DOWN, tellUser, whereOf } from '../reply';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** "Show all N" on a roll-up: read-only (the card is already in the channel), so anyone may ask. */
export function showAllButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const key = decodeFindingKey((body.actions[0] as ButtonAction | undefined)?.value);
    const where = whereOf(body);
    if (!key) return tellUser(client, logger, where, NO_FINDING_REFERENCE);
    try {
      await deps.requests.showAll(key, body.user.id);
    } catch (err) {
      logger.error(`could not queue the finding list: ${(err as Error).message}`);
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
    return tellUser(client, logger, where, 'Listing every finding of this card: the file will appear in its thread (it is already there if nothing new joined since).');
  };
}

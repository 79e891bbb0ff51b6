import type { AllMiddlewareArgs, BlockAction, ButtonAction, OverflowAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { RESPONSE_LABEL, decodePayload } from '../../action-ids';
import { escapeMrkdwn } from '../../views/mrkdwn';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

function valueOf(body: BlockAction): string | undefined {
  const action = body.actions[0];
  if (action?.type === 'button') return (action as ButtonAction).value;
  if (action?.type === 'overflow') return (action as OverflowAction).selected_option?.value;
  return undefined;
}

/**
 * Card buttons (Isolate, Snapshot, Hunt, Disable key). The response pipeline lands with the
 * isolation work; until then the click is acknowledged and the user told plainly that nothing ran.
 */
export async function responseButton({ ack, body, client, logger }: Args): Promise<void> {
  await ack();
  const payload = decodePayload(valueOf(body));
  const channel = body.channel?.id ?? body.container?.channel_id;
  const text = payload
    ? `*${RESPONSE_LABEL[payload.a]}${payload.r ? ` ${escapeMrkdwn(payload.r)}` : ''}* is not available yet: response actions arrive with the approval pipeline. Nothing was changed in AWS.`
    : 'That button carries no valid finding reference, so nothing was done.';
  if (!channel) return;
  try {
    await client.chat.postEphemeral({ channel, user: body.user.id, text, thread_ts: body.message?.ts });
  } catch (err) {
    logger.warn(`could not answer a card button: ${(err as Error).message}`);
  }
}

import type { BlockAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Logger } from '@slack/bolt';

/** Tells one user something in the channel (and thread) they clicked in; only they see it. */
export async function tellUser(client: WebClient, logger: Logger, where: { channel?: string; user: string; threadTs?: string }, text: string): Promise<void> {
  if (!where.channel) return;
  try {
    await client.chat.postEphemeral({ channel: where.channel, user: where.user, text, thread_ts: where.threadTs });
  } catch (err) {
    logger.warn(`could not answer a click: ${(err as Error).message}`);
  }
}

export const QUEUE_DOWN =
  ':warning: Could not queue the request: the bot cannot reach its Redis right now. Nothing was changed in AWS. Try again in a minute, or act from the AWS console.';

/** Where to answer whoever clicked a button: privately, in the message's thread when it has one. */
export function whereOf(body: BlockAction): { channel?: string; user: string; threadTs?: string } {
  return { channel: body.channel?.id ?? body.container?.channel_id, user: body.user.id, threadTs: body.message?.thread_ts ?? body.message?.ts };
}

export const NO_FINDING_REFERENCE = 'That button carries no valid finding reference, so nothing was done.';

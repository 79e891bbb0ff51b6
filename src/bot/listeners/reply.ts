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

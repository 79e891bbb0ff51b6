import { ErrorCode } from '@slack/web-api';
import type { Job } from 'bullmq';
import type { CardStore } from '../cards/store';
import type { Finding } from '../findings/model';
import { findingListComment, findingListCsv } from '../views/finding-list';
import { retryLater } from './delay';
import type { PublishDeps } from './publish';

export interface ListDeps extends PublishDeps {
  cards: CardStore;
}

/**
 * Uploads every finding of a card, one CSV row each, to its thread: the roll-up shows its top rows,
 * this names the rest. Queued once the storm around the card has been quiet for a while and on
 * "Show all"; a card listed at its current size is not listed again.
 */
export async function postFindingList(deps: ListDeps, job: Job, token: string | undefined, findings: Finding[], findingKey: string): Promise<string> {
  const cardId = await deps.cards.cardOf(findingKey);
  if (!cardId) return 'card gone';
  const thread = await deps.cards.threadOf(findingKey);
  if (!thread) throw new Error('the card is not posted yet');
  if ((await deps.cards.listedCount(cardId)) === findings.length) return 'already listed';
  // A file with a comment is a post in the channel: it shares the channel's ~1/s with cards and stories.
  const wait = await deps.limiter.reservePost(thread.channel);
  if (wait > 0) return retryLater(job, token, wait);
  try {
    await deps.slack.files.uploadV2({
      channel_id: thread.channel,
      thread_ts: thread.ts,
      content: findingListCsv(findings),
      filename: `findings-${cardId}.csv`,
      title: `All ${findings.length} findings`,
      initial_comment: findingListComment(findings),
    });
  } catch (err) {
    const e = err as { code?: string; retryAfter?: number };
    if (e.code === ErrorCode.RateLimitedError) {
      const ms = (e.retryAfter ?? 1) * 1000;
      await deps.limiter.backOff({ channel: thread.channel }, ms);
      return retryLater(job, token, ms);
    }
    throw err;
  }
  await deps.cards.markListed(cardId, findings.length);
  deps.metrics.cardMessages.inc({ method: 'files.uploadV2' });
  return 'listed';
}

import { ErrorCode } from '@slack/web-api';
import type { Job } from 'bullmq';
import type { CardStore } from '../cards/store';
import type { Finding } from '../findings/model';
import { uploadOnce } from '../slack/upload';
import { findingListCsv, findingListTitle } from '../views/finding-list';
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
  // Not held to chat.postMessage's ~1/s per channel (a limit of that method alone; the files.*
  // upload methods have their own tiers): the list does not queue behind a storm's cards and stories.
  // A 429 from Slack is still honoured, for this job.
  try {
    await uploadOnce(deps, `list:${cardId}:${findings.length}`, {
      channel: thread.channel,
      threadTs: thread.ts,
      content: findingListCsv(findings),
      filename: `findings-${cardId}-${findings.length}.csv`,
      title: findingListTitle(findings),
    });
  } catch (err) {
    const e = err as { code?: string; retryAfter?: number };
    if (e.code === ErrorCode.RateLimitedError) return retryLater(job, token, (e.retryAfter ?? 1) * 1000);
    throw err;
  }
  await deps.cards.markListed(cardId, findings.length);
  deps.metrics.cardMessages.inc({ method: 'files.uploadV2' });
  return 'listed';
}

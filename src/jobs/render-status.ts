import type { Job } from 'bullmq';
import { renderRequestStatus } from '../views/request-status';
import type { ActionRequest } from '../requests/model';
import type { RequestStore } from '../requests/store';
import { uploadOnce } from '../slack/upload';
import { retryLater } from './delay';
import { channelRefusal, publish, type PublishDeps } from './publish';
import type { StatusJob } from '../queues';

/** How long a request asked before its card was posted waits for the card's thread before posting top-level. */
const CARD_WAIT_MS = 60_000;

/** Keeps each request's one status message in its thread current. */
export function renderStatusProcessor(
  deps: PublishDeps & {
    store: RequestStore;
    defaultChannel: string;
    threadOf?: (findingKey: string) => Promise<{ channel: string; ts: string } | undefined>;
    /** A request reached a new state: its card shows it (what is contained, what waits for approval). */
    onStateChange?: (r: ActionRequest) => Promise<void>;
  },
) {
  return async (job: Job<StatusJob>, token?: string) => {
    let r = await deps.store.get(job.data.requestId);
    if (r && !r.statusTs && !r.threadTs && r.followCard && r.findingKey && deps.threadOf) {
      const thread = await deps.threadOf(r.findingKey);
      if (thread) {
        await deps.store.patch(r.id, { channel: thread.channel, threadTs: thread.ts });
        r = await deps.store.get(r.id);
      } else if (Date.now() - r.createdAt < CARD_WAIT_MS) {
        return retryLater(job, token, 1000);
      }
    }
    if (!r) {
      await deps.store.checkSettled(job.data.requestId);
      return 'gone';
    }
    if (r.statusTs && r.version <= r.renderedVersion) {
      // The message is current; its file may still be owed (its upload failed last time).
      await postAttachment(r);
      await deps.store.checkSettled(job.data.requestId);
      return 'unchanged';
    }
    // Before the status message: a crash after it would leave the card behind the thread.
    if (r.state !== 'planning' && r.state !== 'running') await deps.onStateChange?.(r);
    const view = renderRequestStatus(r);
    const log = deps.log.child({ requestId: r.id, channel: r.channel, thread_ts: r.threadTs, jobId: job.id });
    // Asked in a channel the bot cannot post in (a /ir command where it is not invited): the
    // request still needs its approval card and result somewhere people look.
    const reroute = async (err: unknown): Promise<never> => {
      const error = channelRefusal(err);
      if (r.statusTs || !error || r.channel === deps.defaultChannel) throw err;
      log.error({ error, fallback: deps.defaultChannel }, 'the channel refused the status message; posting it in the default channel');
      await deps.store.patch(r.id, { channel: deps.defaultChannel, threadTs: null, rerouted: { channel: r.channel, error } });
      return retryLater(job, token, 0);
    };
    const outcome = await publish({ ...deps, log }, job, token, { key: `req:${r.id}`, channel: r.channel, ts: r.statusTs, threadTs: r.threadTs, text: view.text, blocks: view.blocks }, {
      posted: (ts) => deps.store.markRendered(r.id, r.version, ts),
      updated: () => deps.store.markRendered(r.id, r.version),
      deleted: () => deps.store.patch(r.id, { statusTs: null }),
    }).catch(reroute);
    await postAttachment(r);
    return outcome;
  };

  /** The plan's and the result's files go into the thread once each, as their own retried steps. */
  async function postAttachment(r: ActionRequest): Promise<void> {
    await postPlanDetail(r);
    const file = r.result?.attachment;
    if (r.state !== 'done' || !file || r.attachmentPosted) return;
    const fresh = await deps.store.get(r.id);
    const threadTs = r.threadTs ?? fresh?.statusTs;
    if (!threadTs) return;
    await uploadOnce(deps, `req:${r.id}`, { channel: fresh?.channel ?? r.channel, threadTs, content: file.content, filename: file.filename, title: file.filename });
    // Posted: the request keeps the file's name, not its content.
    await deps.store.patch(r.id, { attachmentPosted: true, result: { ...r.result!, attachment: { filename: file.filename, content: '' } } });
  }

  /** A bulk plan's per-instance detail, beside the approval message it is summarized in; once per plan revision. */
  async function postPlanDetail(r: ActionRequest): Promise<void> {
    const file = r.plan?.detail;
    if (!file?.content || r.planFilePosted === r.rev || r.state === 'planning' || r.state === 'refused') return;
    const threadTs = r.threadTs ?? (await deps.store.get(r.id))?.statusTs;
    if (!threadTs) return;
    await uploadOnce(deps, `plan:${r.id}:${r.rev}`, { channel: r.channel, threadTs, content: file.content, filename: file.filename, title: `Plan of ${r.id}, instance by instance` });
    await deps.store.patch(r.id, { planFilePosted: r.rev });
  }
}

import type { Job } from 'bullmq';
import { renderRequestStatus } from '../views/request-status';
import type { RequestStore } from '../requests/store';
import { retryLater } from './delay';
import { channelRefusal, publish, type PublishDeps } from './publish';
import type { StatusJob } from '../queues';

/** Keeps each request's one status message in its thread current. */
export function renderStatusProcessor(deps: PublishDeps & { store: RequestStore; defaultChannel: string }) {
  return async (job: Job<StatusJob>, token?: string) => {
    const r = await deps.store.get(job.data.requestId);
    if (!r || (r.statusTs && r.version <= r.renderedVersion)) {
      await deps.store.checkSettled(job.data.requestId);
      return r ? 'unchanged' : 'gone';
    }
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
    const file = r.result?.attachment;
    if (r.state === 'done' && file && !r.attachmentPosted) {
      const fresh = await deps.store.get(r.id);
      const threadTs = r.threadTs ?? fresh?.statusTs;
      if (threadTs) {
        await deps.slack.files.uploadV2({ channel_id: r.channel, thread_ts: threadTs, content: file.content, filename: file.filename, title: file.filename });
        await deps.store.patch(r.id, { attachmentPosted: true });
      }
    }
    return outcome;
  };
}

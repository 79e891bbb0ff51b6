import { CardStore } from '../src/cards/store';
import { QUEUE, makeQueue, type ActionJob, type CardJob, type StatusJob } from '../src/queues';
import { sweepProcessor } from '../src/jobs/sweep';
import type { TaskJob } from '../src/queues';
import { createLogger } from '../src/log';
import { Pipeline } from '../src/requests/pipeline';
import { RequestStore, type NewRequest } from '../src/requests/store';
import { startHarness, type Harness } from './support/harness';

const request = (target: string): NewRequest => ({
  action: 'isolate',
  target,
  targets: [target],
  account: '123456789012',
  region: 'us-east-1',
  channel: 'C01ALERTS',
  requestedBy: 'U01ANA',
  needsApproval: false,
});

describe('the sweep of messages Slack has not shown', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  it('queues the status render of a request whose latest change is not in Slack, and leaves shown ones alone', async () => {
    // No worker: nothing renders, so the queue shows exactly what the sweep asked for.
    h = await startHarness({ worker: false });
    const prefix = h.config.redisPrefix;
    const log = createLogger('silent');
    const status = makeQueue<StatusJob>(QUEUE.status, h.redis, prefix, log);
    const others = [makeQueue<ActionJob>(QUEUE.actions, h.redis, prefix, log), makeQueue<TaskJob>(QUEUE.tasks, h.redis, prefix, log), makeQueue<CardJob>(QUEUE.cards, h.redis, prefix, log)] as const;
    const pipeline = new Pipeline(others[0], status, others[1], h.config);
    const store = new RequestStore(h.redis, prefix, 3600);
    const shown = await store.create(request('i-0000000000000aaa1'));
    const behind = await store.create(request('i-0000000000000aaa2'));
    const never = await store.create(request('i-0000000000000aaa3'));
    await store.markRendered(shown.id, 1, '1795362392.000001');
    await store.markRendered(behind.id, 1, '1795362392.000002');
    // A step finished after the last render, and that render gave up (Slack was down too long).
    await store.patch(behind.id, { progress: { step: 2, total: 5, label: 'tag' } });

    const sweep = sweepProcessor({ cards: new CardStore(h.redis, prefix), cardQueue: others[2], requests: store, pipeline, intervalMs: 0, log });
    expect(await sweep()).toEqual({ cards: 0, requests: 2 });
    const queued = (await status.getJobs(['waiting', 'delayed'])).map((j) => j.data.requestId).sort();
    expect(queued).toEqual([behind.id, never.id].sort());

    // Once Slack shows the latest version, the next sweep has nothing to do.
    await store.markRendered(behind.id, 2);
    await store.markRendered(never.id, 1, '1795362392.000003');
    expect(await sweep()).toEqual({ cards: 0, requests: 0 });
    await Promise.all([status, ...others].map((q) => q.close()));
  });
});

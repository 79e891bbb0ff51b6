import { AuditLog } from '../../src/audit/log';
import { createLogger } from '../../src/log';
import { RequestStore } from '../../src/requests/store';
import { FakeAws } from '../support/fake-aws';
import { startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';
import { slash } from '../support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: [] as string[] };

describe('long waits are durable: a snapshot wait goes back to Redis instead of holding a job', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('hands the wait to Redis as a delayed job, survives a worker restart during it, and ends verified with one start', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.snapshotPolls = 6;
    // holdJobSeconds 0: every pending check hands the wait back to Redis.
    h = await startHarness({
      file: { access: ACCESS, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 }, snapshot: { pollIntervalMs: 100, maxPollIntervalMs: 300, holdJobSeconds: 0 } },
      worker: false,
    });
    const first = await h.addWorker();
    await slash(h, `snapshot ${INSTANCE}`);
    const store = new RequestStore(h.redis, h.config.redisPrefix, 3600);
    const r0 = await waitFor(async () => (await store.recent(1)).find((r) => r.notice?.startsWith('waiting for')), 'the wait handed to Redis');
    // The wait holds no job: the worker can stop cleanly at once, and another picks the wait up.
    await first.stop();
    await h.addWorker();
    const r = await waitFor(async () => {
      const x = await store.get(r0.id);
      return x && ['done', 'failed'].includes(x.state) ? x : undefined;
    }, 'the snapshot to end', 30_000);
    expect(r.state).toBe('done');
    expect(r.result!.ok).toBe(true);
    expect(aws.callsOf('CreateSnapshots')).toHaveLength(1);
    expect(aws.callsOf('DescribeSnapshots').length).toBeGreaterThanOrEqual(3);
    const events = (await new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).find([{ requestId: r.id }])).map((e) => e.event);
    expect(events.filter((e) => e === 'started')).toHaveLength(1);
    expect(events).not.toContain('resumed');
    expect(events.at(-1)).toBe('succeeded');
  });
});

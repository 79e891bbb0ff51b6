import { Queue } from 'bullmq';
import { AuditLog } from '../../src/audit/log';
import { createLogger } from '../../src/log';
import { QUEUE, bullPrefix } from '../../src/queues';
import { Lifecycle } from '../../src/requests/lifecycle';
import { Pipeline } from '../../src/requests/pipeline';
import { NEW_REQUEST_ID } from '../../src/requests/store';
import { FakeAws } from '../support/fake-aws';
import { startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';
import { requestEnded, requestStoreOf } from '../support/requests';
import { slash, textOf } from '../support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: [] as string[] };
const FAST_AWS = { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 };
const FAST_RECONCILE = { reconcileSeconds: 1, maxResumes: 2 };


async function auditEvents(h: Harness, requestId: string): Promise<string[]> {
  return (await new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).find([{ requestId }])).map((e) => e.event);
}


describe('every request ends: the reconciler picks up what lost its job', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('runs a request whose plan was never queued (Redis blip between storing it and queueing its plan)', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { eip: false, targetGroup: false });
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS, requests: FAST_RECONCILE } });
    // What the bot stores before it queues the plan; the queueing never happened.
    const { id } = await requestStoreOf(h).create({ action: 'isolate', target: INSTANCE, targets: [INSTANCE], channel: 'C01ALERTS', requestedBy: 'U01ANA', needsApproval: false });
    const r = await requestEnded(h, id);
    expect(r.state).toBe('done');
    expect(r.result!.ok).toBe(true);
    expect(await auditEvents(h, id)).toEqual(['planned', 'started', 'succeeded']);
  });

  it('writes a request and its "requested" audit entry in one step, indexed under the new id; a joined request writes none', async () => {
    h = await startHarness({ file: { access: ACCESS } });
    const audit = new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent'));
    const store = requestStoreOf(h);
    const ask = () =>
      store.create(
        { action: 'isolate', target: INSTANCE, targets: [INSTANCE], channel: 'C01ALERTS', requestedBy: 'U01ANA', needsApproval: false },
        audit.encode({ event: 'requested', user: 'U01ANA', requestId: NEW_REQUEST_ID, action: 'isolate', target: INSTANCE, targets: [INSTANCE] }),
      );
    const first = await ask();
    expect(first).toMatchObject({ created: true, auditId: expect.any(String) });
    const again = await ask();
    expect(again).toEqual({ created: false, id: first.id, auditId: undefined });
    for (const q of [{ requestId: first.id }, { target: INSTANCE }, { user: 'U01ANA' }]) {
      expect((await audit.find([q])).map((e) => [e.event, e.requestId])).toEqual([['requested', first.id]]);
    }
    expect(await h.redis.keys(`*${NEW_REQUEST_ID}*`)).toEqual([]);
  });

  it('resumes a running isolation that BullMQ failed after its worker stalled, and it ends verified', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { eip: false, targetGroup: false });
    // maxStalledCount 0: the first stall fails the job without our code running (BullMQ's rule).
    const lock = { lockDuration: 800, stalledInterval: 400, maxStalledCount: 0 };
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS, requests: FAST_RECONCILE }, worker: false, workerOptions: { lock } });
    const a = await h.addWorker();
    aws.hangNext('ModifyNetworkInterfaceAttribute');
    await slash(h, `isolate ${INSTANCE}`);
    await waitFor(() => aws.callsOf('ModifyNetworkInterfaceAttribute').length === 1, 'the first interface move');
    await a.kill!();
    await h.addWorker();
    const [req] = await requestStoreOf(h).recent(1);
    const r = await requestEnded(h, req.id);
    expect(r.state).toBe('done');
    expect(r.result!.ok).toBe(true);
    expect(r.resumes).toBeGreaterThanOrEqual(1);
    const events = await auditEvents(h, req.id);
    expect(events.filter((e) => e === 'started')).toHaveLength(1);
    expect(events.filter((e) => e === 'succeeded')).toHaveLength(1);
    await waitFor(() => h.slack.channelMessages('C01ALERTS').some((m) => textOf(m).includes('Verified end state')), 'the verified result in Slack');
  });

  it('ends a request whose worker keeps dying as failed, saying where it stopped, instead of leaving it running', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { eip: false, targetGroup: false });
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS, requests: { reconcileSeconds: 1, maxResumes: 0 } }, worker: false });
    const store = requestStoreOf(h);
    const { id } = await store.create({ action: 'isolate', target: INSTANCE, targets: [INSTANCE], channel: 'C01ALERTS', requestedBy: 'U01ANA', needsApproval: false });
    // Running, at step 5 of 8, and no job anywhere: its worker was killed and the job removed.
    await store.transition(id, { from: ['planning'] }, { state: 'approved', plan: { summary: [], warnings: [], steps: [], fingerprint: 'x' } });
    await store.transition(id, { from: ['approved'] }, { state: 'running', progress: { step: 5, total: 8, label: 'quarantine group' } });
    await h.addWorker();
    const r = await requestEnded(h, id);
    expect(r.state).toBe('failed');
    expect(r.failure!.message).toContain('step 5 of 8 (quarantine group)');
    expect(await auditEvents(h, id)).toEqual(['failed']);
    // A new request for the same instance is a new request, not a join of the dead one.
    await slash(h, `isolate ${INSTANCE}`);
    await waitFor(async () => (await store.recent(5)).length === 2, 'a second request');
  });

  it('expires an approval whose expiry job was lost, with the message in its thread', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { eip: false, targetGroup: false });
    h = await startHarness({ file: { access: { ...ACCESS, requireApproval: ['isolate'], approvalTimeoutMinutes: 1 }, aws: FAST_AWS, requests: FAST_RECONCILE } });
    await slash(h, `isolate ${INSTANCE}`);
    const store = requestStoreOf(h);
    const r0 = await waitFor(async () => (await store.recent(1)).find((r) => r.state === 'awaiting-approval'), 'the approval card');
    const q = new Queue(QUEUE.actions, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
    await (await q.getJob(`expire-${r0.id}-r${r0.rev}`))!.remove();
    await q.close();
    // Its time is up (as if the expiry job had been lost long ago).
    await store.patch(r0.id, { expiresAt: Date.now() - 1 });
    const r = await requestEnded(h, r0.id);
    expect(r.state).toBe('expired');
    await waitFor(() => h.slack.channelMessages('C01ALERTS').some((m) => /expired/i.test(textOf(m))), 'the expiry shown in Slack');
  });
});

describe('an approval is never reported as "nothing changed" when it was recorded', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('says the approval stands and runs it once the queue is back', async () => {
    aws = FakeAws.withWebServer(INSTANCE, { eip: false, targetGroup: false });
    h = await startHarness({ file: { access: { ...ACCESS, requireApproval: ['isolate'] }, aws: FAST_AWS, requests: FAST_RECONCILE } });
    await slash(h, `isolate ${INSTANCE}`);
    const store = requestStoreOf(h);
    const r0 = await waitFor(async () => (await store.recent(1)).find((r) => r.state === 'awaiting-approval'), 'the approval card');
    const audit = new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent'));
    // A pipeline whose queue refuses the execution job (Redis blip on the producer connection).
    const q = new Queue(QUEUE.actions, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
    const broken = new Pipeline(q, q as never, q as never, h.config);
    broken.execute = async () => {
      throw new Error('Connection is closed.');
    };
    broken.render = async () => undefined;
    const life = new Lifecycle(store, audit, broken, 30, createLogger('silent'));
    const res = await life.approve(r0, r0.rev, 'U02LEAD');
    await q.close();
    expect(res).toEqual({ ok: true, queued: false });
    const r = await requestEnded(h, r0.id);
    expect(r.state).toBe('done');
    expect(r.approvedBy).toBe('U02LEAD');
  });
});

/**
 * Automatic containment end to end: a policy rule asks for isolation through the request
 * service, counts down in the thread, and runs (or is held) through signed Slack clicks, with
 * the local Slack API server and the in-memory AWS account.
 */
import { AccessDeniedException, ListParentsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { mockClient } from 'aws-sdk-client-mock';
import { Queue } from 'bullmq';
import { AuditLog } from '../src/audit/log';
import { createLogger } from '../src/log';
import { QUEUE, bullPrefix } from '../src/queues';
import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { buttonIn, click, nextResponse, slash, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const OTHER = 'i-0a1b2c3d4e5f60799';
const MUTATING = /^(Modify|Create|Detach|Deregister|Disassociate|Authorize|Revoke)/;

function cryptoEvent(env: string, mutate?: (e: any) => void) {
  const e = fixture('guardduty-crypto-dns');
  e.detail.resource.instanceDetails.tags.push({ key: 'env', value: env });
  mutate?.(e);
  return e;
}

function policy(opts: { window?: number; shadow?: boolean; maxPerAccountPerHour?: number } = {}) {
  return {
    access: { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true },
    aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 },
    autonomy: {
      shadow: opts.shadow ?? false,
      countdownSeconds: 5,
      maxPerAccountPerHour: opts.maxPerAccountPerHour ?? 10,
      rules: [
        { name: 'dev-miners', match: { types: ['CryptoCurrency:*'], tags: ['env=dev'] }, mode: 'contain-unless-vetoed', actions: ['isolate'], windowSeconds: opts.window ?? 1 },
        { name: 'all-miners', match: { types: ['CryptoCurrency:*'] }, mode: 'contain', actions: ['isolate'] },
      ],
    },
  };
}

async function cardFor(h: Harness, event: unknown) {
  expect((await h.postEvents(event)).status).toBe(202);
  return waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
}

const inThread = (h: Harness, ts: string, pred: (t: string) => boolean, what: string, ms?: number) => waitFor(() => threadReplies(h, 'C02CRIT', ts).find((m) => pred(textOf(m))), what, ms);
const mutations = (aws: FakeAws) => aws.calls.filter((c) => MUTATING.test(c.api));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function auditOf(h: Harness) {
  return new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).find([{ target: INSTANCE }]);
}

describe('automatic containment under a policy', () => {
  let h: Harness | undefined;
  let aws: FakeAws | undefined;
  tearDownAfterEach(() => ({ h, aws }));
  beforeEach(() => {
    aws = FakeAws.withWebServer(INSTANCE, { asg: 'web-asg' });
  });

  it('isolates a miner on an env=dev instance when the veto window ends, verified, with Undo, and the audit names the rule', async () => {
    h = await startHarness({ file: policy({ window: 2 }) });
    const card = await cardFor(h, cryptoEvent('dev'));
    const countdown = await inThread(h, card.ts, (t) => t.includes('unless someone clicks Hold'), 'the countdown');
    expect(textOf(countdown)).toContain(`isolating \`${INSTANCE}\` in`);
    expect(textOf(countdown)).toContain('rule `dev-miners` (matched: type CryptoCurrency:*, tag env=dev)');
    expect(buttonIn(countdown, 'ir_hold')).toBeDefined();
    // Nothing changes in AWS during the window.
    expect(mutations(aws!)).toEqual([]);

    const done = await inThread(h, card.ts, (t) => t.includes('Verified end state'), 'the verified isolation', 20_000);
    const text = textOf(done);
    expect(text).toContain('Contained automatically by rule `dev-miners` (matched: type CryptoCurrency:*, tag env=dev)');
    expect(text).toContain(':white_check_mark: done');
    expect(buttonIn(done, 'ir_release')).toBeDefined();
    expect(aws!.calls.some((c) => c.api === 'ModifyNetworkInterfaceAttribute')).toBe(true);
    // One status message, updated in place.
    expect(threadReplies(h, 'C02CRIT', card.ts)).toHaveLength(1);

    const entries = await auditOf(h);
    expect(entries.find((e) => e.event === 'requested')).toMatchObject({ user: 'policy:dev-miners', detail: { rule: 'dev-miners', matched: ['type CryptoCurrency:*', 'tag env=dev'] } });
    expect(entries.find((e) => e.event === 'approved')).toMatchObject({ user: 'policy:dev-miners' });

    // At-least-once: the window's job delivered again after the run changes nothing.
    const requestId = entries[0].requestId!;
    const runs = aws!.calls.filter((c) => c.api === 'ModifyNetworkInterfaceAttribute').length;
    const q = new Queue(QUEUE.actions, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
    await q.add('expire', { requestId, rev: 1 }, { jobId: `again-${requestId}` });
    await waitFor(async () => (await q.getJob(`again-${requestId}`))?.finishedOn, 'the repeated window job');
    await q.close();
    await sleep(300);
    expect(aws!.calls.filter((c) => c.api === 'ModifyNetworkInterfaceAttribute')).toHaveLength(runs);
    expect((await auditOf(h)).filter((e) => e.event === 'started')).toHaveLength(1);

    const metrics = await (await fetch(`${h.metricsUrl}/metrics`)).text();
    expect(metrics).toContain('ir_autonomy_decisions_total{rule="dev-miners",outcome="ran",action="isolate"} 1');
  }, 40_000);

  it('a contain rule isolates at once, without a countdown, and still verifies', async () => {
    h = await startHarness({ file: policy() });
    const card = await cardFor(h, cryptoEvent('staging'));
    const done = await inThread(h, card.ts, (t) => t.includes('Verified end state'), 'the verified isolation', 20_000);
    expect(textOf(done)).toContain('Contained automatically by rule `all-miners` (matched: type CryptoCurrency:*)');
    expect(h.slack.callsOf('chat.update').concat(h.slack.callsOf('chat.postMessage')).some((c) => JSON.stringify(c.args).includes('unless someone clicks Hold'))).toBe(false);
  }, 30_000);

  it('Hold (approvers only) stops it: nothing runs, not even when the window job comes again, and the request waits for approval', async () => {
    h = await startHarness({ file: policy({ window: 4 }) });
    const card = await cardFor(h, cryptoEvent('dev'));
    // The message as the responder's phone shows it, before the bot updates it.
    const countdown = structuredClone(await inThread(h, card.ts, (t) => t.includes('ir_hold'), 'the countdown'));

    await click(h, countdown, 'ir_hold', 'U01ANA');
    await waitFor(() => h!.slack.callsOf('chat.postEphemeral').find((c) => String(c.args.text).includes('Only approvers may hold')), 'the refusal');

    await click(h, countdown, 'ir_hold', 'U02LEAD');
    const held = await inThread(h, card.ts, (t) => t.includes('held by <@U02LEAD>'), 'the held request');
    expect(textOf(held)).toContain('awaiting approval');
    expect(buttonIn(held, 'ir_hold')).toBeUndefined();
    expect(buttonIn(held, 'ir_approve')).toBeDefined();
    const metrics = await (await fetch(`${h.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/ir_autonomy_decisions_total\{rule="dev-miners",outcome="held",action="isolate"\} 1/);

    // The old revision's window job, delivered again past the window, is stale.
    const requestId = (await auditOf(h))[0].requestId!;
    const q = new Queue(QUEUE.actions, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
    await q.add('expire', { requestId, rev: 1 }, { jobId: `again-${requestId}`, delay: 4500 });
    await sleep(5500);
    await q.close();
    expect(mutations(aws!)).toEqual([]);
    expect((await auditOf(h)).map((e) => e.event)).not.toContain('approved');

    // A second Hold says so.
    await click(h, countdown, 'ir_hold', 'U02LEAD');
    await waitFor(() => h!.slack.callsOf('chat.postEphemeral').find((c) => String(c.args.text).includes('Already held')), 'the second hold answer');
  }, 40_000);

  it('gives an env=prod instance today\'s approval flow: the protected tag wins over the matching rule', async () => {
    h = await startHarness({ file: policy() });
    const card = await cardFor(h, cryptoEvent('prod'));
    const note = await inThread(h, card.ts, (t) => t.includes('did not act on its own'), 'the brake note');
    expect(textOf(note)).toContain('Policy rule `all-miners` matched (matched: type CryptoCurrency:*) but did not act on its own: the instance carries the protected tag env=prod');
    expect(buttonIn(card, 'ir_isolate')).toBeDefined();
    await sleep(1500);
    expect(threadReplies(h, 'C02CRIT', card.ts).filter((m) => textOf(m).includes('ir_hold') || textOf(m).includes('Isolate*'))).toEqual([]);
    expect(aws!.calls).toEqual([]);
  }, 30_000);

  it('checks the live tags before the rule runs: an instance tagged env=prod since the finding goes to approval instead', async () => {
    h = await startHarness({ file: policy({ window: 2 }) });
    const card = await cardFor(h, cryptoEvent('dev'));
    await inThread(h, card.ts, (t) => t.includes('ir_hold'), 'the countdown');
    aws!.instance(INSTANCE).tags.env = 'prod';
    const held = await inThread(h, card.ts, (t) => t.includes('now carries the protected tag env=prod'), 'the brake on live tags', 20_000);
    expect(textOf(held)).toContain('awaiting approval');
    expect(buttonIn(held, 'ir_approve')).toBeDefined();
    expect(buttonIn(held, 'ir_hold')).toBeUndefined();
    await sleep(500);
    expect(mutations(aws!)).toEqual([]);
  }, 30_000);

  it('trips the breaker on the N+1th automatic action in an hour: that one goes back to approval and says why', async () => {
    aws!.addWebServer(OTHER, { eip: false, secondEni: false });
    h = await startHarness({ file: policy({ window: 1, maxPerAccountPerHour: 1 }) });
    const card = await cardFor(h, cryptoEvent('dev'));
    await inThread(h, card.ts, (t) => t.includes('Verified end state'), 'the first automatic isolation', 20_000);
    await h.postEvents(
      cryptoEvent('dev', (e) => {
        e.detail.id = 'second-finding-0000000000000000';
        e.detail.resource.instanceDetails.instanceId = OTHER;
      }),
    );
    const tripped = await waitFor(() => [...h!.slack.messages.values()].find((m) => textOf(m).includes('Breaker tripped')), 'the breaker message', 20_000);
    expect(textOf(tripped)).toContain('1 automatic actions ran in account 123456789012 in the last hour (autonomy.maxPerAccountPerHour is 1)');
    expect(textOf(tripped)).toContain(OTHER);
    expect(buttonIn(tripped, 'ir_approve')).toBeDefined();
    await sleep(1500);
    expect(aws!.calls.filter((c) => MUTATING.test(c.api) && JSON.stringify(c.input).includes(OTHER))).toEqual([]);
    expect(aws!.calls.filter((c) => MUTATING.test(c.api) && JSON.stringify(c.input).includes(INSTANCE)).length).toBeGreaterThan(0);
  }, 40_000);

  it('in shadow mode says what the rule would have done, counts it, and changes nothing in AWS', async () => {
    h = await startHarness({ file: policy({ shadow: true, window: 300 }) });
    const card = await cardFor(h, cryptoEvent('dev'));
    const note = await inThread(h, card.ts, (t) => t.includes('Shadow mode'), 'the shadow note');
    expect(textOf(note)).toContain(`policy rule \`dev-miners\` would have isolated ${INSTANCE} in 5:00 unless someone clicked Hold (matched: type CryptoCurrency:*, tag env=dev). Nothing was changed in AWS.`);
    await sleep(1500);
    expect(aws!.calls).toEqual([]);
    const metrics = await (await fetch(`${h.metricsUrl}/metrics`)).text();
    expect(metrics).toContain('ir_autonomy_decisions_total{rule="dev-miners",outcome="would-run",action="isolate"} 1');
    expect((await new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).find([{ user: 'policy:dev-miners' }])).map((e) => e.event)).toEqual(['policy-shadow']);

    // The incident report counts what the rule would have done.
    await click(h, card, 'ir_report', 'U01ANA');
    const file = await waitFor(() => [...h!.slack.files.values()].find((f) => f.filename?.startsWith('incident-report-') && f.content && f.channel), 'the report', 20_000);
    expect(file.content).toContain('Shadow mode: 1 action(s) the policy would have run on its own; nothing was changed for them.');
    expect(file.content).toContain(`- shadow: rule \`dev-miners\` would have run isolate on \`${INSTANCE}\``);
  }, 30_000);

  it('the kill switch (approvers only) holds every pending automatic action', async () => {
    h = await startHarness({ file: policy({ window: 30 }) });
    const card = await cardFor(h, cryptoEvent('dev'));
    await inThread(h, card.ts, (t) => t.includes('ir_hold'), 'the countdown');

    let n = h.slack.responses.length;
    await slash(h, 'autonomy off', 'U01ANA');
    expect(await nextResponse(h, 'U01ANA', n)).toContain('Only approvers may switch automatic containment off');

    n = h.slack.responses.length;
    await slash(h, 'autonomy off', 'U02LEAD');
    expect(await nextResponse(h, 'U02LEAD', n)).toContain('*off*: 1 pending automatic action(s) held');
    const held = await inThread(h, card.ts, (t) => t.includes('autonomy off'), 'the held request');
    expect(textOf(held)).toContain('awaiting approval');
    expect(buttonIn(held, 'ir_hold')).toBeUndefined();

    n = h.slack.responses.length;
    await slash(h, 'policy', 'U01ANA');
    const listing = await nextResponse(h, 'U01ANA', n);
    expect(listing).toContain('off (by <@U02LEAD>)');
    expect(listing).toContain('1. `dev-miners` *contain-unless-vetoed* (0:30 to Hold) isolate — when type CryptoCurrency:*, tag env=dev');
    expect(mutations(aws!)).toEqual([]);
  }, 30_000);

  it('a worker killed during the window or during the automatic run never runs the action twice', async () => {
    const lock = { lockDuration: 1000, stalledInterval: 500 };
    h = await startHarness({ file: policy({ window: 2 }), worker: false, workerOptions: { lock } });
    const first = await h.addWorker();
    const card = await cardFor(h, cryptoEvent('dev'));
    await inThread(h, card.ts, (t) => t.includes('ir_hold'), 'the countdown');
    // Killed during the window: the countdown lives in Redis and a new worker picks it up.
    await first.kill!();
    const second = await h.addWorker();
    // Killed during the automatic run: it dies moving the first interface.
    aws!.hangNext('ModifyNetworkInterfaceAttribute');
    await waitFor(() => aws!.callsOf('ModifyNetworkInterfaceAttribute').length === 1, 'the first interface move', 20_000);
    await second.kill!();
    await h.addWorker();
    await inThread(h, card.ts, (t) => t.includes('Verified end state'), 'the resumed automatic isolation', 30_000);
    const events = (await auditOf(h)).map((e) => e.event);
    expect(events.filter((e) => e === 'approved')).toHaveLength(1);
    expect(events.filter((e) => e === 'started')).toHaveLength(1);
    expect(events).toContain('resumed');
    expect(aws!.callsOf('DetachInstances')).toHaveLength(1);
    expect(aws!.instance(INSTANCE).tags['ir:by']).toBe('policy:dev-miners');
  }, 60_000);

  it('/ir policy test <finding-id> says which rule a finding matches and why the earlier ones did not', async () => {
    h = await startHarness({ file: policy({ shadow: true }) });
    const event = cryptoEvent('prod');
    await cardFor(h, event);
    const n = h.slack.responses.length;
    await slash(h, `policy test ${event.detail.id}`, 'U01ANA');
    const answer = await nextResponse(h, 'U01ANA', n);
    expect(answer).toContain('matches rule `all-miners` (shadow) on type CryptoCurrency:*: it would have isolated i-0a1b2c3d4e5f60718.');
    expect(answer).toContain('but a brake wins: the instance carries the protected tag env=prod');
    expect(answer).toContain('rule `dev-miners` did not match: the instance has no tag env=dev');
  }, 30_000);
});

describe('automatic containment on an Organizations OU', () => {
  const CHILD = 'ou-ab12-devteam01';
  const PARENT = 'ou-ab12-workload1';
  const ACCOUNT = '123456789012';
  const org = mockClient(OrganizationsClient);
  let h: Harness | undefined;
  let aws: FakeAws | undefined;
  tearDownAfterEach(() => ({ h, aws }));
  beforeEach(() => {
    aws = FakeAws.withWebServer(INSTANCE, { asg: 'web-asg' });
  });
  afterEach(() => org.reset());
  afterAll(() => org.restore());

  const ouPolicy = (...more: unknown[]) => ({
    ...policy(),
    autonomy: { rules: [{ name: 'workloads', match: { types: ['CryptoCurrency:*'], ou: [PARENT] }, mode: 'contain', actions: ['isolate'] }, ...more] },
  });
  const denied = () => org.on(ListParentsCommand).rejects(new AccessDeniedException({ $metadata: { httpStatusCode: 400 }, message: 'You don\'t have permissions to access this resource.' }));
  const DENIED = 'OU unknown: the bot may not call organizations:ListParents (AccessDeniedException)';

  async function policyTest(harness: Harness, event: { detail: { id: string } }) {
    const n = harness.slack.responses.length;
    await slash(harness, `policy test ${event.detail.id}`, 'U01ANA');
    return nextResponse(harness, 'U01ANA', n);
  }

  it('a rule on a parent OU contains a finding of an account in a child OU, verified, and looks the account up once', async () => {
    org.on(ListParentsCommand, { ChildId: ACCOUNT }).resolves({ Parents: [{ Id: CHILD, Type: 'ORGANIZATIONAL_UNIT' }] });
    org.on(ListParentsCommand, { ChildId: CHILD }).resolves({ Parents: [{ Id: PARENT, Type: 'ORGANIZATIONAL_UNIT' }] });
    org.on(ListParentsCommand, { ChildId: PARENT }).resolves({ Parents: [{ Id: 'r-ab12', Type: 'ROOT' }] });
    h = await startHarness({ file: ouPolicy() });
    const event = cryptoEvent('staging');
    const card = await cardFor(h, event);
    const done = await inThread(h, card.ts, (t) => t.includes('Verified end state'), 'the verified isolation', 20_000);
    expect(textOf(done)).toContain(`Contained automatically by rule \`workloads\` (matched: type CryptoCurrency:*, OU ${PARENT})`);
    expect(aws!.calls.some((c) => c.api === 'ModifyNetworkInterfaceAttribute')).toBe(true);

    expect(await policyTest(h, event)).toContain(`matches rule \`workloads\` (contain) on type CryptoCurrency:*, OU ${PARENT}`);
    // The path is cached: the walk ran once (account, child, parent).
    expect(org.commandCalls(ListParentsCommand).map((c) => c.args[0].input.ChildId)).toEqual([ACCOUNT, CHILD, PARENT]);
  }, 30_000);

  it('a denied lookup leaves the finding to today\'s approval flow and the thread and /ir policy test say why', async () => {
    denied();
    h = await startHarness({ file: ouPolicy() });
    const event = cryptoEvent('staging');
    const card = await cardFor(h, event);
    const note = await inThread(h, card.ts, (t) => t.includes('OU unknown'), 'the OU note');
    expect(textOf(note)).toContain(`Policy rule \`workloads\` could not be checked (${DENIED}`);
    expect(textOf(note)).toContain('so it did not apply. Containment here needs approval as usual.');
    expect(buttonIn(card, 'ir_isolate')).toBeDefined();
    expect(await policyTest(h, event)).toContain(`rule \`workloads\` did not match: ${DENIED}`);
    await sleep(1000);
    expect(mutations(aws!)).toEqual([]);
    expect((await new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).find([{ user: 'policy:none' }])).map((e) => e.event)).toEqual(['policy-ou-unknown']);
  }, 30_000);

  it('a later catch-all contain rule does not act on its own when an earlier OU rule could not be checked', async () => {
    denied();
    h = await startHarness({ file: ouPolicy({ name: 'all-miners', match: { types: ['CryptoCurrency:*'] }, mode: 'contain', actions: ['isolate'] }) });
    const card = await cardFor(h, cryptoEvent('staging'));
    const note = await inThread(h, card.ts, (t) => t.includes('did not act on its own'), 'the brake note');
    expect(textOf(note)).toContain(`Policy rule \`all-miners\` matched (matched: type CryptoCurrency:*) but did not act on its own: the earlier rule \`workloads\` could not be checked (${DENIED}`);
    await sleep(1500);
    expect(mutations(aws!)).toEqual([]);
  }, 30_000);
});

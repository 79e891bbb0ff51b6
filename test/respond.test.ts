import { Queue } from 'bullmq';
import { AuditLog } from '../src/audit/log';
import { QUEUE, bullPrefix } from '../src/queues';
import { createLogger } from '../src/log';
import { RequestStore } from '../src/requests/store';
import { FakeAws, awsError } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { buttonIn, click, ephemeralsFor, nextResponse, slash, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ENI1 = 'eni-e5f60718000000001';
const ENI2 = 'eni-e5f60718000000002';
const ACCESS = { responders: ['U01ANA', 'S01SOC'], approvers: ['U02LEAD', 'U03LEAD', 'S01SOC'], twoPersonRule: true, requireApproval: ['isolate'] };
const FAST_AWS = { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 };

async function cardFor(h: Harness) {
  expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
  return waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
}

function statusIn(h: Harness, channel: string, threadTs: string, pred: (text: string) => boolean, what: string, timeoutMs?: number) {
  return waitFor(() => threadReplies(h, channel, threadTs).find((m) => pred(textOf(m))), what, timeoutMs);
}

/** The playbook's web server in the fixture's account, in an Auto Scaling group and behind a target group. */
function accountWithWebServer(opts: { asg?: string } = { asg: 'web-asg' }): FakeAws {
  return FakeAws.withWebServer(INSTANCE, opts);
}

async function audit(h: Harness) {
  return new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).find([{ target: INSTANCE }]);
}

describe('isolation from Slack: button → plan → approval → job → verified result in the thread', () => {
  let h: Harness;
  let aws: FakeAws;
  beforeEach(async () => {
    aws = accountWithWebServer();
    // A second healthy target keeps the service up; the shared role shows in the warnings.
    aws.addWebServer('i-0fffffffffffffff1', { eip: false, secondEni: false });
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS }, slackOptions: { userGroups: { S01SOC: ['U05SOC'] } } });
  });
  afterEach(async () => {
    await h.stop();
    aws.restore();
  });

  it('shows the exact plan with warnings, waits for an approver, isolates every interface and reports the verified end state', async () => {
    const card = await cardFor(h);
    const ack = await click(h, card, 'ir_isolate', 'U01ANA');
    expect(ack.status).toBe(200);

    const approval = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('ir_approve'), 'the approval card in the thread');
    const plan = textOf(approval);
    expect(plan).toContain('awaiting approval');
    expect(plan).toContain(`${ENI1} (primary): sg-0000000000000web1 (web), sg-0000000000000ssh1 (ssh-admin) → ir-quarantine`);
    expect(plan).toContain(`${ENI2}: sg-0000000000000ssh1 (ssh-admin) → ir-quarantine`);
    expect(plan).toContain('detach from Auto Scaling group web-asg');
    expect(plan).toContain('deregister from 1 target group registration(s): web-tg port 80');
    expect(plan).toContain('disassociate Elastic IP 203.0.113.7');
    expect(plan).toContain('termination and stop protection: off → on');
    expect(plan).toContain('shared by 1 other instance');
    expect(plan).toContain('<@U01ANA>');
    // Nothing changed in AWS before approval.
    expect(aws.calls.filter((c) => /^(Modify|Create|Detach|Deregister|Disassociate)/.test(c.api))).toEqual([]);

    await click(h, approval, 'ir_approve', 'U02LEAD');
    const done = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('Verified end state'), 'the verified result');
    const result = textOf(done);
    expect(result).toContain(':white_check_mark: done');
    expect(result).toContain('approved by <@U02LEAD>');
    const q = [...aws.groups.values()].find((g) => g.name === 'ir-quarantine')!;
    expect(result).toContain(`${ENI1}: ${q.id} (ir-quarantine) only, open connections cut ✓`);
    expect(result).toContain(`${ENI2}: ${q.id} (ir-quarantine) only, open connections cut ✓`);
    expect(result).toContain('Elastic IP 203.0.113.7: disassociated ✓');
    expect(result).toContain('Auto Scaling group web-asg: detached ✓');
    expect(result).toContain('target group web-tg port 80: deregistered ✓');
    expect(buttonIn(done, 'ir_release')).toBeDefined();
    // One status message, updated in place.
    expect(threadReplies(h, 'C02CRIT', card.ts)).toHaveLength(1);

    // AWS really is in that state: quarantine has no rules; every interface is only in it.
    expect(q.ingress).toEqual([]);
    expect(q.egress).toEqual([]);
    expect(aws.enis.get(ENI1)!.groups).toEqual([q.id]);
    expect(aws.enis.get(ENI2)!.groups).toEqual([q.id]);
    expect(aws.instances.get(INSTANCE)).toMatchObject({ termination: true, stop: true });
    expect(aws.instances.get(INSTANCE)!.tags).toMatchObject({ 'ir:status': 'isolated', 'ir:case': fixture('guardduty-crypto-dns').detail.id });

    // Order: protect, leave the ASG without lowering capacity, leave the target group, then cut the network.
    const apis = aws.calls.map((c) => c.api);
    const first = (api: string) => apis.indexOf(api);
    expect(first('ModifyInstanceAttribute')).toBeLessThan(first('DetachInstances'));
    expect(first('DetachInstances')).toBeLessThan(first('DeregisterTargets'));
    expect(first('DeregisterTargets')).toBeLessThan(first('ModifyNetworkInterfaceAttribute'));
    expect(aws.callsOf('DetachInstances')[0].input.ShouldDecrementDesiredCapacity).toBe(false);
    // Each interface goes through the all-traffic group (flows become untracked) before quarantine.
    const untracked = [...aws.groups.values()].find((g) => g.name === 'ir-quarantine-untracked')!;
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute').filter((c) => c.input.NetworkInterfaceId === ENI1).map((c) => c.input.Groups)).toEqual([[untracked.id], [q.id]]);
    expect(untracked.ingress[0]).toMatchObject({ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] });

    const events = (await audit(h)).map((e) => `${e.event}:${e.user}`);
    expect(events).toEqual(['requested:U01ANA', 'approval-requested:system', 'approved:U02LEAD', 'started:U02LEAD', 'succeeded:system']);
  });

  it('refuses a requester who is not a responder, queues nothing and records the attempt', async () => {
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U09VISITOR');
    await waitFor(() => ephemeralsFor(h, 'U09VISITOR').length, 'the refusal');
    expect(ephemeralsFor(h, 'U09VISITOR')[0]).toContain('not among the responders');
    await new Promise((r) => setTimeout(r, 300));
    expect(threadReplies(h, 'C02CRIT', card.ts)).toHaveLength(0);
    expect(aws.calls).toHaveLength(0);
    expect((await audit(h)).map((e) => e.event)).toEqual(['refused-requester']);
  });

  it('lets a member of a responder user group ask', async () => {
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U05SOC');
    await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('ir_approve'), 'the approval card');
  });

  it('posts the status message in the thread once even when the answer to that post was lost', async () => {
    const card = await cardFor(h);
    h.slack.loseAnswerNext('chat.postMessage');
    await click(h, card, 'ir_isolate', 'U01ANA');
    const approval = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('ir_approve'), 'the approval card in the thread');
    // The post went through but its answer did not: the retry finds it in the thread and adopts it.
    await waitFor(() => approval.updates >= 1, 'the retry updating the message it found', 15_000);
    expect(h.slack.callsOf('conversations.replies').length).toBeGreaterThanOrEqual(1);
    await click(h, approval, 'ir_approve', 'U02LEAD');
    await waitFor(() => textOf(approval).includes('Verified end state'), 'the result in that same message', 15_000);
    expect(threadReplies(h, 'C02CRIT', card.ts).filter((m) => textOf(m).includes('Isolate'))).toHaveLength(1);
  }, 30_000);

  it('shows the approval card in the default channel, saying why, when the channel the command came from refuses the bot', async () => {
    h.slack.setOptions({ userGroups: { S01SOC: ['U05SOC'] }, refusedChannels: { C09PRIV: 'not_in_channel' } });
    // No alert for the instance: the status message belongs in the channel the command came from.
    await slash(h, `isolate ${INSTANCE} miner`, 'U01ANA', 'C09PRIV');
    const approval = await waitFor(() => [...h.slack.messages.values()].find((m) => m.channel === 'C01ALERTS' && textOf(m).includes('ir_approve')), 'the approval card in the default channel');
    expect(textOf(approval)).toContain("Asked in <#C09PRIV>, where Slack refused ir-bot's post (`not_in_channel`): shown here instead.");
    await click(h, approval, 'ir_approve', 'U02LEAD');
    await waitFor(() => textOf(approval).includes('Verified end state'), 'the result in that same message', 15_000);
  }, 20_000);

  it('refuses self-approval under the two-person rule and approval by a non-approver; the first valid decision wins', async () => {
    const card = await cardFor(h);
    // U05SOC is both a responder and an approver through the S01SOC user group.
    await click(h, card, 'ir_isolate', 'U05SOC');
    const approval = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('ir_approve'), 'the approval card');
    await click(h, approval, 'ir_approve', 'U05SOC');
    await click(h, approval, 'ir_approve', 'U01ANA');
    await waitFor(() => ephemeralsFor(h, 'U05SOC').length && ephemeralsFor(h, 'U01ANA').length, 'two refusals');
    expect(ephemeralsFor(h, 'U05SOC')[0]).toContain('Two-person rule');
    expect(ephemeralsFor(h, 'U01ANA')[0]).toContain('Only approvers');
    const store = new RequestStore(h.redis, h.config.redisPrefix, 3600);
    expect((await store.recent(1))[0].state).toBe('awaiting-approval');

    // Another approver still has the old card on screen when the first decision lands.
    const onScreen = structuredClone(approval);
    await click(h, approval, 'ir_reject', 'U03LEAD');
    await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('rejected by <@U03LEAD>'), 'the rejection on the card');
    await click(h, onScreen, 'ir_approve', 'U02LEAD');
    await waitFor(() => ephemeralsFor(h, 'U02LEAD').length, 'late approval refusal');
    expect(ephemeralsFor(h, 'U02LEAD')[0]).toContain('Already rejected by <@U03LEAD>');
    expect(aws.calls.filter((c) => /^Modify/.test(c.api))).toEqual([]);
    expect((await audit(h)).map((e) => e.event)).toEqual(['requested', 'approval-requested', 'refused-approver', 'refused-approver', 'rejected']);
  });

  it('refuses an approval after the card expired, and says so on the card', async () => {
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    const approval = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('ir_approve'), 'the approval card');
    const store = new RequestStore(h.redis, h.config.redisPrefix, 3600);
    const [req] = await store.recent(1);
    await store.patch(req.id, { expiresAt: Date.now() - 1000 });
    await click(h, approval, 'ir_approve', 'U02LEAD');
    await waitFor(() => ephemeralsFor(h, 'U02LEAD').length, 'the refusal');
    expect(ephemeralsFor(h, 'U02LEAD')[0]).toContain('expired');
    await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('approval expired: nothing was changed') && !t.includes('ir_approve'), 'the expired card');
    expect(aws.calls.filter((c) => /^Modify/.test(c.api))).toEqual([]);
  });

  it('expires an approval nobody decided on, by itself, when its time is up', async () => {
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('ir_approve'), 'the approval card');
    const store = new RequestStore(h.redis, h.config.redisPrefix, 3600);
    const [req] = await store.recent(1);
    await store.patch(req.id, { expiresAt: Date.now() - 1000 });
    // The expiry job waits (delayed) in Redis for approvalTimeoutMinutes; bring it forward.
    const queue = new Queue(QUEUE.actions, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
    await (await queue.getJob(`expire-${req.id}-r1`))!.promote();
    await queue.close();
    await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('approval expired: nothing was changed') && !t.includes('ir_approve'), 'the expired card');
    expect((await audit(h)).map((e) => e.event)).toEqual(['requested', 'approval-requested', 'expired']);
  });

  it('asks again when AWS changed between approval and execution, and ignores clicks on the stale card', async () => {
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    const approval = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('ir_approve'), 'the approval card');
    const staleButtons = structuredClone(approval);
    // Someone adds a group by hand after the plan was shown.
    aws.ensureGroup('sg-000000000000000db', 'db-access', 'vpc-0a1b2c3d');
    aws.enis.get(ENI2)!.groups.push('sg-000000000000000db');
    await click(h, approval, 'ir_approve', 'U02LEAD');
    const again = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('AWS changed after') && t.includes('ir_approve'), 'a new approval card');
    expect(textOf(again)).toContain('sg-000000000000000db (db-access)');
    expect(aws.calls.filter((c) => /^Modify/.test(c.api))).toEqual([]);

    await click(h, staleButtons, 'ir_approve', 'U03LEAD');
    await waitFor(() => ephemeralsFor(h, 'U03LEAD').length, 'stale refusal');
    expect(ephemeralsFor(h, 'U03LEAD')[0]).toContain('older plan');

    await click(h, again, 'ir_approve', 'U03LEAD');
    await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('Verified end state'), 'the result');
    expect((await audit(h)).map((e) => e.event)).toContain('plan-changed');
  });
});

describe('isolation runs once and survives crashes', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('runs once for a double click handled by two workers', async () => {
    aws = accountWithWebServer({});
    h = await startHarness({ file: { access: { ...ACCESS, requireApproval: [] }, aws: FAST_AWS }, slackOptions: { userGroups: { S01SOC: ['U05SOC'] } } });
    await h.addWorker();
    // Slow enough that every click arrives while the first request is still open.
    aws.latencyMs = 40;
    const card = await cardFor(h);
    await Promise.all([click(h, card, 'ir_isolate', 'U01ANA'), click(h, card, 'ir_isolate', 'U05SOC'), click(h, card, 'ir_isolate', 'U01ANA')]);
    await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('Verified end state'), 'the result');
    await new Promise((r) => setTimeout(r, 300));
    expect(threadReplies(h, 'C02CRIT', card.ts)).toHaveLength(1);
    const joined = h.slack.callsOf('chat.postEphemeral').map((c) => String(c.args.text));
    expect(joined.filter((t) => t.includes('already in progress'))).toHaveLength(2);
    // Two interfaces, two moves each (untracked, then quarantine): never more.
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute')).toHaveLength(4);
    expect(aws.callsOf('CreateTags')).toHaveLength(1);
    expect((await audit(h)).filter((e) => e.event === 'started')).toHaveLength(1);
  });

  it('resumes without harm when the worker is killed mid-job: the recorded "before" is still the real before', async () => {
    aws = accountWithWebServer();
    const lock = { lockDuration: 1000, stalledInterval: 500 };
    h = await startHarness({ file: { access: { ...ACCESS, requireApproval: [] }, aws: FAST_AWS }, worker: false, workerOptions: { lock } });
    const a = await h.addWorker();
    const card = await cardFor(h);
    // The worker dies while moving the first interface: protection, ASG, targets and tags are done.
    aws.hangNext('ModifyNetworkInterfaceAttribute');
    await click(h, card, 'ir_isolate', 'U01ANA');
    await waitFor(() => aws.callsOf('ModifyNetworkInterfaceAttribute').length === 1, 'the first interface move');
    await a.kill!();
    await h.addWorker();
    await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('Verified end state'), 'the resumed result', 30_000);
    const q = [...aws.groups.values()].find((g) => g.name === 'ir-quarantine')!;
    expect(aws.enis.get(ENI1)!.groups).toEqual([q.id]);
    expect(aws.callsOf('DetachInstances')).toHaveLength(1);
    expect(aws.callsOf('DeregisterTargets')).toHaveLength(1);
    expect((await audit(h)).map((e) => e.event)).toContain('resumed');
    const rec = JSON.parse((await h.redis.get(`${h.config.redisPrefix}:rec:isolation:${INSTANCE}`))!);
    expect(rec.interfaces[0].groups.map((g: any) => g.id)).toEqual(['sg-0000000000000web1', 'sg-0000000000000ssh1']);
    expect(rec.autoScalingGroup).toBe('web-asg');
  });
});

describe('release and error paths', () => {
  let h: Harness;
  let aws: FakeAws;
  beforeEach(async () => {
    aws = accountWithWebServer();
    h = await startHarness({ file: { access: { ...ACCESS, requireApproval: [] }, aws: FAST_AWS } });
  });
  afterEach(async () => {
    await h.stop();
    aws.restore();
  });

  async function isolated(): Promise<{ card: any; result: any }> {
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    const result = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('Verified end state'), 'the isolation result');
    return { card, result };
  }

  it('release restores groups, Elastic IP, Auto Scaling, target registration, protection; then refuses a second release', async () => {
    const original = JSON.parse(JSON.stringify({ enis: [...aws.enis.values()], eip: aws.addresses.get('eipalloc-e5f60718') }));
    const { card, result } = await isolated();
    await click(h, result, 'ir_release', 'U01ANA');
    const released = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('Release isolation') && t.includes('Verified end state'), 'the release result');
    expect(textOf(released)).toContain(`${ENI1}: sg-0000000000000web1, sg-0000000000000ssh1 ✓`);
    expect([...aws.enis.values()].map((e) => e.groups)).toEqual(original.enis.map((e: any) => e.groups));
    expect(aws.addresses.get('eipalloc-e5f60718')).toMatchObject({ eniId: original.eip.eniId, privateIp: '10.0.1.10' });
    expect(aws.asg.get(INSTANCE)).toBe('web-asg');
    expect(aws.targetGroups[0].targets.map((t) => t.id)).toEqual([INSTANCE]);
    expect(aws.instances.get(INSTANCE)).toMatchObject({ termination: false, stop: false });
    expect(aws.instances.get(INSTANCE)!.tags['ir:status']).toBe('released');

    const before = h.slack.responses.length;
    await slash(h, `release ${INSTANCE}`);
    expect(await nextResponse(h, 'U01ANA', before)).toContain('Nothing is recorded');
  });

  it('refuses to isolate an instance that is already isolated', async () => {
    await isolated();
    // A new request for it (the first is done): plan says so and changes nothing.
    const mutations = aws.calls.filter((c) => /^Modify/.test(c.api)).length;
    await slash(h, `isolate ${INSTANCE} again`);
    await waitFor(() => [...h.slack.messages.values()].find((m) => textOf(m).includes('is already isolated')), 'the refusal');
    expect(aws.calls.filter((c) => /^Modify/.test(c.api)).length).toBe(mutations);
  });

  it('says clearly when the instance does not exist in the account and region, or is terminated', async () => {
    await slash(h, 'isolate i-0000000000000dead');
    const nf = await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('was not found')), 'not-found status');
    expect(textOf(nf)).toContain('i-0000000000000dead was not found in account 123456789012, region us-east-1');
    aws.instances.get(INSTANCE)!.state = 'terminated';
    await slash(h, `isolate ${INSTANCE}`);
    await waitFor(() => [...h.slack.messages.values()].find((m) => textOf(m).includes('is terminated')), 'terminated status');
  });

  it('stops at AccessDenied without retrying, naming the missing permission and the state left', async () => {
    aws.failAlways('ModifyNetworkInterfaceAttribute', awsError('UnauthorizedOperation', 'You are not authorized to perform this operation. Encoded authorization failure message: abc'));
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    const failed = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes(':x: failed'), 'the failure');
    const t = textOf(failed);
    expect(t).toContain('ec2:ModifyNetworkInterfaceAttribute');
    expect(t).toContain('step 7 (move interfaces to quarantine)');
    expect(t).toContain('termination and stop protection on');
    expect(t).toContain('detached from Auto Scaling group web-asg');
    expect(t).not.toContain('Encoded authorization');
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute')).toHaveLength(1);
  });

  it('retries throttling with backoff, then fails saying AWS kept throttling', async () => {
    aws.failAlways('CreateTags', awsError('RequestLimitExceeded', 'Request limit exceeded.'));
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    const failed = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes(':x: failed'), 'the failure', 20_000);
    expect(textOf(failed)).toContain('AWS kept throttling ec2:CreateTags (RequestLimitExceeded) after 2 attempt(s)');
    expect(aws.callsOf('CreateTags')).toHaveLength(2);
    expect((await audit(h)).map((e) => e.event)).toEqual(expect.arrayContaining(['retrying', 'failed']));
  });

  it('explains when the quarantine group cannot be created', async () => {
    aws.failAlways('CreateSecurityGroup', awsError('UnauthorizedOperation'));
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    const failed = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes(':x: failed'), 'the failure');
    expect(textOf(failed)).toContain('cannot create security group ir-quarantine in vpc-0a1b2c3d: ec2:CreateSecurityGroup is denied');
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute')).toHaveLength(0);
  });

  it('refuses to act in another account with the worker\'s own credentials', async () => {
    aws.account = '999999999999';
    const card = await cardFor(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    const failed = await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes(':x: failed'), 'the failure');
    expect(textOf(failed)).toContain('the finding is in account 123456789012 but the bot\'s credentials are for account 999999999999');
    expect(aws.calls.filter((c) => c.api !== 'GetCallerIdentity')).toHaveLength(0);
  });
});

describe('the pipeline around the action', () => {
  let aws: FakeAws;
  afterEach(() => aws.restore());

  it('assumes the configured responder role with the request and Slack user in the session name', async () => {
    aws = accountWithWebServer({});
    const h = await startHarness({
      file: { access: { ...ACCESS, requireApproval: [] }, aws: { ...FAST_AWS, responderRoleArn: 'arn:aws:iam::{account}:role/ir-responder' } },
    });
    try {
      const card = await cardFor(h);
      await click(h, card, 'ir_isolate', 'U01ANA');
      await statusIn(h, 'C02CRIT', card.ts, (t) => t.includes('Verified end state'), 'the result');
      const assume = aws.callsOf('AssumeRole')[0].input;
      expect(assume.RoleArn).toBe('arn:aws:iam::123456789012:role/ir-responder');
      expect(assume.RoleSessionName).toMatch(/^ir-isolate-i-0a1b2c3d4e5f60718-\d+-U01ANA$/);
      expect(assume.SourceIdentity).toBe('U01ANA');
      // Plan and execute each assume the role, under the same name (the Security Hub note afterwards uses the bot's own account).
      expect(new Set(aws.callsOf('AssumeRole').map((c) => c.input.RoleSessionName)).size).toBe(1);
    } finally {
      await h.stop();
    }
  });

  it('/ir isolate, /ir status and /ir status <id> from the command line', async () => {
    aws = accountWithWebServer({});
    const h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS } });
    try {
      let before = h.slack.responses.length;
      const { ack } = await slash(h, `isolate ${INSTANCE} miner on prod`);
      expect(ack).toBeUndefined();
      expect(await nextResponse(h, 'U01ANA', before)).toMatch(/Queued \*isolate\* of `i-0a1b2c3d4e5f60718` as `isolate-i-0a1b2c3d4e5f60718-\d+`/);
      // No card was ever posted for it: the status message is top-level in the command's channel.
      const status = await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('ir_approve')), 'the approval card');
      expect(textOf(status)).toContain('reason: miner on prod');
      before = h.slack.responses.length;
      await slash(h, 'status', 'U02LEAD');
      const list = await nextResponse(h, 'U02LEAD', before);
      expect(list).toContain('isolate `i-0a1b2c3d4e5f60718`: awaiting-approval, asked by <@U01ANA>');
      const id = /`(isolate-i-[0-9a-f]+-\d+)`/.exec(list)![1];
      before = h.slack.responses.length;
      await slash(h, `status ${id}`, 'U02LEAD');
      expect(await nextResponse(h, 'U02LEAD', before)).toContain('*Plan*');
      const bad = await slash(h, 'status 42', 'U02LEAD');
      expect(bad.ack.text).toContain('"42" is not a request id');
    } finally {
      await h.stop();
    }
  });

  it('tells the user at once when Redis is unreachable instead of letting Slack time out', async () => {
    aws = new FakeAws();
    const h = await startHarness({ env: { REDIS_URL: 'redis://127.0.0.1:1' }, worker: false });
    try {
      const before = h.slack.responses.length;
      const res = await slash(h, `isolate ${INSTANCE}`);
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(1000);
      expect(await nextResponse(h, 'U01ANA', before)).toContain('cannot reach its Redis');
    } finally {
      await h.stop().catch(() => undefined);
    }
  });
});

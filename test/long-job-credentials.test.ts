import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { snapshotAction } from '../src/actions/snapshot';
import { AwsClients } from '../src/aws/clients';
import { AwsCallError } from '../src/aws/errors';
import { fileSchema } from '../src/config/schema';
import { actionContext, TestClock } from './support/action-context';
import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { click, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ROLE = 'arn:aws:iam::123456789012:role/ir-responder';
const REQUEST = 'snapshot-i-0a1b2c3d4e5f60718-4';
const MINUTE = 60_000;

/** The worker's AWS side with `aws.responderRoleArn` set, on the test's clock. */
function workerAws(clock: TestClock): AwsClients {
  const config = fileSchema.parse({ channels: { default: 'C01ALERTS' }, aws: { responderRoleArn: ROLE, maxAttempts: 1 } });
  return new AwsClients({ aws: config.aws, awsRegion: 'us-east-1', now: clock.now });
}

/** A snapshot job that waits 20 minutes between checks and sees the snapshots complete after `polls` checks. */
async function longSnapshotJob(aws: FakeAws, clock: TestClock, opts: { polls: number; duringWait?: (n: number) => void }) {
  const clients = workerAws(clock);
  const session = await clients.responder({ account: '123456789012', region: 'us-east-1' }, { requestId: REQUEST, userId: 'U02LEAD' });
  try {
    aws.snapshotPolls = opts.polls;
    const ctx = actionContext({ account: session.account, requestId: REQUEST, clock, aws: session.responder(), config: { snapshot: { pollIntervalMs: 20 * MINUTE, maxPollIntervalMs: 20 * MINUTE } as never } });
    let waits = 0;
    ctx.sleep = async (ms) => {
      clock.advance(ms);
      opts.duringWait?.(++waits);
    };
    const plan = await snapshotAction.plan([INSTANCE], ctx);
    expect(plan.blocked).toBeUndefined();
    return await snapshotAction.execute(plan, ctx);
  } finally {
    session.destroy();
  }
}

function account(clock: TestClock): FakeAws {
  const aws = FakeAws.withWebServer(INSTANCE);
  aws.now = clock.now;
  aws.checkCredentials = true;
  return aws;
}

describe('assumed-role credentials in jobs that outlive the session', () => {
  let aws: FakeAws;
  afterEach(() => aws?.restore());

  it('renews the one-hour session before it expires: a snapshot job of 2 h 40 min completes, under one session name and source identity', async () => {
    const clock = new TestClock();
    aws = account(clock);
    const out = await longSnapshotJob(aws, clock, { polls: 8 });
    expect(out.ok).toBe(true);
    expect(out.lines.every((l) => l.endsWith('completed ✓'))).toBe(true);
    expect(aws.expiredRejections).toEqual([]);
    const assumed = aws.callsOf('AssumeRole').map((c) => c.input);
    expect(assumed.length).toBeGreaterThanOrEqual(3);
    expect(new Set(assumed.map((i) => i.RoleSessionName))).toEqual(new Set([`ir-${REQUEST}-U02LEAD`]));
    expect(new Set(assumed.map((i) => i.SourceIdentity))).toEqual(new Set(['U02LEAD']));
  });

  it('renews at once and retries the call when AWS rejects the session as expired early (revoked, clock skew)', async () => {
    const clock = new TestClock();
    aws = account(clock);
    const out = await longSnapshotJob(aws, clock, { polls: 3, duringWait: (n) => n === 1 && aws.expireCredentials() });
    expect(out.ok).toBe(true);
    expect(aws.expiredRejections).toEqual(['RequestExpired']);
    expect(aws.callsOf('AssumeRole')).toHaveLength(2);
  });

  it('retries only once: a session that is expired again comes back as an expiry error, which the job may retry', async () => {
    const clock = new TestClock();
    aws = account(clock);
    aws.credentialLifetimeMs = 0;
    const clients = workerAws(clock);
    const session = await clients.responder({ account: '123456789012', region: 'us-east-1' }, { requestId: REQUEST, userId: 'U02LEAD' });
    try {
      const err = await session
        .responder()
        .send(session.clients.ec2, new DescribeInstancesCommand({ InstanceIds: [INSTANCE] }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AwsCallError);
      expect(err).toMatchObject({ kind: 'expired', code: 'RequestExpired', retryable: true });
      expect((err as Error).message).toBe("ec2:DescribeInstances: AWS rejected the bot's credentials as expired (RequestExpired)");
      expect(aws.callsOf('DescribeInstances')).toHaveLength(2);
    } finally {
      session.destroy();
    }
  });
});

describe('a snapshot job from Slack whose assumed-role session AWS rejects part-way', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('renews the session, retries the rejected call and reports the snapshots completed', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.checkCredentials = true;
    aws.snapshotPolls = 3;
    let polls = 0;
    // The session ends while the job waits for the snapshots (revoked early, or the worker's clock ran behind).
    aws.onCall('DescribeSnapshots', (i) => {
      if (i.SnapshotIds && ++polls === 1) aws.expireCredentials();
    });
    h = await startHarness({
      file: { access: { responders: ['U01ANA'], requireApproval: [] }, aws: { maxAttempts: 1, jobAttempts: 1, jobBackoffMs: 50, responderRoleArn: ROLE }, snapshot: { pollIntervalMs: 20 }, story: { enabled: false } },
    });
    expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
    await click(h, card, 'ir_snapshot', 'U01ANA');
    const done = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Verified end state')), 'the result');
    expect(textOf(done)).not.toContain('✗');
    expect(textOf(done).match(/completed ✓/g)).toHaveLength(2);
    expect(aws.expiredRejections).toEqual(['RequestExpired']);
    // One job attempt: the call was retried inside it after a new AssumeRole, under the same session name.
    const names = aws.callsOf('AssumeRole').map((c) => c.input.RoleSessionName as string);
    expect(new Set(names.filter((n) => n.startsWith('ir-snapshot-'))).size).toBe(1);
  });
});

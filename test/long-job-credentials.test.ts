import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { AwsClients } from '../src/aws/clients';
import { AwsCallError } from '../src/aws/errors';
import { fileSchema } from '../src/config/schema';
import { TestClock } from './support/action-context';
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

/** One request's assumed-role session on the test's clock. */
async function sessionFor(clock: TestClock) {
  return workerAws(clock).responder({ account: '123456789012', region: 'us-east-1' }, { requestId: REQUEST, userId: 'U02LEAD' });
}

const describeInstance = () => new DescribeInstancesCommand({ InstanceIds: [INSTANCE] });

function account(clock: TestClock): FakeAws {
  const aws = FakeAws.withWebServer(INSTANCE);
  aws.now = clock.now;
  aws.checkCredentials = true;
  return aws;
}

describe('assumed-role credentials in jobs that outlive the session', () => {
  let aws: FakeAws;
  afterEach(() => aws?.restore());

  it('renews the one-hour session before it expires: calls every 20 minutes for three hours all succeed, under one session name and source identity', async () => {
    const clock = new TestClock();
    aws = account(clock);
    const session = await sessionFor(clock);
    try {
      const responder = session.responder();
      for (let n = 0; n < 10; n++) {
        const out = await responder.send(session.clients.ec2, describeInstance());
        expect(out.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe(INSTANCE);
        clock.advance(20 * MINUTE);
      }
    } finally {
      session.destroy();
    }
    expect(aws.expiredRejections).toEqual([]);
    const assumed = aws.callsOf('AssumeRole').map((c) => c.input);
    expect(assumed).toHaveLength(4); // at 0, 60, 120 and 180 min: the first call less than 5 min before expiry renews
    expect(new Set(assumed.map((i) => i.RoleSessionName))).toEqual(new Set([`ir-${REQUEST}-U02LEAD`]));
    expect(new Set(assumed.map((i) => i.SourceIdentity))).toEqual(new Set(['U02LEAD']));
  });

  it('renews at once and retries the call when AWS rejects the session as expired early (revoked, clock skew)', async () => {
    const clock = new TestClock();
    aws = account(clock);
    const session = await sessionFor(clock);
    try {
      const responder = session.responder();
      await responder.send(session.clients.ec2, describeInstance());
      aws.expireCredentials();
      const out = await responder.send(session.clients.ec2, describeInstance());
      expect(out.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe(INSTANCE);
    } finally {
      session.destroy();
    }
    expect(aws.expiredRejections).toEqual(['RequestExpired']);
    expect(aws.callsOf('AssumeRole')).toHaveLength(2);
  });

  it('retries only once: a session that is expired again comes back as an expiry error, which the job may retry', async () => {
    const clock = new TestClock();
    aws = account(clock);
    aws.credentialLifetimeMs = 0;
    const session = await sessionFor(clock);
    try {
      const err = await session
        .responder()
        .send(session.clients.ec2, describeInstance())
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

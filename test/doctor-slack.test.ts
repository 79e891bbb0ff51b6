import { Queue } from 'bullmq';
import { QUEUE, bullPrefix, type DoctorJob } from '../src/queues';
import { startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { mockAccounts, type FakeAccount, type FakeAccountMocks } from './support/fake-aws-account';
import { shippedPolicy } from './support/iam-policy';
import { nextResponse, slash, textOf } from './support/slack-user';

const HOME = '111122223333';

function account(overrides: Partial<FakeAccount> = {}): FakeAccount {
  return {
    id: HOME,
    callerArn: `arn:aws:sts::${HOME}:assumed-role/ir-bot/task`,
    policy: shippedPolicy(),
    guardDuty: 'ENABLED',
    securityHub: true,
    rules: [{ name: 'findings', pattern: '{"source":["aws.guardduty"]}', apiDestination: { name: 'ir-bot', endpoint: 'https://ir-bot.example.com/aws/events' } }],
    trails: [{ name: 'org-trail', multiRegion: true, logging: true }],
    athenaTables: [],
    instances: [{ id: 'i-0aaaaaaaaaaaaaaa1', vpc: 'vpc-0aaa1111', state: 'running', ssmOnline: true }],
    flowLogsOn: ['vpc-0aaa1111'],
    buckets: {},
    assumable: [],
    ...overrides,
  };
}

describe('/ir doctor in Slack', () => {
  let h: Harness | undefined;
  let mocks: FakeAccountMocks | undefined;
  tearDownAfterEach(() => ({ h }));
  afterEach(() => mocks?.restore());

  const doctorPosts = () => [...h!.slack.messages.values()].filter((m) => m.text.startsWith('ir-bot doctor'));

  test('a responder asks; the checklist card shows the count first and each ✗ with its fix', async () => {
    mocks = mockAccounts([account({ guardDuty: 'DISABLED' })]);
    h = await startHarness();
    const before = h.slack.responses.length;
    const r = await slash(h, 'doctor');
    expect(r.status).toBe(200);
    expect(await nextResponse(h, 'U01ANA', before)).toMatch(/^Running the doctor over every account and region/);
    const card = await waitFor(() => doctorPosts()[0], 'the doctor checklist');
    expect(card.channel).toBe('C01ALERTS');
    expect(card.text).toMatch(/^ir-bot doctor: 1 of \d+ checks failed$/);
    const blocks = card.blocks as { type: string; text?: { text: string } }[];
    expect(blocks[0].type).toBe('header');
    expect(blocks[0].text!.text).toMatch(/^✗ ir-bot doctor: 1 of \d+ checks failed$/);
    const failure = blocks.find((b) => b.type === 'section')!.text!.text;
    expect(failure).toContain('*GuardDuty* · 111122223333 us-east-1');
    expect(failure).toContain('*Fix:* `enable detector d0123456789abcdef: aws guardduty update-detector --detector-id d0123456789abcdef --enable --region us-east-1`');
    expect(textOf(card)).toContain('✓ 111122223333 us-east-1: the bot');
  });

  test('someone who is neither responder nor approver is refused, and nothing runs', async () => {
    mocks = mockAccounts([account()]);
    h = await startHarness();
    const before = h.slack.responses.length;
    await slash(h, 'doctor', 'U09STRANGER');
    expect(await nextResponse(h, 'U09STRANGER', before)).toMatch(/^:no_entry: Only responders and approvers may use `\/ir doctor`/);
    await new Promise((r) => setTimeout(r, 500));
    expect(doctorPosts()).toEqual([]);
    expect(mocks.sim.calls()).toHaveLength(0);
  });

  test('a scheduled run posts only when a check changed since the last checklist', async () => {
    const acct = account();
    mocks = mockAccounts([acct]);
    h = await startHarness({ file: { doctor: { schedule: { channel: 'C02CRIT' } } } });
    const q = new Queue<DoctorJob>(QUEUE.doctor, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
    try {
      const runOnce = async (n: number) => {
        const job = await q.add('doctor', { scheduled: true });
        await waitFor(async () => (await job.isCompleted()) || (await job.isFailed()), `scheduled run ${n}`);
        return (await q.getJob(job.id!))!.returnvalue as string;
      };
      expect(await runOnce(1)).toBe('posted');
      expect(await runOnce(2)).toBe('unchanged');
      acct.flowLogsOn = [];
      expect(await runOnce(3)).toBe('posted');
      const posts = doctorPosts();
      expect(posts.map((p) => [p.channel, p.text])).toEqual([
        ['C02CRIT', expect.stringMatching(/^ir-bot doctor: all \d+ checks passed$/)],
        ['C02CRIT', expect.stringMatching(/^ir-bot doctor: 1 of \d+ checks failed$/)],
      ]);
      expect(textOf(posts[1])).toContain('Scheduled run (posted because a check changed)');
    } finally {
      await q.close();
    }
  });
});

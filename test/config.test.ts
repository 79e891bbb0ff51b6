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
    expect(external).toMatchObject({ redis: { kind: 'url', url: 'redis://redis.internal:6379' }, embeddedRedis: undefined, redisWait: { replicas: 0 } });
  });

  describe('Redis through Sentinel', () => {
    const sentinelEnv = { ...env, REDIS_SENTINELS: 'sentinel-a:26379, sentinel-b:26380,[fd00::3]:26381', REDIS_SENTINEL_MASTER: 'irbot', REDIS_USERNAME: 'irbot', REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'spw', REDIS_TLS: 'true', REDIS_WAIT_REPLICAS: '1' };

    it('reads the sentinels, master, credentials and TLS into one endpoint, and does not start its own Redis', () => {
      const c = loadConfig(sentinelEnv, () => good);
      expect(c.redis).toEqual({
        kind: 'sentinel',
        sentinels: [{ host: 'sentinel-a', port: 26379 }, { host: 'sentinel-b', port: 26380 }, { host: 'fd00::3', port: 26381 }],
        master: 'irbot',
        username: 'irbot',
        password: 'pw',
        sentinelPassword: 'spw',
        tls: { ca: undefined },
      });
      expect(c.embeddedRedis).toBeUndefined();
      expect(c.redisWait).toEqual({ replicas: 1, timeoutMs: 1000 });
    });

    it('reads the CA file for TLS to the sentinels and data nodes', () => {
      const c = loadConfig({ ...sentinelEnv, REDIS_TLS_CA_FILE: '/etc/ca.pem' }, (p) => (p === '/etc/ca.pem' ? 'PEM' : good));
      expect(c.redis).toMatchObject({ kind: 'sentinel', tls: { ca: 'PEM' } });
    });

    it('names the variable of each bad combination', () => {
      expect(problemsOf(() => loadConfig({ ...sentinelEnv, REDIS_URL: 'redis://r:6379' }, () => good))).toEqual(['env REDIS_SENTINELS: set either REDIS_URL or REDIS_SENTINELS, not both']);
      expect(problemsOf(() => loadConfig({ ...sentinelEnv, REDIS_SENTINELS: 'a:26379,b,c:99999,:1' }, () => good))).toEqual(['env REDIS_SENTINELS: each entry must be host:port (got "b", "c:99999", ":1")']);
      expect(problemsOf(() => loadConfig({ ...sentinelEnv, REDIS_SENTINEL_MASTER: '' }, () => good))).toEqual([
        'env REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS (the name the sentinels monitor, e.g. mymaster)',
      ]);
      expect(problemsOf(() => loadConfig({ ...sentinelEnv, REDIS_PASSWORD: undefined }, () => good))).toEqual(['env REDIS_PASSWORD: required when REDIS_USERNAME is set']);
      expect(problemsOf(() => loadConfig({ ...sentinelEnv, REDIS_TLS: 'yes please', REDIS_WAIT_REPLICAS: '-1' }, () => good))).toEqual(
        expect.arrayContaining(['env REDIS_TLS: must be true or false', expect.stringMatching(/^env REDIS_WAIT_REPLICAS: /)]),
      );
      expect(problemsOf(() => loadConfig({ ...sentinelEnv, REDIS_TLS: 'false', REDIS_TLS_CA_FILE: '/etc/ca.pem' }, () => good))).toEqual([
        'env REDIS_TLS_CA_FILE: only used with REDIS_TLS=true in Sentinel mode',
      ]);
    });

    it('refuses Sentinel-only settings beside REDIS_URL, but leaves REDIS_PASSWORD to the URL (docker-compose sets both)', () => {
      expect(problemsOf(() => loadConfig({ ...env, REDIS_URL: 'redis://r:6379', REDIS_SENTINEL_MASTER: 'irbot', REDIS_TLS: 'true' }, () => good))).toEqual([
        'env REDIS_SENTINEL_MASTER: only used with REDIS_SENTINELS (a REDIS_URL carries its own user: redis://user:password@host:6379)',
        'env REDIS_TLS: only used with REDIS_SENTINELS (with REDIS_URL, rediss:// turns TLS on)',
      ]);
      const c = loadConfig({ ...env, REDIS_URL: 'redis://irbot:pw@redis:6379', REDIS_PASSWORD: 'pw', REDIS_SENTINELS: '', REDIS_SENTINEL_MASTER: '' }, () => good);
      expect(c.redis).toEqual({ kind: 'url', url: 'redis://irbot:pw@redis:6379', tlsCa: undefined });
    });
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

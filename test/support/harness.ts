import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { loadConfig, type Config } from '../../src/config/load';
import { parseEvents } from '../../src/findings/events';
import type { Finding } from '../../src/findings/model';
import { createLogger } from '../../src/log';
import { Metrics } from '../../src/metrics';
import { ioredisArgs, type RedisEndpoint } from '../../src/redis';
import { startBot, type Running } from '../../src/run/bot';
import { startWorker, type WorkerOptions } from '../../src/run/worker';
import type { FakeAws } from './fake-aws';
import { SlackApiServer, type SlackApiOptions } from './slack-api-server';

export const SIGNING_SECRET = 'test-signing-secret-0123456789';
export const INGEST_KEY = 'test-ingest-key-0123456789abcdef';

export const BASE_FILE_CONFIG = {
  channels: {
    default: 'C01ALERTS',
    routes: [
      { minSeverity: 7, channel: 'C02CRIT' },
      { findingTypePrefix: 'CryptoCurrency:', channel: 'C03CRYPTO' },
    ],
  },
  access: { responders: ['U01ANA', 'S01SOC'], approvers: ['U02LEAD'], twoPersonRule: true },
  // Tests run fast: short coalescing, generous update budget unless a test tightens it.
  slack: { postIntervalMs: 1000, updatesPerMinute: 600, coalesceMs: 50 },
  // The instance story reads AWS; only the tests that mock AWS for it turn it on.
  story: { enabled: false },
};

export function writeConfigFile(file: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'irbot-config-'));
  const path = join(dir, 'ir-bot.yaml');
  writeFileSync(path, stringify(file));
  return path;
}

export function testEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_MODE: 'http',
    PORT: '0',
    METRICS_PORT: '0',
    REDIS_URL: process.env.TEST_REDIS_URL,
    INGEST_API_KEY: INGEST_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    REDIS_PREFIX: `t${randomBytes(5).toString('hex')}`,
    AWS_REGION: 'us-east-1',
    ...overrides,
  };
}

/** A connection for the test's own reads and clean-up: through Sentinel too, and failing fast when a test points the bot at an unreachable Redis on purpose. */
export function testRedis(endpoint: RedisEndpoint): Redis {
  const args = ioredisArgs(endpoint, 'worker');
  return args.length === 2 ? new Redis(args[0], { ...args[1], maxRetriesPerRequest: 1 }) : new Redis({ ...args[0], maxRetriesPerRequest: 1 });
}

export interface Harness {
  config: Config;
  slack: SlackApiServer;
  bot: Running;
  worker?: Running;
  baseUrl: string;
  /** The bot's loopback metrics server: /metrics and /healthz with detail. */
  metricsUrl: string;
  redis: Redis;
  postEvents(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Another worker replica against the same Redis and config. */
  addWorker(opts?: Partial<WorkerOptions>): Promise<Running>;
  stop(): Promise<void>;
}

/**
 * After each test, stops what it started: the harness (bot, worker, Slack server, its Redis keys)
 * and the in-memory AWS account. Either may be missing when a test failed before starting it.
 */
export function tearDownAfterEach(started: () => { h?: Harness; aws?: FakeAws }): void {
  afterEach(async () => {
    const { h, aws } = started();
    await h?.stop();
    aws?.restore();
  });
}

/** Bot (HTTP mode) + worker against the test Redis and a local Slack API server. */
export async function startHarness(opts: {
  file?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  slackOptions?: SlackApiOptions;
  worker?: boolean;
  workerOptions?: Partial<WorkerOptions>;
} = {}): Promise<Harness> {
  const slack = new SlackApiServer(opts.slackOptions);
  await slack.start();
  const up: Running[] = [];
  try {
    const configPath = writeConfigFile({ ...BASE_FILE_CONFIG, ...(opts.file ?? {}) });
    const config = loadConfig(testEnv({ SLACK_API_URL: slack.url, IR_CONFIG: configPath, ...(opts.env ?? {}) }));
    const log = createLogger(config.logLevel);
    const metrics = new Metrics(false);
    const bot = await startBot(config, log, metrics);
    up.push(bot);
    const worker = opts.worker === false ? undefined : await startWorker(config, log, metrics, { serveHttp: false, ...opts.workerOptions });
    const extra: Running[] = [];
    const baseUrl = `http://127.0.0.1:${bot.port}`;
    const redis = testRedis(config.redis);
    redis.on('error', () => undefined);
    return {
      config,
      slack,
      bot,
      worker,
      baseUrl,
      metricsUrl: `http://127.0.0.1:${bot.metricsPort}`,
      redis,
      async postEvents(body, headers = {}) {
        const res = await fetch(`${baseUrl}/aws/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': INGEST_KEY, ...headers },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : undefined };
      },
      async addWorker(more = {}) {
        const w = await startWorker(config, log, metrics, { serveHttp: false, ...opts.workerOptions, ...more });
        extra.push(w);
        return w;
      },
      async stop() {
        await Promise.all(extra.map((w) => w.stop()));
        await worker?.stop();
        await bot.stop();
        await slack.stop();
        const keys = await redis.keys(`${config.redisPrefix}:*`).catch(() => []);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      },
    };
  } catch (err) {
    // A start-up that fails (bad config, no Redis) must not leave servers open and hang the run.
    await Promise.all(up.map((r) => r.stop().catch(() => undefined)));
    await slack.stop();
    throw err;
  }
}

export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function fixture(name: string): any {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return JSON.parse(JSON.stringify(require(`../fixtures/${name}.json`)));
}

/** A fixture event, changed by `mutate`, as the one Finding it parses to. */
export function findingFrom(name: string, mutate?: (e: any) => void): Finding {
  const e = fixture(name);
  mutate?.(e);
  const parsed = parseEvents(e, 10);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.findings[0];
}

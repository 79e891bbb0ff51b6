import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { policyProblems } from '../policy/validate';
import type { RedisEndpoint } from '../redis';
import { envModeProblems, envSchema, fileSchema, parseSentinels, type Env, type FileConfig } from './schema';

export type SlackMode = 'socket' | 'http';

export type Config = FileConfig & {
  slackApp: {
    botToken: string;
    signingSecret?: string;
    appToken?: string;
    mode: SlackMode;
    apiUrl?: string;
  };
  port: number;
  metrics: { port: number; host: string; token?: string };
  /** REDIS_URL or the Sentinel settings; a URL endpoint is empty until main has started the private Redis when `embeddedRedis` is set. */
  redis: RedisEndpoint;
  /** Neither REDIS_URL nor REDIS_SENTINELS was set: main starts a private redis-server with its data here. */
  embeddedRedis?: { dataDir: string };
  /** REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS: replicas that must hold an acknowledged write. */
  redisWait: { replicas: number; timeoutMs: number };
  /** REDIS_STARTUP_TIMEOUT_MS: Redis still silent after this at start stops the process. */
  redisStartupTimeoutMs: number;
  redisPrefix: string;
  ingestApiKey: string;
  /** JIRA_* env: incident tickets when set together with incidents.jira. */
  jira?: { baseUrl: string; email: string; apiToken: string; webhookSecret?: string };
  logLevel: Env['LOG_LEVEL'];
  awsRegion?: string;
  configPath: string;
};

/** Lifetimes of the undo records (rec:* keys), live and once undone. */
export function recordLifetimes(config: Pick<Config, 'retentionDays' | 'undoRecordDays'>): { liveSeconds: number; retiredSeconds: number } {
  return { liveSeconds: config.undoRecordDays * 86400, retiredSeconds: config.retentionDays * 86400 };
}

/** Every problem found, so an operator fixes them in one go instead of one restart per typo. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`ir-bot cannot start; fix these settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function formatPath(path: PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

function describeIssues(where: string, issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = formatPath(issue.path);
    return `${where}${path ? ` ${path}` : ''}: ${issue.message}`;
  });
}

type ReadFile = (path: string) => string;

/** Validates env and the YAML file together; throws ConfigError listing every problem. */
export function loadConfig(rawEnv: NodeJS.ProcessEnv, readFile: ReadFile = (p) => readFileSync(p, 'utf8')): Config {
  // `NAME=` in a .env file (as .env.example leaves the optional ones) means "not set".
  const env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== '')) as NodeJS.ProcessEnv;
  const problems: string[] = [];
  const envResult = envSchema.safeParse(env);
  if (!envResult.success) problems.push(...describeIssues('env', envResult.error.issues));
  problems.push(...envModeProblems(env).map((p) => `env ${p.path}: ${p.message}`));

  let file: FileConfig | undefined;
  const configPath = env.IR_CONFIG;
  if (configPath) {
    const where = `config file ${configPath}`;
    let text: string | undefined;
    try {
      text = readFile(configPath);
    } catch (err) {
      problems.push(`${where}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (text !== undefined) {
      const doc = parseDocument(text);
      if (doc.errors.length > 0) {
        problems.push(...doc.errors.map((e) => `${where}: YAML ${e.message.split('\n')[0]}`));
      } else {
        const fileResult = fileSchema.safeParse(doc.toJS() ?? {});
        if (fileResult.success) {
          file = fileResult.data;
          problems.push(...policyProblems(file).map((p) => `${where} ${p}`));
        }
        else problems.push(...describeIssues(where, fileResult.error.issues));
      }
    }
  }

  let redisTlsCa: string | undefined;
  if (env.REDIS_TLS_CA_FILE) {
    try {
      redisTlsCa = readFile(env.REDIS_TLS_CA_FILE);
    } catch (err) {
      problems.push(`env REDIS_TLS_CA_FILE: ${env.REDIS_TLS_CA_FILE} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (env.REDIS_URL && !env.REDIS_URL.startsWith('rediss://')) problems.push('env REDIS_TLS_CA_FILE: only used with a rediss:// REDIS_URL');
    if (env.REDIS_SENTINELS && env.REDIS_TLS !== 'true') problems.push('env REDIS_TLS_CA_FILE: only used with REDIS_TLS=true in Sentinel mode');
  }
  if (problems.length > 0 || !envResult.success || !file) throw new ConfigError(problems);
  const e = envResult.data;
  return {
    ...file,
    slackApp: {
      botToken: e.SLACK_BOT_TOKEN,
      signingSecret: e.SLACK_SIGNING_SECRET,
      appToken: e.SLACK_APP_TOKEN,
      mode: e.SLACK_MODE ?? (e.SLACK_APP_TOKEN ? 'socket' : 'http'),
      apiUrl: e.SLACK_API_URL,
    },
    port: e.PORT,
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST, token: e.METRICS_TOKEN },
    redis: e.REDIS_SENTINELS
      ? {
          kind: 'sentinel',
          sentinels: parseSentinels(e.REDIS_SENTINELS),
          master: e.REDIS_SENTINEL_MASTER!,
          username: e.REDIS_USERNAME,
          password: e.REDIS_PASSWORD,
          sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
          tls: e.REDIS_TLS ? { ca: redisTlsCa } : undefined,
        }
      : { kind: 'url', url: e.REDIS_URL ?? '', tlsCa: redisTlsCa },
    embeddedRedis: e.REDIS_URL || e.REDIS_SENTINELS ? undefined : { dataDir: e.REDIS_DATA_DIR },
    redisWait: { replicas: e.REDIS_WAIT_REPLICAS, timeoutMs: e.REDIS_WAIT_TIMEOUT_MS },
    redisStartupTimeoutMs: e.REDIS_STARTUP_TIMEOUT_MS,
    redisPrefix: e.REDIS_PREFIX,
    ingestApiKey: e.INGEST_API_KEY,
    jira: e.JIRA_BASE_URL && e.JIRA_EMAIL && e.JIRA_API_TOKEN ? { baseUrl: e.JIRA_BASE_URL.replace(/\/+$/, ''), email: e.JIRA_EMAIL, apiToken: e.JIRA_API_TOKEN, webhookSecret: e.JIRA_WEBHOOK_SECRET } : undefined,
    logLevel: e.LOG_LEVEL,
    awsRegion: e.AWS_REGION,
    configPath: e.IR_CONFIG,
  };
}

/** The entry points' first step: the config, or the list of its problems on stderr and an exit. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv, exitCode = 1): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(exitCode);
    }
    throw err;
  }
}

import { ErrorCode, WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import { parseDocument } from 'yaml';
import { ioredisArgs, type RedisEndpoint } from '../redis';

/**
 * A start-up failure an operator fixes by changing one setting: its message is one line naming
 * the setting (never a secret), so it is printed as is, without a stack trace.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(`ir-bot cannot start: ${message}`);
    this.name = 'StartupError';
  }
}

/** Host (and port) of a URL, never its credentials; the raw text's scheme and host when it does not parse. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url.replace(/^[a-z]+:\/\//i, '').replace(/^[^@/]*@/, '').split('/')[0];
  }
}

/** The network reason under a fetch or socket error: `ENOTFOUND`, `ECONNREFUSED`, … or its message. */
function networkReason(err: unknown): string {
  let e = err as { code?: unknown; cause?: unknown; message?: string } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code)) return e.code;
    e = e.cause as typeof e;
  }
  return (err as Error)?.message ?? String(err);
}

const SLACK_API = 'https://slack.com/api/';

/** auth.test with SLACK_BOT_TOKEN, once and without retries: a refused token or an unreachable Slack stops start-up. */
export async function checkSlackToken(token: string, apiUrl: string | undefined, timeoutMs = 10_000): Promise<void> {
  const host = hostOf(apiUrl ?? SLACK_API);
  const client = new WebClient(token, { slackApiUrl: apiUrl, retryConfig: { retries: 0 }, timeout: timeoutMs, logger: SILENT });
  try {
    await client.auth.test();
  } catch (err) {
    throw slackStartupError(err, 'SLACK_BOT_TOKEN', 'auth.test', host);
  }
}

/** The one line for a Slack call that failed at start: a refused token names its variable; a network failure names the host. */
export function slackStartupError(err: unknown, variable: string, method: string, host: string): StartupError {
  const e = err as { code?: string; data?: { error?: string }; statusCode?: number };
  if (e?.code === ErrorCode.PlatformError) {
    const fix =
      variable === 'SLACK_APP_TOKEN'
        ? "generate an app-level token (xapp-…) with connections:write under your app's Basic Information"
        : "copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page, and reinstall the app if it was revoked";
    return new StartupError(`Slack refused ${variable} (${method}: ${e.data?.error ?? 'not ok'}); ${fix}`);
  }
  if (e?.code === ErrorCode.HTTPError) return new StartupError(`Slack at ${host} answered HTTP ${e.statusCode} to ${method}; check SLACK_API_URL or try again later`);
  return new StartupError(`cannot reach Slack at ${host} (${method}: ${networkReason(err)}); check the network, proxy and SLACK_API_URL`);
}

/** Where a Redis endpoint is, for a message: host and port only, never a password. */
export function describeRedis(endpoint: RedisEndpoint): { where: string; variable: string } {
  if (endpoint.kind === 'url') return { where: hostOf(endpoint.url), variable: 'REDIS_URL' };
  return { where: `master "${endpoint.master}" via sentinels ${endpoint.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`, variable: 'REDIS_SENTINELS' };
}

/**
 * Redis must answer within `timeoutMs` at start. Without this the bot would listen, refuse every
 * request with 503 and its workers would log a reconnect error many times a second, forever.
 */
export async function checkRedis(endpoint: RedisEndpoint, timeoutMs: number): Promise<void> {
  const args = ioredisArgs(endpoint, 'producer');
  const probe = { lazyConnect: true, maxRetriesPerRequest: 1 };
  const conn = args.length === 2 ? new Redis(args[0], { ...args[1], ...probe }) : new Redis({ ...args[0], ...probe });
  let lastError = '';
  conn.on('error', (err: Error) => {
    lastError = networkReason(err);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = new Promise<void>((resolve) => conn.once('ready', () => resolve()));
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    conn.connect().catch(() => undefined);
    if ((await Promise.race([ready, timeout])) === 'timeout') {
      const { where, variable } = describeRedis(endpoint);
      const seconds = Math.round(timeoutMs / 100) / 10;
      throw new StartupError(`Redis at ${where} did not answer within ${seconds} s (${lastError || 'no answer'}); check ${variable} and that Redis is running and reachable`);
    }
  } finally {
    clearTimeout(timer);
    conn.disconnect();
  }
}

/** Values in .env.example that are placeholders, not defaults (PORT=3000 is fine to keep). */
const PLACEHOLDER_VALUE = /replace/i;
/** Example Slack ids (C01ALERTS, U01ANA, S01SOC) and example resource names in the example config. */
const EXAMPLE_CONFIG_VALUE = /^[CGUSW][A-Z0-9]{5,}$|example/i;

function envExampleValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.+)$/.exec(line.trim());
    if (m && PLACEHOLDER_VALUE.test(m[2])) out.set(m[1], m[2]);
  }
  return out;
}

function leaves(value: unknown, path: string, out: [string, string][]): [string, string][] {
  if (Array.isArray(value)) value.forEach((v, i) => leaves(v, `${path}[${i}]`, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out);
  else if (typeof value === 'string') out.push([path, value]);
  return out;
}

/**
 * Settings still as in `.env.example` (the `replace-me` values) or the example config (its
 * channel and user ids, its example bucket names), as one warning line, or undefined when none
 * is. A warning, not a refusal: the demo and a first try run on the example config on purpose.
 */
export function placeholderWarning(
  env: NodeJS.ProcessEnv,
  examples: { envExample?: string; configExample?: string; configText?: string; configPath?: string },
): string | undefined {
  const envNames = examples.envExample ? [...envExampleValues(examples.envExample)].filter(([k, v]) => env[k] === v).map(([k]) => k) : [];
  let configHits: string[] = [];
  if (examples.configExample && examples.configText) {
    const exampleValues = new Set(leaves(parseDocument(examples.configExample).toJS(), '', []).map(([, v]) => v).filter((v) => EXAMPLE_CONFIG_VALUE.test(v)));
    configHits = leaves(parseDocument(examples.configText).toJS(), '', [])
      .filter(([, v]) => exampleValues.has(v))
      .map(([p, v]) => `${p} ${v}`);
  }
  const parts: string[] = [];
  if (envNames.length) parts.push(`${envNames.join(', ')} (as in .env.example)`);
  if (configHits.length) parts.push(`${configHits.join(', ')} (as in the example config${examples.configPath ? `, in ${examples.configPath}` : ''})`);
  return parts.length ? `settings still hold example values; replace them with your own: ${parts.join('; ')}` : undefined;
}

const SILENT = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => 'error' as never,
  setName: () => undefined,
};

import { LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from '../log';

/** Bolt and the Web API client log through this, so their lines land in our JSON stream. */
export function slackLogger(log: Logger): SlackLogger {
  let level = LogLevel.INFO;
  return {
    debug: (...m: unknown[]) => log.debug({ slack: true }, m.map(String).join(' ')),
    info: (...m: unknown[]) => log.info({ slack: true }, m.map(String).join(' ')),
    warn: (...m: unknown[]) => log.warn({ slack: true }, m.map(String).join(' ')),
    error: (...m: unknown[]) => log.error({ slack: true }, m.map(String).join(' ')),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** The host the Web API client talks to: Slack's, or SLACK_API_URL's. */
export function slackHost(apiUrl: string | undefined): string {
  try {
    return new URL(apiUrl ?? 'https://slack.com/api/').host;
  } catch {
    return String(apiUrl);
  }
}

/**
 * Workers talk to Slack through this client: no in-process retries and 429s rejected at once, so
 * a rate-limited post becomes a delayed job in Redis (survives a crash) rather than a sleeping promise.
 */
export function workerWebClient(token: string, apiUrl: string | undefined, log: Logger): WebClient {
  return new WebClient(token, {
    slackApiUrl: apiUrl,
    // The host in every line: "http request failed fetch failed" alone does not say where to look.
    logger: slackLogger(log.child({ component: 'slack-web', service: 'slack', host: slackHost(apiUrl) })),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
  });
}

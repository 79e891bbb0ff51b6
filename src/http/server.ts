import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { sendJson } from './io';

export type HealthCheck = () => Promise<Record<string, string>>;

export interface HttpDeps {
  log: Logger;
  metrics: Metrics;
  /** Each check answers 'ok' or the problem. */
  health: Record<string, () => Promise<string>>;
  awsEvents?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  slackEvents?: RequestListener;
  /** POST /jira/webhook (incident tickets); checks its own signature. */
  jiraWebhook?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /**
   * Bearer token that unlocks /metrics and the detail of /healthz on this server. Without it the
   * public server serves no metrics (they are on the loopback metrics port) and /healthz says
   * only ok or not.
   */
  metricsToken?: string;
  /** The loopback metrics server: metrics and health detail for whoever can reach it. */
  trusted?: boolean;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function bearerMatches(req: IncomingMessage, token: string | undefined): boolean {
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  return Boolean(token && given && timingSafeEqual(digest(given), digest(token)));
}

async function runChecks(checks: HttpDeps['health']): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        return [name, await check()] as const;
      } catch (err) {
        return [name, (err as Error).message || 'failed'] as const;
      }
    }),
  );
  return Object.fromEntries(entries);
}

/** One server for Slack (HTTP mode), EventBridge and health; metrics only to a trusted caller. */
export function createHttpServer(deps: HttpDeps): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const trusted = () => deps.trusted === true || bearerMatches(req, deps.metricsToken);
    const handle = async () => {
      if (path === '/slack/events' && deps.slackEvents) return deps.slackEvents(req, res);
      if (path === '/aws/events' && deps.awsEvents) {
        if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
        return deps.awsEvents(req, res);
      }
      if (path === '/jira/webhook' && deps.jiraWebhook) return deps.jiraWebhook(req, res);
      if (path === '/healthz' && req.method === 'GET') {
        const checks = await runChecks(deps.health);
        const ok = Object.values(checks).every((v) => v === 'ok');
        // What failed (and how) is for operators: an anonymous caller learns only ok or not.
        return sendJson(res, ok ? 200 : 503, trusted() ? { status: ok ? 'ok' : 'degraded', checks } : { status: ok ? 'ok' : 'degraded' });
      }
      if (path === '/metrics' && req.method === 'GET') {
        if (!trusted()) {
          if (deps.metricsToken) return sendJson(res, 401, { error: 'metrics need the bearer token' }, { 'www-authenticate': 'Bearer' });
          return sendJson(res, 404, { error: 'metrics are served on the metrics port (METRICS_PORT, loopback by default)' });
        }
        const text = await deps.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        res.end(text);
        return;
      }
      sendJson(res, 404, { error: `no route for ${req.method} ${path}` });
    };
    handle().catch((err: Error) => {
      deps.log.error({ err: err.message, path }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
}

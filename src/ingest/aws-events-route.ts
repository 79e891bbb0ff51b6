import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseEvents, type CustomActionEvent } from '../findings/events';
import { BodyTooLarge, readBody, sendJson } from '../http/io';
import { jsonShapeProblem } from './json-shape';
import type { Finding } from '../findings/model';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { ReplicaMark } from '../redis';

export interface AwsEventsDeps {
  apiKey: string;
  maxBodyBytes: number;
  maxEventsPerRequest: number;
  maxFindingsPerRequest: number;
  maxJsonDepth: number;
  maxJsonNodes: number;
  /** Stores, dedupes and groups one finding and queues its card render (durable in Redis on return). */
  intake: (finding: Finding) => Promise<{ channel: string }>;
  /**
   * A Security Hub custom action on findings already taken in: makes the requests its name is
   * mapped to. Its answer goes back to the sender as is.
   */
  customAction?: (event: CustomActionEvent, findings: { finding: Finding; channel: string }[]) => Promise<unknown>;
  /**
   * REDIS_WAIT_REPLICAS: a mark taken before the findings are written, confirmed after. Not
   * confirmed: the findings may be on the primary only, where a failover could lose them, so the
   * sender is asked to retry (the retry is deduplicated) rather than told they were taken.
   */
  replicaMark?: () => ReplicaMark;
  metrics: Metrics;
  log: Logger;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * POST /aws/events — the EventBridge API destination. A 202 goes out only after every accepted
 * finding is stored on its card in Redis with its render queued (and, with REDIS_WAIT_REPLICAS,
 * held by that many replicas); if Redis is unreachable the sender gets a 503 and retries.
 */
export function awsEventsRoute(deps: AwsEventsDeps) {
  const expected = digest(deps.apiKey);
  const keyMatches = (given: string | string[] | undefined) =>
    typeof given === 'string' && timingSafeEqual(digest(given), expected);

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const end = deps.metrics.ingestLatency.startTimer();
    const reply = (status: number, body: unknown, headers?: Record<string, string>) => {
      sendJson(res, status, body, headers);
      end({ status: String(status) });
    };
    if (!keyMatches(req.headers['x-api-key'])) {
      req.resume();
      return reply(401, { error: 'missing or wrong x-api-key header' });
    }
    const declared = Number(req.headers['content-length']);
    if (declared > deps.maxBodyBytes) {
      req.resume();
      return reply(413, { error: `body of ${declared} bytes is over the ${deps.maxBodyBytes}-byte limit` }, { connection: 'close' });
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, deps.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) return reply(413, { error: `body is over the ${deps.maxBodyBytes}-byte limit` }, { connection: 'close' });
      throw err;
    }
    const shape = jsonShapeProblem(raw, { maxDepth: deps.maxJsonDepth, maxNodes: deps.maxJsonNodes });
    if (shape) return reply(413, { error: `${shape}: send fewer findings per request` }, { connection: 'close' });
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return reply(400, { error: `invalid JSON: ${(err as Error).message}` });
    }
    const parsed = parseEvents(body, deps.maxEventsPerRequest, deps.maxFindingsPerRequest);
    if ('error' in parsed) return reply(400, { error: parsed.error });
    deps.metrics.findingsRejected.inc(parsed.rejectedCount);
    const rejections = { rejected: parsed.rejected, ...(parsed.rejectedCount > parsed.rejected.length ? { rejectedCount: parsed.rejectedCount } : {}) };
    if (parsed.findings.length === 0) {
      return reply(400, { error: 'no finding accepted', ...rejections });
    }
    const customActions: unknown[] = [];
    const written = deps.replicaMark?.();
    try {
      // Grouped right here rather than through a queue hop: one atomic Lua step stores the finding
      // on its card (as durable as a queued job), then the render is queued.
      const taken = await Promise.all(parsed.findings.map(async (f) => ({ finding: f, channel: (await deps.intake(f)).channel })));
      const byKey = new Map(taken.map((t) => [t.finding.key, t]));
      // A retry after a 503 here is harmless: the findings dedupe and an open request is joined.
      for (const ca of deps.customAction ? parsed.customActions : []) {
        customActions.push(await deps.customAction!(ca, ca.findingKeys.map((k) => byKey.get(k)!)));
      }
      if (written && !(await written.confirm())) {
        deps.log.warn({ findings: parsed.findings.length }, 'findings stored but not confirmed on a replica in time; answering 503 so the sender retries');
        return reply(503, { error: 'stored, but not yet confirmed on a replica; retry later (a retry is deduplicated)' }, { 'retry-after': '5' });
      }
    } catch (err) {
      deps.log.error({ err: (err as Error).message }, 'could not queue findings; answering 503 so the sender retries');
      return reply(503, { error: 'queue unavailable; nothing was accepted, retry later' }, { 'retry-after': '5' });
    }
    deps.metrics.findingsReceived.inc({ via: 'eventbridge' }, parsed.findings.length);
    return reply(202, {
      accepted: parsed.findings.map((f) => ({ id: f.id, key: f.key, type: f.type, severity: f.severity, ...(f.notes ? { notes: f.notes } : {}) })),
      ...rejections,
      ...(customActions.length > 0 ? { customActions } : {}),
    });
  };
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/load';
import { BodyTooLarge, readBody, sendJson } from '../http/io';
import type { Logger } from '../log';
import { IncidentError, type IncidentService } from './service';
import { INCIDENT_STATUSES } from './store';

const MAX_BODY = 512 * 1024;

/** Jira Cloud signs a webhook that has a secret: X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>. */
export function jiraSignatureValid(secret: string, body: Buffer, header: string | undefined): boolean {
  const given = /^sha256=([0-9a-f]{64})$/i.exec(header ?? '')?.[1];
  if (!given) return false;
  const want = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(want, Buffer.from(given, 'hex'));
}

interface IssueUpdated {
  webhookEvent?: string;
  user?: { displayName?: string };
  issue?: { key?: string };
  changelog?: { items?: { field?: string; fromString?: string; toString?: string }[] };
}

/**
 * POST /jira/webhook: a status change of an incident's issue goes on its timeline and into its
 * channel, and moves the incident when `incidents.jira.fromJira` maps that Jira status. A request
 * without a valid signature is refused (401) before anything is read from it.
 */
export function jiraWebhookRoute(deps: { secret: string; incidents: IncidentService; config: Config['incidents']; log: Logger }) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY);
    } catch (err) {
      if (err instanceof BodyTooLarge) return sendJson(res, 413, { error: 'too large' });
      throw err;
    }
    const sig = req.headers['x-hub-signature'];
    if (!jiraSignatureValid(deps.secret, body, Array.isArray(sig) ? sig[0] : sig)) return sendJson(res, 401, { error: 'bad or missing X-Hub-Signature' });
    let event: IssueUpdated;
    try {
      event = JSON.parse(body.toString('utf8')) as IssueUpdated;
    } catch {
      return sendJson(res, 400, { error: 'body is not JSON' });
    }
    const key = event.issue?.key;
    const change = event.changelog?.items?.find((x) => x.field === 'status');
    const id = key && change ? await deps.incidents.store.ofTicket(key) : undefined;
    if (!id || !change) return sendJson(res, 202, { ignored: 'not a status change of an incident issue' });
    const who = event.user?.displayName ?? 'someone';
    await deps.incidents.record(id, { at: Date.now(), kind: 'status', text: `Jira ${key}: ${change.fromString ?? '?'} → ${change.toString ?? '?'} (by ${who} in Jira)`.slice(0, 500) }, true);
    const mapped = deps.config.jira?.fromJira[change.toString ?? ''];
    if (mapped && INCIDENT_STATUSES.includes(mapped)) {
      try {
        await deps.incidents.setStatus(id, mapped, 'system');
      } catch (err) {
        if (!(err instanceof IncidentError)) throw err;
        deps.log.info({ incident: id, err: err.message }, 'Jira status not applied');
      }
    }
    return sendJson(res, 202, { incident: id });
  };
}

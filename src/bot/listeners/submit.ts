import type { Logger } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { SubmitInput } from '../../requests/service';
import { mention } from '../../views/request-status';
import type { Actor } from '../authz';
import type { BotDeps } from '../deps';
import { QUEUE_DOWN } from './reply';

/**
 * Authorize, then store and queue. Returns what the user should be told privately, or nothing
 * when the status message in the thread says it all.
 */
export async function submitRequest(deps: BotDeps, client: WebClient, logger: Logger, input: SubmitInput, opts: { confirm?: boolean; actor: Actor }): Promise<string | undefined> {
  const { requests, authz } = deps;
  try {
    const allowed = await authz.check(opts.actor, 'responders', client);
    if (!allowed.ok) {
      await requests.refused('refused-requester', input.userId, { action: input.action, target: input.target });
      return `:no_entry: *${input.action}* refused. ${allowed.reason} Nothing was queued.`;
    }
    const res = await requests.submit(input);
    if (res.status === 'refused') return `:no_entry: ${res.message}`;
    const r = res.request;
    if (res.status === 'joined') {
      return `*${r.action}* of \`${r.target}\` is already in progress as \`${r.id}\` (${r.state}, asked by ${mention(r.requestedBy)}). Follow it in its thread; nothing new was queued.`;
    }
    if (res.unconfirmed) {
      return `Queued *${r.action}* of \`${r.target}\` as \`${r.id}\`, but Redis could not yet confirm a replica holds it: if Redis fails over in the next moments it may be lost. If the thread shows nothing within a minute, ask again (asking again while it exists joins it).`;
    }
    return opts.confirm ? `Queued *${r.action}* of \`${r.target}\` as \`${r.id}\`: the plan${r.needsApproval ? ' and approval buttons' : ''} will appear in the thread.` : undefined;
  } catch (err) {
    logger.error(`could not queue a request: ${(err as Error).message}`);
    return QUEUE_DOWN;
  }
}

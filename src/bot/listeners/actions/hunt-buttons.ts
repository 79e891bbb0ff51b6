import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { huntTarget } from '../../../hunts/templates';
import { decodeDecision, decodePivot } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { QUEUE_DOWN, tellUser, whereOf } from '../reply';
import { submitRequest } from '../submit';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** Cancel on a running hunt: responders only; the job stops the query. */
export function huntCancelButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const w = whereOf(body);
    const p = decodeDecision((body.actions[0] as ButtonAction | undefined)?.value);
    if (!p) return tellUser(client, logger, w, 'That button carries no valid hunt reference.');
    try {
      const allowed = await deps.authz.check(actorOf(body), 'responders', client);
      if (!allowed.ok) return tellUser(client, logger, w, `:no_entry: Only responders may cancel a hunt. ${allowed.reason}`);
      await tellUser(client, logger, w, await deps.requests.cancelHunt(p.q, body.user.id));
    } catch {
      await tellUser(client, logger, w, QUEUE_DOWN);
    }
  };
}

/** A value in a hunt's results: hunt further on it, or act on it. */
export function pivotButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const w = whereOf(body);
    const p = decodePivot((body.actions[0] as ButtonAction | undefined)?.value);
    if (!p) return tellUser(client, logger, w, 'That button carries no valid value.');
    const base = { channel: w.channel ?? '', threadTs: w.threadTs, userId: body.user.id };
    const next =
      p.kind === 'principal'
        ? { action: 'hunt' as const, target: huntTarget('principal-calls', { principal: p.value }) }
        : p.kind === 'ip'
          ? { action: 'hunt' as const, target: huntTarget('ip-principals', { ip: p.value }) }
          : p.kind === 'accessKey'
            ? { action: 'disable-key' as const, target: p.value }
            : p.kind === 'deny'
              ? { action: 'deny-principal' as const, target: p.value }
              : { action: 'isolate' as const, target: p.value };
    const reply = await submitRequest(deps, client, logger, { ...base, ...next, targets: [next.target] }, { actor: actorOf(body) });
    if (reply) await tellUser(client, logger, w, reply);
  };
}

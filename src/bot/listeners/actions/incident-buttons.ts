import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { INCIDENT_ID_PATTERN } from '../../../incidents/store';
import { catchupText, label } from '../../../incidents/view';
import { decodeFindingKey } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { NO_FINDING_REFERENCE, QUEUE_DOWN, tellUser, whereOf } from '../reply';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** "Declare incident" on a card: responders only; a card already in an incident says which. */
export function declareButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const key = decodeFindingKey((body.actions[0] as ButtonAction | undefined)?.value);
    const where = whereOf(body);
    const { channel, threadTs } = where;
    if (!key || !channel || !deps.incidents) return tellUser(client, logger, where, NO_FINDING_REFERENCE);
    try {
      const allowed = await deps.authz.check(actorOf(body), 'responders', client);
      if (!allowed.ok) return tellUser(client, logger, where, `:no_entry: ${allowed.reason} No incident was declared.`);
      const { incident, created } = await deps.incidents.declare({ findingKey: key, user: body.user.id, origin: { channel, threadTs } });
      return tellUser(client, logger, where, created ? `:rotating_light: *${label(incident)}* declared; its channel is being set up. You are the commander.` : `This card is already part of *${label(incident)}*${incident.channel ? `: <#${incident.channel}>` : ''}.`);
    } catch (err) {
      logger.error(`could not declare an incident: ${(err as Error).message}`);
      return tellUser(client, logger, where, QUEUE_DOWN.replace('queue the request', 'declare the incident'));
    }
  };
}

/** "Catch me up", offered to whoever joins an incident channel: the catch-up, only to them. */
export function catchupButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const id = (body.actions[0] as ButtonAction | undefined)?.value ?? '';
    const channel = body.channel?.id ?? body.container?.channel_id;
    const where = { channel, user: body.user.id };
    if (!INCIDENT_ID_PATTERN.test(id) || !deps.incidents) return tellUser(client, logger, where, 'That button names no incident.');
    const allowed = await deps.authz.checkReader(actorOf(body), client).catch(() => ({ ok: false as const, reason: 'Your access could not be checked right now.' }));
    if (!allowed.ok) return tellUser(client, logger, where, `:no_entry: ${allowed.reason}`);
    const facts = await deps.incidents.facts(id).catch(() => undefined);
    return tellUser(client, logger, where, facts ? catchupText(facts) : `No incident \`${id}\` is known.`);
  };
}

import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { CATCHUP_ACTION_ID, label } from '../../../incidents/view';
import type { BotDeps } from '../../deps';

/** Whoever joins an incident channel is offered the catch-up, privately. */
export function memberJoined(deps: BotDeps) {
  return async ({ event, client, logger, context }: SlackEventMiddlewareArgs<'member_joined_channel'> & AllMiddlewareArgs): Promise<void> => {
    if (!deps.incidents || event.user === context.botUserId) return;
    const incident = await deps.incidents.ofChannel(event.channel).catch(() => undefined);
    if (!incident) return;
    const text = `Welcome to *${label(incident)}* (${incident.status}). Catch up on what happened, what is contained and who leads:`;
    try {
      await client.chat.postEphemeral({
        channel: event.channel,
        user: event.user,
        text,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text } },
          { type: 'actions', elements: [{ type: 'button', action_id: CATCHUP_ACTION_ID, text: { type: 'plain_text', text: 'Catch me up' }, value: incident.id }] },
        ],
      });
    } catch (err) {
      logger.warn(`could not offer the catch-up: ${(err as Error).message}`);
    }
  };
}

/** The configured reaction by the commander or scribe on a message in the incident channel puts it on the timeline. */
export function reactionAdded(deps: BotDeps) {
  return async ({ event, client, logger }: SlackEventMiddlewareArgs<'reaction_added'> & AllMiddlewareArgs): Promise<void> => {
    if (!deps.incidents || event.reaction !== (deps.incidentConfig?.timelineReaction ?? 'pushpin') || event.item.type !== 'message') return;
    const incident = await deps.incidents.ofChannel(event.item.channel).catch(() => undefined);
    if (!incident || (event.user !== incident.commander && event.user !== incident.scribe)) return;
    try {
      const res = await client.conversations.history({ channel: event.item.channel, latest: event.item.ts, inclusive: true, limit: 1 });
      const msg = res.messages?.find((m) => m.ts === event.item.ts);
      if (!msg) return;
      await deps.incidents.note(incident.id, `marked message${msg.user ? ` from <@${msg.user}>` : ''}: ${msg.text ?? ''}`, event.user, Math.round(Number(event.item.ts) * 1000));
    } catch (err) {
      logger.warn(`could not put a marked message on the timeline: ${(err as Error).message}`);
    }
  };
}

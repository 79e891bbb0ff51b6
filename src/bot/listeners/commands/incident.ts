import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { IncidentError, type IncidentService } from '../../../incidents/service';
import { INCIDENT_ID_PATTERN, INCIDENT_STATUSES, type Incident, type IncidentStatus } from '../../../incidents/store';
import { catchupText, label, statsText, timelineText } from '../../../incidents/view';
import type { BotDeps } from '../../deps';
import { commandActor } from '../actor';
import { QUEUE_DOWN } from '../reply';

type Args = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/** The `/ir` verbs this file answers. */
export const INCIDENT_VERBS = ['incident', 'note', 'timeline', 'catchup', 'stats'] as const;

export const INCIDENT_HELP = [
  '`/ir incident declare [finding-id] [title]` — declare an incident: a channel, the people, a pinned summary',
  '`/ir incident add <finding-id>` — join (or move) a card to this incident · `lead @user` · `scribe @user`',
  '`/ir incident status contained|eradicated|recovered` · `/ir incident close` (commander or approver)',
  '`/ir note <text>` · `/ir timeline` · `/ir catchup` — in the incident channel (or name it: `inc-7`)',
  '`/ir stats [days]` — median and p90 response times of declared incidents',
];

const USER_MENTION = /^<@([UW][A-Z0-9]+)(\|[^>]*)?>$/;

class Refusal extends Error {}

/** The incident a command is about: named (`inc-7`) anywhere in it, else the incident channel it was typed in. */
async function which(incidents: IncidentService, words: string[], channel: string): Promise<{ incident: Incident; rest: string[] }> {
  const named = words.find((w) => INCIDENT_ID_PATTERN.test(w.toLowerCase()));
  const rest = words.filter((w) => w !== named);
  const incident = named ? await incidents.store.get(named.toLowerCase()) : await incidents.ofChannel(channel);
  if (!incident) throw new Refusal(named ? `No incident \`${named.slice(0, 20)}\` is known.` : 'This is not an incident channel: run it there, or name the incident (e.g. `inc-7`).');
  return { incident, rest };
}

async function allowed(deps: BotDeps, client: WebClient, actor: ReturnType<typeof commandActor>, role: 'responders' | 'approvers' | 'readers'): Promise<boolean> {
  const d = role === 'readers' ? await deps.authz.checkReader(actor, client) : await deps.authz.check(actor, role, client);
  return d.ok;
}

async function answer(deps: BotDeps, incidents: IncidentService, args: Args, verb: string, words: string[]): Promise<string> {
  const { command, client } = args;
  const actor = commandActor(command);
  const user = command.user_id;
  const reading = verb === 'timeline' || verb === 'catchup' || verb === 'stats';
  if (!(await allowed(deps, client, actor, reading ? 'readers' : 'responders')) && !(verb === 'incident' && words[0] === 'close')) {
    return `:no_entry: Only ${reading ? 'responders and approvers' : 'responders'} may use \`/ir ${verb}\`.`;
  }
  if (verb === 'stats') {
    const days = Number(words[0] ?? 30);
    if (!Number.isInteger(days) || days < 1 || days > 365) return '`/ir stats [days]` takes a whole number of days from 1 to 365.';
    return statsText(await incidents.store.declaredSince(Date.now() - days * 86_400_000), days);
  }
  if (verb === 'incident' && words[0]?.toLowerCase() === 'declare') {
    const [maybeId, ...title] = words.slice(1);
    const findingKey = maybeId ? await incidents.findingKeyOf(maybeId) : undefined;
    const { incident, created } = await incidents.declare({ title: (findingKey ? title : words.slice(1)).join(' '), findingKey, user, origin: { channel: command.channel_id } });
    return created ? `:rotating_light: *${label(incident)}* declared; its channel is being set up. You are the commander (\`/ir incident lead @someone\` hands it over).` : `That card is already part of *${label(incident)}*${incident.channel ? `: <#${incident.channel}>` : ''}.`;
  }
  const { incident, rest } = await which(incidents, verb === 'incident' ? words.slice(1) : words, command.channel_id);
  if (verb === 'timeline') return timelineText((await incidents.facts(incident.id))!);
  if (verb === 'catchup') return catchupText((await incidents.facts(incident.id))!);
  if (verb === 'note') {
    if (!rest.length) return '`/ir note <text>` needs the text to put on the timeline.';
    await incidents.note(incident.id, rest.join(' '), user);
    return `Noted on the ${label(incident)} timeline.`;
  }
  const sub = words[0]?.toLowerCase();
  if (sub === 'lead' || sub === 'scribe') {
    const who = USER_MENTION.exec(rest[0] ?? '')?.[1] ?? (/^[UW][A-Z0-9]{2,}$/.test(rest[0] ?? '') ? rest[0] : undefined);
    if (!who) return `\`/ir incident ${sub} @user\` needs a person (type @ and pick them).`;
    await incidents.setRole(incident.id, sub === 'lead' ? 'commander' : 'scribe', who, user);
    return `<@${who}> is now ${sub === 'lead' ? 'incident commander' : 'scribe'} of ${label(incident)}.`;
  }
  if (sub === 'status') {
    const status = rest[0]?.toLowerCase() as IncidentStatus | undefined;
    if (!status || !INCIDENT_STATUSES.includes(status) || status === 'closed') return `\`/ir incident status\` takes one of ${INCIDENT_STATUSES.filter((s) => s !== 'closed').join(', ')} (close with \`/ir incident close\`).`;
    await incidents.setStatus(incident.id, status, user);
    return `${label(incident)} is now *${status}*.`;
  }
  if (sub === 'close') {
    await incidents.close(incident.id, user, await allowed(deps, client, actor, 'approvers'));
    return `${label(incident)} is closed; the report is being posted.`;
  }
  if (sub === 'add' || sub === 'move') {
    const key = rest[0] ? await incidents.findingKeyOf(rest[0]) : undefined;
    if (!key) return `\`/ir incident ${sub} <finding-id>\` needs a finding ir-bot knows${rest[0] ? `; \`${rest[0].slice(0, 80)}\` is not one` : ''}.`;
    const { movedFrom } = await incidents.addCard(incident.id, key, user);
    return `The card joined ${label(incident)}${movedFrom ? ` (moved from ${movedFrom})` : ''}.`;
  }
  return `Unknown \`/ir incident\` command. ${INCIDENT_HELP.join('\n')}`;
}

/** `/ir incident …`, `/ir note`, `/ir timeline`, `/ir catchup`, `/ir stats`: acknowledged first, answered privately. */
export async function incidentCommand(deps: BotDeps, args: Args, verb: string, words: string[]): Promise<void> {
  await args.ack();
  let text: string;
  if (!deps.incidents) {
    text = 'Incidents are not set up in this ir-bot.';
  } else {
    try {
      text = await answer(deps, deps.incidents, args, verb, words);
    } catch (err) {
      if (err instanceof IncidentError || err instanceof Refusal) text = `:warning: ${err.message}`;
      else {
        args.logger.error(`incident command failed: ${(err as Error).message}`);
        text = QUEUE_DOWN.replace('queue the request', 'record that');
      }
    }
  }
  try {
    await args.respond({ response_type: 'ephemeral', text });
  } catch (err) {
    args.logger.warn(`could not answer /ir ${verb}: ${(err as Error).message}`);
  }
}

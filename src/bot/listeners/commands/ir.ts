import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { CommandError, HELP_TEXT, parseIrCommand, type IrCommand } from '../../commands';
import { renderAuditTrail, renderStatusDetail, renderStatusList } from '../../../views/request-status';
import type { Config } from '../../../config/load';
import { ParamError } from '../../../hunts/params';
import { huntHelp, huntTarget, prepareHunt } from '../../../hunts/templates';
import type { BotDeps } from '../../deps';
import { QUEUE_DOWN } from '../reply';
import { submitRequest } from '../submit';
import { submitPerAccount } from '../submit-bulk';
import { commandActor } from '../actor';
import { INCIDENT_VERBS, incidentCommand } from './incident';
import { autonomyCommand } from './autonomy';

type Args = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/** `/ir hunt`: the list, or a precise reason a hunt's input is refused; undefined when it may run. */
function huntProblem(template: string | undefined, params: Record<string, string>, athena: Config['athena']): string | undefined {
  if (!template) return huntHelp();
  if (!athena) return 'Hunts need the `athena:` section in the config (workgroup, database, output location, tables). Nothing was run.';
  try {
    prepareHunt(template, params, athena);
  } catch (err) {
    if (err instanceof ParamError) return `:warning: ${err.message}. Nothing was run.`;
    throw err;
  }
  return undefined;
}

/**
 * `/ir`. Help and typing mistakes are answered in the acknowledgement itself; everything that
 * touches Redis is acknowledged first and answered through the response URL, so Slack's 3-second
 * deadline never depends on Redis or on a user-group lookup.
 */
export function irCommand(deps: BotDeps) {
  return async (args: Args): Promise<void> => {
    const { ack, command, respond, client, logger } = args;
    const [verb = '', ...words] = (command.text ?? '').trim().split(/\s+/).filter(Boolean);
    if ((INCIDENT_VERBS as readonly string[]).includes(verb.toLowerCase())) return incidentCommand(deps, args, verb.toLowerCase(), words);
    let cmd: IrCommand;
    try {
      cmd = parseIrCommand(command.text ?? '');
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      await ack({ response_type: 'ephemeral', text: `:warning: ${err.message}` });
      return;
    }
    if (cmd.kind === 'help') {
      await ack({ response_type: 'ephemeral', text: HELP_TEXT });
      return;
    }
    if (cmd.kind === 'hunt') {
      const problem = huntProblem(cmd.template, cmd.params, deps.athena);
      if (problem) {
        await ack({ response_type: 'ephemeral', text: problem });
        return;
      }
    }
    await ack();
    let text: string | undefined;
    const actor = commandActor(command);
    const reading = cmd.kind === 'report' || cmd.kind === 'audit' || cmd.kind === 'status' || cmd.kind === 'doctor' || cmd.kind === 'policy' || cmd.kind === 'autonomy';
    const allowed = reading ? await deps.authz.checkReader(actor, client).catch(() => ({ ok: false as const, reason: 'Your access could not be checked right now.' })) : { ok: true as const };
    if (!allowed.ok) {
      await deps.requests.refused('refused-requester', command.user_id, { action: cmd.kind }).catch(() => undefined);
      text = `:no_entry: Only responders and approvers may use \`/ir ${cmd.kind}\`. ${allowed.reason}`;
    } else if (cmd.kind === 'report') {
      try {
        const ok = await deps.requests.report(cmd.findingId, command.user_id, { channel: command.channel_id });
        text = ok ? 'Building the incident report: it will be uploaded to the alert\'s thread.' : `No finding \`${cmd.findingId.slice(0, 80)}\` is known (findings are kept ${'for the retention period'}).`;
      } catch {
        text = QUEUE_DOWN;
      }
    } else if (cmd.kind === 'doctor') {
      try {
        if (!deps.doctor) text = 'The doctor is not available in this process.';
        else {
          await deps.doctor({ channel: command.channel_id, user: command.user_id });
          text = 'Running the doctor over every account and region in the config: the checklist will be posted in this channel.';
        }
      } catch {
        text = QUEUE_DOWN.replace('queue the request', 'start the doctor');
      }
    } else if (cmd.kind === 'audit') {
      try {
        text = renderAuditTrail(cmd.query, await deps.requests.auditTrail(cmd.query));
      } catch {
        text = QUEUE_DOWN.replace('queue the request', 'read the audit trail');
      }
    } else if (cmd.kind === 'hunt') {
      const target = huntTarget(cmd.template!, cmd.params);
      text = await submitRequest(deps, client, logger, { action: 'hunt', target, targets: [target], channel: command.channel_id, userId: command.user_id }, { confirm: true, actor });
    } else if (cmd.kind === 'policy' || cmd.kind === 'autonomy') {
      text = await autonomyCommand(deps, cmd, actor, client);
    } else if (cmd.kind !== 'status') {
      if (cmd.kind === 'terminate') {
        // The principal first, then the instances it launched: one request, always two people.
        const ids = [cmd.target, ...cmd.instanceIds];
        text = await submitRequest(deps, client, logger, { action: cmd.kind, target: ids[0], targets: ids, channel: command.channel_id, userId: command.user_id, reason: cmd.reason }, { confirm: true, actor });
      } else if ('instanceIds' in cmd) {
        // Several instances: one request per account and region, each one plan and one approval.
        text = await submitPerAccount(deps, client, logger, { action: cmd.kind, instanceIds: cmd.instanceIds, channel: command.channel_id, userId: command.user_id, reason: cmd.reason }, { confirm: true, actor });
      } else {
        text = await submitRequest(deps, client, logger, { action: cmd.kind, target: cmd.target, targets: [cmd.target], channel: command.channel_id, userId: command.user_id, reason: cmd.reason }, { confirm: true, actor });
      }
    } else {
      try {
        if (cmd.jobId) {
          const r = await deps.requests.get(cmd.jobId);
          text = r ? renderStatusDetail(r) : `No request \`${cmd.jobId}\` is known. \`/ir status\` lists recent ones.`;
        } else {
          text = renderStatusList(await deps.requests.recent(10));
        }
      } catch (err) {
        logger.error(`could not read requests: ${(err as Error).message}`);
        text = QUEUE_DOWN.replace('queue the request', 'read the requests');
      }
    }
    if (!text) return;
    try {
      await respond({ response_type: 'ephemeral', text });
    } catch (err) {
      logger.warn(`could not answer /ir: ${(err as Error).message}`);
    }
  };
}

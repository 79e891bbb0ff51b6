import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { WorkflowChoice } from '../../../actions/securityhub-workflow';
import { decodeFindingKey } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { QUEUE_DOWN, tellUser } from '../reply';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** Acknowledge / Resolve / Suppress on a card: responders only; Report: responders and approvers. */
export function caseButton(deps: BotDeps, what: WorkflowChoice | 'report') {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const key = decodeFindingKey((body.actions[0] as ButtonAction | undefined)?.value);
    const channel = body.channel?.id ?? body.container?.channel_id;
    const threadTs = body.message?.thread_ts ?? body.message?.ts;
    const where = { channel, user: body.user.id, threadTs };
    if (!key || !channel) return tellUser(client, logger, where, 'That button carries no valid finding reference, so nothing was done.');
    try {
      // Reading (the report) is for approvers too; changing Security Hub only for responders.
      const allowed = what === 'report' ? await deps.authz.checkReader(actorOf(body), client) : await deps.authz.check(actorOf(body), 'responders', client);
      if (!allowed.ok) {
        await deps.requests.refused('refused-requester', body.user.id, { action: what === 'report' ? 'report' : `workflow-${what}` });
        return tellUser(client, logger, where, `:no_entry: ${allowed.reason} Nothing was changed.`);
      }
      if (what === 'report') {
        await deps.requests.report(key, body.user.id, { channel, threadTs });
        return tellUser(client, logger, where, 'Building the incident report: it will be uploaded to this thread.');
      }
      await deps.requests.workflow(key, what, body.user.id);
    } catch (err) {
      logger.error(`could not queue a card task: ${(err as Error).message}`);
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
  };
}

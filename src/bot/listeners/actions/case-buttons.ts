import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { WorkflowChoice } from '../../../actions/securityhub-workflow';
import { decodeFindingKey } from '../../../views/action-ids';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { NO_FINDING_REFERENCE, QUEUE_DOWN, tellUser, whereOf } from '../reply';
import { suppressApprovalView } from '../../../views/suppress-approval';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

/** Suppress waits for an approver (`access.requireApproval` names it): ask, with Approve / Reject in the card's thread. */
async function askToSuppress(deps: BotDeps, key: string, where: { channel: string; user: string; threadTs?: string }, client: Args['client'], logger: Args['logger']): Promise<void> {
  const res = await deps.requests.suppress.ask(key, where.user, (await deps.requests.cardFindings(key)).length || 1);
  if (res.status === 'joined') {
    return tellUser(client, logger, where, `Suppressing this card's findings is already waiting for an approver (asked by <@${res.ask.requestedBy}>): see the thread.`);
  }
  await client.chat.postMessage({ channel: where.channel, thread_ts: where.threadTs, ...suppressApprovalView(res.ask) });
  return tellUser(client, logger, where, 'Suppress needs an approver (`access.requireApproval`): asked in the thread. Nothing is changed in Security Hub until an approver approves.');
}

/** Acknowledge / Resolve / Suppress on a card: responders only; Report: responders and approvers. */
export function caseButton(deps: BotDeps, what: WorkflowChoice | 'report') {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const key = decodeFindingKey((body.actions[0] as ButtonAction | undefined)?.value);
    const where = whereOf(body);
    const { channel, threadTs } = where;
    if (!key || !channel) return tellUser(client, logger, where, NO_FINDING_REFERENCE);
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
      if (what === 'SUPPRESSED' && deps.requests.suppress.needed) return await askToSuppress(deps, key, { ...where, channel }, client, logger);
      await deps.requests.workflow(key, what, body.user.id);
    } catch (err) {
      logger.error(`could not queue a card task: ${(err as Error).message}`);
      return tellUser(client, logger, where, QUEUE_DOWN);
    }
  };
}

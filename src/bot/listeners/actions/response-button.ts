import type { AllMiddlewareArgs, BlockAction, ButtonAction, OverflowAction, SlackActionMiddlewareArgs, StaticSelectAction } from '@slack/bolt';
import { PIPELINE_ACTIONS, type ActionName } from '../../../requests/model';
import { RESPONSE_LABEL, decodePayload, type ResponseKind } from '../../../views/action-ids';
import { ACCESS_KEY_PATTERN, INSTANCE_ID_PATTERN, PRINCIPAL_ARN_PATTERN } from '../../commands';
import { escapeMrkdwn } from '../../../views/mrkdwn';
import { suggestedHunts } from '../../../hunts/templates';
import { huntModal } from '../../../views/hunt-modal';
import { applicableResponses } from '../../../views/card';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { submitRequest } from '../submit';
import { NO_FINDING_REFERENCE, tellUser } from '../reply';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

function valueOf(body: BlockAction): string | undefined {
  const action = body.actions[0];
  if (action?.type === 'button') return (action as ButtonAction).value;
  if (action?.type === 'overflow') return (action as OverflowAction).selected_option?.value;
  if (action?.type === 'static_select') return (action as StaticSelectAction).selected_option?.value;
  return undefined;
}

/** The resource a response acts on, read from the stored finding the button refers to. */
async function resourceOfFinding(deps: BotDeps, findingKey: string, kind: ResponseKind): Promise<string | undefined> {
  const f = await deps.requests.finding(findingKey).catch(() => undefined);
  if (!f) return undefined;
  if (kind === 'disable-key') return f.principal?.accessKeyId;
  if (kind === 'deny-principal' || kind === 'revoke-sessions') return f.principal?.arn;
  if (kind === 'blast-radius' || kind === 'delete-keys' || kind === 'revoke-rules') return f.principal?.accessKeyId ?? f.principal?.arn;
  return f.instance?.id;
}

/** Card buttons (Isolate, Snapshot, Hunt, Disable key): acknowledged first, then checked and queued. */
export function responseButton(deps: BotDeps) {
  return async ({ ack, body, client, logger }: Args): Promise<void> => {
    await ack();
    const payload = decodePayload(valueOf(body));
    const channel = body.channel?.id ?? body.container?.channel_id;
    const cardTs = body.message?.thread_ts ?? body.message?.ts;
    const where = { channel, user: body.user.id, threadTs: cardTs };
    if (!payload) return tellUser(client, logger, where, NO_FINDING_REFERENCE);
    if (payload.a === 'hunt') {
      const f = await deps.requests.finding(payload.k).catch(() => undefined);
      if (deps.athena && channel) {
        try {
          await client.views.open({ trigger_id: body.trigger_id, view: huntModal(f, { findingKey: payload.k, channel, threadTs: cardTs }) });
          return;
        } catch (err) {
          logger.warn(`could not open the hunt modal: ${(err as Error).message}`);
        }
      }
      const hunts = f ? suggestedHunts(f) : [];
      return tellUser(client, logger, where, hunts.length ? `Hunts for this finding (copy one, or adjust \`days=\`):\n${hunts.map((x) => `\`${escapeMrkdwn(x)}\``).join('\n')}` : 'This finding names nothing to hunt on. `/ir hunt` lists the hunts.');
    }
    if (!(PIPELINE_ACTIONS as readonly string[]).includes(payload.a)) {
      return tellUser(
        client,
        logger,
        where,
        `*${RESPONSE_LABEL[payload.a]}${payload.r ? ` ${escapeMrkdwn(payload.r)}` : ''}* is not available yet. Nothing was changed in AWS.`,
      );
    }
    if (payload.i !== undefined) {
      // A short reference from an overflow option: the finding's own list says which resource.
      const f = await deps.requests.finding(payload.k).catch(() => undefined);
      const item = f ? applicableResponses(f)[payload.i] : undefined;
      if (item?.kind === payload.a) payload.r = item.resource;
    }
    const principalScoped = ['blast-radius', 'delete-keys', 'revoke-rules'].includes(payload.a);
    const byArn = payload.a === 'deny-principal' || payload.a === 'revoke-sessions';
    const pattern = payload.a === 'disable-key' ? ACCESS_KEY_PATTERN : byArn ? PRINCIPAL_ARN_PATTERN : INSTANCE_ID_PATTERN;
    // Long resources (ARNs) are not in the value: Slack caps option values at 150 characters.
    const resource = payload.r ?? (payload.i === undefined ? await resourceOfFinding(deps, payload.k, payload.a) : undefined);
    const ok = !!resource && (principalScoped ? ACCESS_KEY_PATTERN.test(resource) || PRINCIPAL_ARN_PATTERN.test(resource) : pattern.test(resource));
    if (!resource || !ok) return tellUser(client, logger, where, 'That button names no resource to act on, so nothing was done.');
    const reply = await submitRequest(deps, client, logger, {
      action: payload.a as ActionName,
      target: resource,
      findingKey: payload.k,
      channel: channel ?? '',
      threadTs: cardTs,
      userId: body.user.id,
    }, { actor: actorOf(body) });
    if (reply) await tellUser(client, logger, where, reply);
  };
}

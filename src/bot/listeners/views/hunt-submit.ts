import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { ParamError } from '../../../hunts/params';
import { TEMPLATES, huntTarget, prepareHunt } from '../../../hunts/templates';
import type { BotDeps } from '../../deps';
import { actorOf } from '../actor';
import { HUNT_FIELDS } from '../../../views/hunt-modal';
import { tellUser } from '../reply';
import { submitRequest } from '../submit';

type Args = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

/** The hunt modal's Run: validation errors go back onto the form; a valid hunt is queued for the thread. */
export function huntSubmit(deps: BotDeps) {
  return async ({ ack, view, body, client, logger }: Args): Promise<void> => {
    const values = view.state.values;
    const template = values.template?.value?.selected_option?.value ?? '';
    const t = TEMPLATES.find((x) => x.name === template);
    const params: Record<string, string> = {};
    for (const f of HUNT_FIELDS) {
      const v = values[f]?.value?.value?.trim();
      if (v && (f === 'days' || t?.params.some((p) => p.name === f))) params[f] = v;
    }
    if (!deps.athena) return void (await ack({ response_action: 'errors', errors: { template: 'Hunts need the athena: section in the config.' } }));
    try {
      prepareHunt(template, params, deps.athena);
    } catch (err) {
      if (!(err instanceof ParamError)) throw err;
      const field = HUNT_FIELDS.find((f) => err.message.startsWith(`${f}:`) || err.message.includes(`needs ${f}=`)) ?? 'template';
      return void (await ack({ response_action: 'errors', errors: { [field]: err.message.slice(0, 150) } }));
    }
    await ack();
    let meta: { k?: string; c?: string; t?: string } = {};
    try {
      meta = JSON.parse(view.private_metadata || '{}') as typeof meta;
    } catch {
      meta = {};
    }
    const channel = typeof meta.c === 'string' && /^[CGD][A-Z0-9]+$/.test(meta.c) ? meta.c : undefined;
    if (!channel) return;
    const target = huntTarget(template, params);
    const reply = await submitRequest(deps, client, logger, { action: 'hunt', target, targets: [target], findingKey: typeof meta.k === 'string' ? meta.k : undefined, channel, threadTs: meta.t, userId: body.user.id }, { actor: actorOf(body) });
    if (reply) await tellUser(client, logger, { channel, user: body.user.id, threadTs: meta.t }, reply);
  };
}

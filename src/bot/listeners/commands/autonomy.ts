import type { WebClient } from '@slack/web-api';
import type { Actor } from '../../authz';
import type { IrCommand } from '../../commands';
import type { BotDeps } from '../../deps';
import { QUEUE_DOWN } from '../reply';

/**
 * `/ir policy [test <finding-id>]` (responders and approvers, checked by the caller) and
 * `/ir autonomy off|on` (approvers only: the kill switch has the authority of an approval).
 */
export async function autonomyCommand(deps: BotDeps, cmd: Extract<IrCommand, { kind: 'policy' | 'autonomy' }>, actor: Actor, client: WebClient): Promise<string> {
  const autonomy = deps.autonomy;
  if (!autonomy) return 'Automatic containment is not set up in this deployment.';
  try {
    if (cmd.kind === 'policy') return cmd.testFindingId ? await autonomy.test(cmd.testFindingId) : await autonomy.describe();
    if (cmd.on === undefined) return (await autonomy.describe()).split('\n')[0];
    const allowed = await deps.authz.check(actor, 'approvers', client);
    if (!allowed.ok) {
      await deps.requests.refused('refused-approver', actor.userId, { action: `autonomy ${cmd.on ? 'on' : 'off'}` });
      return `:no_entry: Only approvers may switch automatic containment ${cmd.on ? 'on' : 'off'}. ${allowed.reason}`;
    }
    return await autonomy.setEnabled(cmd.on, actor.userId);
  } catch {
    return QUEUE_DOWN.replace('queue the request', 'reach the policy state');
  }
}

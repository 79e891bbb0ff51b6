import type { View } from '@slack/types';
import type { Finding } from '../findings/model';
import { TEMPLATES, huntPrefill } from '../hunts/templates';
import { plain } from './mrkdwn';

export const HUNT_MODAL_CALLBACK = 'ir_hunt_modal';
export const HUNT_FIELDS = ['instance', 'ip', 'principal', 'bucket', 'days'] as const;

/** The Hunt button's modal, prefilled from the finding; Slack shows the values, we validate on submit. */
export function huntModal(f: Finding | undefined, where: { findingKey?: string; channel: string; threadTs?: string }): View {
  const prefill: Record<string, string | undefined> = { ...(f ? huntPrefill(f) : {}), days: '7' };
  const first = prefill.instance ? 'ec2-calls' : prefill.principal ? 'principal-calls' : prefill.ip ? 'ip-principals' : prefill.bucket ? 'bucket-calls' : 'sg-changes';
  const option = (name: string) => ({ text: plain(name, 75), value: name, description: plain(TEMPLATES.find((t) => t.name === name)!.title, 75) });
  const input = (name: string, label: string, hint: string) => ({
    type: 'input' as const,
    block_id: name,
    optional: true,
    label: plain(label, 2000),
    hint: plain(hint, 2000),
    element: { type: 'plain_text_input' as const, action_id: 'value', ...(prefill[name] ? { initial_value: prefill[name]!.slice(0, 3000) } : {}) },
  });
  return {
    type: 'modal',
    callback_id: HUNT_MODAL_CALLBACK,
    private_metadata: JSON.stringify({ k: where.findingKey, c: where.channel, t: where.threadTs }),
    title: plain('Hunt', 24),
    submit: plain('Run', 24),
    close: plain('Cancel', 24),
    blocks: [
      {
        type: 'input',
        block_id: 'template',
        label: plain('Query', 2000),
        element: { type: 'static_select', action_id: 'value', options: TEMPLATES.map((t) => option(t.name)), initial_option: option(first) },
      },
      input('instance', 'Instance id', 'for ec2-calls'),
      input('ip', 'IP address', 'for flows, egress, ip-principals'),
      input('principal', 'Principal ARN', 'for the principal-… queries'),
      input('bucket', 'S3 bucket name', 'for bucket-calls'),
      input('days', 'Days back (1–90)', 'the window ends today'),
    ],
  };
}

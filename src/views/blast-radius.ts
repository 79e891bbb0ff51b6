import type { Button, KnownBlock } from '@slack/types';
import type { ActionRequest } from '../requests/model';
import { ACTION_ID, BULK_ACTION_ID, PIVOT_ACTION_ID, encodeBulk, encodePayload, encodePivot } from './action-ids';
import { plain } from './mrkdwn';

/**
 * The responses a blast radius offers: for all rogue instances at once (one request, one plan, one
 * approval each) and for the principal's keys. Bulk buttons need the card's finding key.
 */
export function blastRadiusResponses(r: ActionRequest): KnownBlock[] {
  const o = r.result;
  if (!o) return [];
  const blocks: KnownBlock[] = [];
  const ids = (o.rogueInstances ?? []).slice(0, 50);
  if (ids.length && r.findingKey) {
    const bulk = (a: 'snapshot' | 'memory' | 'stop', label: string): Button => ({
      type: 'button',
      action_id: BULK_ACTION_ID[a],
      text: { type: 'plain_text', text: `${label} all ${ids.length}` },
      value: encodeBulk({ a, k: r.findingKey!, ids }),
      ...(a === 'stop' ? { style: 'danger' as const } : {}),
    });
    blocks.push({ type: 'actions', block_id: 'blast-instances', elements: [bulk('snapshot', 'Snapshot'), bulk('memory', 'Capture memory'), bulk('stop', 'Stop')] });
  } else if (ids.length) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `Rogue instances still there: \`/ir snapshot ${ids.join(' ')}\`, then \`/ir memory …\` and \`/ir stop …\` with the same list.`.slice(0, 2900) }],
    });
  }
  // Eradication of what it added, each its own request with its own plan and approval.
  const writes = o.lines.join('\n');
  const eradicate = (['delete-keys', 'revoke-rules'] as const).filter((a) => (a === 'delete-keys' ? /^access key \S+: CreateAccessKey/m : /: .*AuthorizeSecurityGroup(Ingress|Egress)/).test(writes));
  if (eradicate.length && r.findingKey && r.target.length <= 120) {
    const text = { 'delete-keys': 'Delete keys it created', 'revoke-rules': 'Revoke rules it added' };
    blocks.push({
      type: 'actions',
      block_id: 'blast-eradicate',
      elements: eradicate.map((a) => ({ type: 'button' as const, action_id: ACTION_ID[a], text: { type: 'plain_text' as const, text: text[a] }, style: 'danger' as const, value: encodePayload({ a, k: r.findingKey!, r: r.target }, 'button') })),
    });
  } else if (eradicate.length) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: eradicate.map((a) => `\`/ir ${a} ${r.target}\``).join(' · ').slice(0, 2900) }] });
  }
  // A role behind the writes (the target as a role or one of its sessions): its sessions can be revoked.
  const role = /^arn:(aws[a-z-]*):(?:iam|sts)::(\d{12}):(?:role|assumed-role)\/([\w+=,.@-]+)/.exec(r.target);
  const roleArn = role && `arn:${role[1]}:iam::${role[2]}:role/${role[3]}`;
  if (roleArn && r.findingKey && roleArn.length <= 120) {
    blocks.push({
      type: 'actions',
      block_id: 'blast-role',
      elements: (['revoke-sessions', 'deny-principal'] as const).map((a) => ({
        type: 'button' as const,
        action_id: ACTION_ID[a],
        text: plain(`${a === 'revoke-sessions' ? 'Revoke sessions' : 'Deny all'} ${roleArn}`, 75),
        value: encodePayload({ a, k: r.findingKey!, r: roleArn }, 'button'),
      })),
    });
  }
  const label: Record<string, string> = { accessKey: 'Disable key', deny: 'Deny all' };
  const pivots = (o.pivots ?? []).filter((p) => p.kind in label).slice(0, 5);
  if (pivots.length) {
    blocks.push({
      type: 'actions',
      block_id: 'blast-principal',
      elements: pivots.map((p, i) => ({ type: 'button' as const, action_id: `${PIVOT_ACTION_ID}_${i}`, text: plain(`${label[p.kind]} ${p.value}`, 75), value: encodePivot(p) })),
    });
  }
  return blocks;
}

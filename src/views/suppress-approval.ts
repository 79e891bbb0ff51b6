import type { KnownBlock } from '@slack/types';
import type { SuppressAsk } from '../requests/suppress';
import { SUPPRESS_APPROVE_ACTION_ID, SUPPRESS_REJECT_ACTION_ID } from './action-ids';
import { mention } from './request-status';

function when(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{time}|${new Date(ms).toISOString().slice(11, 16)} UTC>`;
}

/** The approval message in the card's thread for a Suppress that waits for an approver; without buttons once decided. */
export function suppressApprovalView(ask: SuppressAsk, decided?: { decision: 'approve' | 'reject'; by: string; at: number }): { text: string; blocks: KnownBlock[] } {
  const state = !decided
    ? `:hourglass_flowing_sand: awaiting approval (expires ${when(ask.expiresAt)})`
    : decided.decision === 'approve'
      ? `:arrow_forward: approved by ${mention(decided.by)} ${when(decided.at)}: queued, the result follows in this thread`
      : `:no_entry_sign: rejected by ${mention(decided.by)} ${when(decided.at)}: nothing was changed`;
  const text = `Suppress ${ask.findings} finding(s) in Security Hub: ${state}`;
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*Suppress every finding on this card* (${ask.findings}) in Security Hub: ${state}` } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `asked by ${mention(ask.requestedBy)} ${when(ask.requestedAt)} · suppressed findings leave Security Hub's default views · \`${ask.id}\`` }] },
  ];
  if (!decided) {
    const value = JSON.stringify({ k: ask.findingKey, s: ask.id });
    blocks.push({
      type: 'actions',
      block_id: `suppress-${ask.id}`.slice(0, 255),
      elements: [
        { type: 'button', action_id: SUPPRESS_APPROVE_ACTION_ID, text: { type: 'plain_text', text: 'Approve' }, style: 'primary', value },
        { type: 'button', action_id: SUPPRESS_REJECT_ACTION_ID, text: { type: 'plain_text', text: 'Reject' }, style: 'danger', value },
      ],
    });
  }
  return { text, blocks };
}

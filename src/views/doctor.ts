import type { KnownBlock } from '@slack/types';
import type { DoctorCheck, DoctorReport } from '../doctor/report';
import { code, plain, safe, verbatimBlocks } from './mrkdwn';

/** Blocks left for ✗ lines once the header, summary and the ✓ lines' blocks are placed (Slack allows 50). */
const FAILURE_BLOCKS = 40;

function failureText(c: DoctorCheck): string {
  return `:x: *${safe(c.name, 200)}* · ${safe(c.scope, 40)}\n${safe(c.detail, 1200)}\n*Fix:* ${code(c.fix ?? '-', 1500)}`;
}

/**
 * The doctor's checklist for a phone: how many ✗ first, then each ✗ with its fix (a command to
 * copy where there is one), then the ✓ lines grouped per account and region.
 */
export function doctorView(report: DoctorReport, opts: { scheduled?: boolean } = {}): { text: string; blocks: KnownBlock[] } {
  const bad = report.checks.filter((c) => !c.ok);
  const summary = bad.length ? `${bad.length} of ${report.checks.length} checks failed` : `all ${report.checks.length} checks passed`;
  const text = `ir-bot doctor: ${summary}`;
  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(`${bad.length ? '✗' : '✓'} ir-bot doctor: ${summary}`, 150) },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: safe(`${opts.scheduled ? 'Scheduled run (posted because a check changed)' : 'Run on request'} · ${report.targets.length} account/region pair(s): ${report.targets.map((t) => `${t.account} ${t.region}`).join(', ')} · ${report.at.slice(0, 16).replace('T', ' ')} UTC`, 2000),
        },
      ],
    },
  ];
  for (const c of bad.slice(0, FAILURE_BLOCKS)) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: failureText(c) } });
  if (bad.length > FAILURE_BLOCKS) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `…and ${bad.length - FAILURE_BLOCKS} more ✗: \`npm run doctor\` lists every one with its fix.` } });
  }
  const passed = new Map<string, string[]>();
  for (const c of report.checks.filter((x) => x.ok)) passed.set(c.scope, [...(passed.get(c.scope) ?? []), c.name]);
  const groups = [...passed];
  for (const [scope, names] of groups.slice(0, 5)) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: safe(`✓ ${scope}: ${names.join(' · ')}`, 2900) }] });
  }
  if (groups.length > 5) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `✓ and ${groups.length - 5} more account/region pairs with checks passed` }] });
  return { text, blocks: verbatimBlocks(blocks) };
}

import type { KnownBlock } from '@slack/types';
import type { StoredAuditEntry } from '../audit/log';
import type { ActionRequest } from '../requests/model';
import { APPROVE_ACTION_ID, HOLD_ACTION_ID, HUNT_CANCEL_ACTION_ID, PIVOT_ACTION_ID, REJECT_ACTION_ID, RELEASE_ACTION_ID, UNDO_ACTION_ID, encodeDecision, encodePivot } from './action-ids';
import type { ActionOutcome } from '../requests/model';
import type { CardView } from './card';
import { blastRadiusResponses } from './blast-radius';
import { codeText, plain, safe, safeWords, truncate } from './mrkdwn';
import { clock } from '../policy/match';

const TITLE: Record<ActionRequest['action'], string> = {
  isolate: 'Isolate',
  release: 'Release isolation of',
  snapshot: 'Snapshot',
  stop: 'Stop',
  'disable-key': 'Disable access key',
  'enable-key': 'Re-enable access key',
  'deny-principal': 'Deny everything for',
  'allow-principal': 'Lift the deny-all on',
  'revoke-sessions': 'Revoke sessions of',
  'restore-sessions': 'Restore sessions of',
  hunt: 'Hunt',
  memory: 'Capture memory of',
  'blast-radius': 'Blast radius of',
  terminate: 'Terminate instances launched by',
  'delete-keys': 'Delete the access keys created by',
  'revoke-rules': 'Revoke the security-group rules added by',
};

/** The undo button on each reversible IAM result (isolation has Release). */
const UNDO_LABEL: Partial<Record<ActionRequest['action'], string>> = {
  'disable-key': 'Re-enable key',
  'deny-principal': 'Lift deny-all',
  'revoke-sessions': 'Restore sessions',
};

const STATE_LINE: Record<ActionRequest['state'], string> = {
  planning: ':mag: planning: reading the current state from AWS',
  'awaiting-approval': ':hourglass_flowing_sand: awaiting approval',
  approved: ':arrow_forward: queued',
  running: ':gear: running',
  done: ':white_check_mark: done',
  failed: ':x: failed',
  rejected: ':no_entry_sign: rejected',
  expired: ':alarm_clock: approval expired: nothing was changed',
  refused: ':no_entry: not run',
};

/** A hunt's rows as a fixed-width table in a code block, escaped, within Slack's limits. */
function huntResultBlocks(o: ActionOutcome): KnownBlock[] {
  const t = o.table!;
  const cell = (v: string) => v.replace(/[`\n\r]/g, ' ').slice(0, 40);
  const widths = t.columns.map((c, i) => Math.min(40, Math.max(c.length, ...t.rows.map((r) => cell(r[i] ?? '').length))));
  const line = (r: string[]) => r.map((v, i) => cell(v ?? '').padEnd(widths[i])).join('  ').trimEnd();
  let table = [line(t.columns), ...t.rows.map(line)].join('\n');
  table = codeText(table, 2700);
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*Results*: ${safe(o.lines[0] ?? '', 400)}${o.link ? ` · <${o.link.url}|${safe(o.link.label, 80)}>` : ''}` } },
    { type: 'section', text: { type: 'mrkdwn', text: t.rows.length ? `\`\`\`${table}\`\`\`` : '_no rows_' } },
  ];
  if (t.total > t.rows.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `First ${t.rows.length} of ${t.total} rows; the CSV file below has the rest (up to 1 MB).` }] });
  if (o.notes.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: safe(o.notes.join(' '), 2900) }] });
  const pivots = (o.pivots ?? []).slice(0, 5);
  if (pivots.length) {
    const label: Record<string, string> = { principal: 'Hunt principal', deny: 'Deny all', ip: 'Hunt IP', accessKey: 'Disable key', instance: 'Isolate' };
    blocks.push({
      type: 'actions',
      block_id: 'hunt-pivots',
      elements: pivots.map((p, i) => ({ type: 'button' as const, action_id: `${PIVOT_ACTION_ID}_${i}`, text: plain(`${label[p.kind]} ${p.value}`, 75), value: encodePivot(p) })),
    });
  }
  return blocks;
}

/** Slack IDs come from Slack, but the record could be tampered with: only well-formed IDs become mentions. */
export function mention(user: string | undefined): string {
  return user && /^[UW][A-Z0-9]{2,}$/.test(user) ? `<@${user}>` : safe(user ?? 'someone', 40);
}

function time(ms: number | undefined): string {
  return ms ? `<!date^${Math.floor(ms / 1000)}^{time}|${new Date(ms).toISOString().slice(11, 16)} UTC>` : '';
}

function duration(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/**
 * Lines under a heading, split over as many sections as Slack's 3,000-character text limit needs
 * (a bulk plan lists every instance and every change), up to `maxBlocks`.
 */
function section(heading: string, lines: string[], bullet = '•', maxBlocks = 6): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  let text = `*${heading}*`;
  for (const [n, line] of lines.entries()) {
    // A line may bring its own marker (a bulk plan's production impact): it replaces the bullet.
    const [mark, l] = line.startsWith(':warning: ') ? [':warning:', line.slice(10)] : [bullet, line];
    const next = `\n${mark} ${safeWords(l, 400)}`;
    if (text.length + next.length > 2900) {
      if (blocks.length + 1 >= maxBlocks) {
        text += `\n_…and ${lines.length - n} more_`;
        break;
      }
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text } });
      text = `${mark} ${safeWords(l, 400)}`;
      continue;
    }
    text += next;
  }
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text } });
  return blocks;
}

/** The one status message per request: plan, approval buttons, progress, verified result. */
function targets(r: ActionRequest): string {
  const ids = r.targets?.length ? r.targets : [r.target];
  // Many instances are counted, not listed: the plan and its file name each one.
  if (ids.length > 3 && ids.every((id) => id.startsWith('i-'))) return `${ids.length} instances`;
  const shown = ids.slice(0, 10).map((id) => `\`${safe(id, 200)}\``).join(', ');
  return ids.length > 10 ? `${shown} and ${ids.length - 10} more` : shown;
}

const AUTO_VERB: Partial<Record<ActionRequest['action'], string>> = {
  isolate: 'isolating',
  snapshot: 'snapshotting',
  memory: 'capturing the memory of',
  'disable-key': 'disabling',
  'revoke-sessions': 'revoking the sessions of',
};


/** A policy rule's request: its countdown, its outcome, and the conditions that matched. */
function autoLine(r: ActionRequest, now: number): string | undefined {
  if (!r.auto) return undefined;
  const rule = `rule \`${safe(r.auto.rule, 40)}\` (matched: ${safe(r.auto.matched.join(', ') || 'every finding', 600)})`;
  const byRule = r.approvedBy === r.requestedBy;
  const vetoable = r.state === 'awaiting-approval' && r.autoAt !== undefined && r.auto.mode === 'contain-unless-vetoed';
  if (r.state === 'awaiting-approval' && r.autoAt !== undefined && !vetoable) return `:robot_face: Running automatically by ${rule}.`;
  if (vetoable) {
    return `:stopwatch: *${AUTO_VERB[r.action] ?? r.action} ${targets(r)} in ${clock(r.autoAt! - now)} unless someone clicks Hold* (at ${time(r.autoAt!)}), by policy ${rule}`;
  }
  if (r.state === 'done' && byRule) return `:robot_face: Contained automatically by ${rule}. Undo with the button below.`;
  if (byRule && (r.state === 'running' || r.state === 'approved')) return `:robot_face: Running automatically by ${rule}.`;
  if (r.heldBy) return `:raised_hand: Automatic run stopped (${r.heldBy.startsWith('U') || r.heldBy.startsWith('W') ? `held by ${mention(r.heldBy)}` : safe(r.heldBy, 40)}): proposed by policy ${rule}.`;
  return `Proposed by policy ${rule}.`;
}

export function renderRequestStatus(r: ActionRequest, now = Date.now()): CardView {
  const target = targets(r);
  let state = STATE_LINE[r.state];
  if (r.state === 'awaiting-approval' && r.expiresAt && r.autoAt === undefined) state += ` (expires ${time(r.expiresAt)})`;
  if (r.state === 'awaiting-approval' && r.autoAt !== undefined) state = r.auto?.mode === 'contain' ? STATE_LINE.approved : ':stopwatch: automatic unless held';
  if (r.state === 'awaiting-approval' && (r.approvalsNeeded ?? 1) > 1) state += `: ${r.firstApprovedBy ? 1 : 0} of ${r.approvalsNeeded} approvals (no person in Slack asked for it, so two different approvers must approve)`;
  if (r.state === 'running' && r.progress) state += `: step ${r.progress.step} of ${r.progress.total}, ${safe(r.progress.label, 400)}`;
  if ((r.state === 'done' || r.state === 'failed') && r.startedAt && r.finishedAt) state += ` in ${duration(r.finishedAt - r.startedAt)}`;
  if (r.state === 'done' && r.result && !r.result.ok) state = ':warning: done, but verification found problems';

  const who = [`asked by ${mention(r.requestedBy)}`];
  if (r.reason) who.push(`reason: ${safe(r.reason, 300)}`);
  if (r.firstApprovedBy) who.push(`first approval by ${mention(r.firstApprovedBy)} ${time(r.firstApprovedAt)}`);
  if (r.approvedBy) who.push(`approved by ${mention(r.approvedBy)} ${time(r.approvedAt)}`);
  if (r.state === 'rejected' && r.decidedBy) who.push(`rejected by ${mention(r.decidedBy)} ${time(r.decidedAt)}`);
  who.push(`request \`${safe(r.id, 80)}\``);
  if (r.account || r.region) who.push(`${safe(r.account ?? '?', 20)} / ${safe(r.region ?? '?', 30)}`);

  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${TITLE[r.action]}* ${target}: ${state}` } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: who.join(' · ') }] },
  ];
  const auto = autoLine(r, now);
  if (auto) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: auto } });
  if (r.rerouted) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `:warning: Asked in <#${safe(r.rerouted.channel, 30)}>, where Slack refused ir-bot's post (\`${safe(r.rerouted.error, 60)}\`): shown here instead. Invite ir-bot to that channel to follow requests there.` }] });
  }
  if (r.notice) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `:information_source: ${safe(r.notice, 1000)}` } });
  if (r.plan?.blocked) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `:no_entry: ${safe(r.plan.blocked, 2000)}` } });
  const showPlan = r.plan && !r.plan.blocked && !(r.state === 'done' && r.result);
  if (showPlan && r.plan!.summary.length) blocks.push(...section(r.state === 'awaiting-approval' ? 'What will change' : 'Plan', r.plan!.summary));
  if (r.plan?.warnings.length && r.state !== 'done') blocks.push(...section('Before you approve', r.plan.warnings, ':warning:', 3));
  if (r.state === 'awaiting-approval') {
    const value = encodeDecision({ q: r.id, v: r.rev });
    const holdable = r.autoAt !== undefined && r.auto?.mode === 'contain-unless-vetoed';
    blocks.push({
      type: 'actions',
      block_id: `decide-${r.rev}`,
      elements: [
        // During a rule's countdown Hold comes first: it is the button a responder is looking for.
        ...(holdable ? [{ type: 'button' as const, action_id: HOLD_ACTION_ID, text: { type: 'plain_text' as const, text: 'Hold' }, style: 'danger' as const, value }] : []),
        { type: 'button', action_id: APPROVE_ACTION_ID, text: { type: 'plain_text', text: holdable ? 'Run now' : 'Approve' }, style: 'primary', value },
        { type: 'button', action_id: REJECT_ACTION_ID, text: { type: 'plain_text', text: 'Reject' }, ...(holdable ? {} : { style: 'danger' as const }), value },
      ],
    });
  }
  if (r.action === 'hunt' && r.state === 'running') {
    blocks.push({
      type: 'actions',
      block_id: 'hunt-running',
      elements: [{ type: 'button', action_id: HUNT_CANCEL_ACTION_ID, text: { type: 'plain_text', text: 'Cancel' }, style: 'danger', value: encodeDecision({ q: r.id, v: r.rev }) }],
    });
  }
  if (r.result?.table) blocks.push(...huntResultBlocks(r.result));
  else if (r.result) {
    blocks.push(...section('Verified end state', r.result.summary ?? r.result.lines));
    if (r.result.notes.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: safe(r.result.notes.join(' '), 2900) }] });
  }
  if (r.failure) {
    const at = r.failure.step ? ` at step ${r.failure.step} (${safe(r.failure.stepLabel ?? '', 80)})` : '';
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Failed${at}:* ${safe(r.failure.message, 1500)}` } });
    blocks.push(...section('State left', r.failure.done.length ? r.failure.done : ['nothing had been changed yet'], '•', 3));
  }
  if (r.action === 'blast-radius' && r.state === 'done') blocks.push(...blastRadiusResponses(r));
  if (r.action === 'isolate' && r.state === 'done') {
    blocks.push({
      type: 'actions',
      block_id: 'after-isolation',
      elements: [{ type: 'button', action_id: RELEASE_ACTION_ID, text: { type: 'plain_text', text: 'Release' }, value: encodeDecision({ q: r.id, v: r.rev }) }],
    });
  }
  const undo = UNDO_LABEL[r.action];
  if (undo && r.state === 'done') {
    blocks.push({
      type: 'actions',
      block_id: 'undo',
      elements: [{ type: 'button', action_id: UNDO_ACTION_ID, text: { type: 'plain_text', text: undo }, value: encodeDecision({ q: r.id, v: r.rev }) }],
    });
  }
  const text = `${TITLE[r.action]} ${r.target}: ${r.state}`;
  return { text: safe(text, 300), blocks };
}

function stateWord(r: ActionRequest): string {
  if (r.state === 'running' && r.progress) return `running (step ${r.progress.step} of ${r.progress.total})`;
  if (r.state === 'done' && r.result && !r.result.ok) return 'done, verification found problems';
  return r.state;
}

/** `/ir status`: one line per request, newest first. */
export function renderStatusList(requests: ActionRequest[]): string {
  if (requests.length === 0) return 'No response actions yet.';
  const lines = requests.map(
    (r) => `• \`${safe(r.id, 80)}\` ${r.action} ${targets(r)}: ${stateWord(r)}, asked by ${mention(r.requestedBy)} ${time(r.createdAt)}`,
  );
  return `*Recent response actions*\n${lines.join('\n')}`;
}

/** `/ir status <id>`: the request in full, as plain mrkdwn text. */
export function renderStatusDetail(r: ActionRequest): string {
  const out = [`*${TITLE[r.action]}* ${targets(r)}: ${stateWord(r)}`, `request \`${safe(r.id, 80)}\`, asked by ${mention(r.requestedBy)} ${time(r.createdAt)}`];
  if (r.firstApprovedBy) out.push(`first approval by ${mention(r.firstApprovedBy)} ${time(r.firstApprovedAt)}`);
  if (r.approvedBy) out.push(`approved by ${mention(r.approvedBy)} ${time(r.approvedAt)}`);
  if (r.plan?.blocked) out.push(`:no_entry: ${safe(r.plan.blocked, 1000)}`);
  if (r.plan?.summary.length && !r.result) out.push('*Plan*', ...r.plan.summary.map((l) => `• ${safeWords(l, 300)}`));
  if (r.result) out.push('*Verified end state*', ...(r.result.summary ?? r.result.lines).map((l) => `• ${safeWords(l, 300)}`));
  if (r.failure) out.push(`*Failed:* ${safe(r.failure.message, 1000)}`, ...r.failure.done.map((l) => `• done: ${safe(l, 300)}`));
  return truncate(out.join('\n'), 2900);
}

/** `/ir audit …`: the newest 40 entries, oldest first, one line each. */
export function renderAuditTrail(query: string, entries: StoredAuditEntry[]): string {
  if (entries.length === 0) return `No audit entries for \`${safe(query, 100)}\`.`;
  const shown = entries.slice(-40);
  const lines = shown.map(
    (e) => `• ${e.at.replace('T', ' ').slice(0, 19)} *${e.event}* by ${e.user === 'system' ? 'ir-bot' : mention(e.user)}${e.action ? ` ${safe(e.action, 30)}` : ''}${e.target ? ` \`${safe(e.target, 120)}\`` : ''}${e.requestId ? ` (\`${safe(e.requestId, 80)}\`)` : ''}`,
  );
  const head = `*Audit trail for* \`${safe(query, 100)}\`: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}${entries.length > shown.length ? `, the last ${shown.length} shown` : ''}`;
  return truncate([head, ...lines].join('\n'), 2900);
}

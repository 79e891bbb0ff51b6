import type { KnownBlock } from '@slack/types';
import { CONTAINMENT_ACTIONS, humanDuration } from '../audit/report';
import type { Finding } from '../findings/model';
import type { ActionRequest } from '../requests/model';
import { safe } from '../views/mrkdwn';
import { MILESTONES, type Incident, type IncidentMilestone, type IncidentStatus, type TimelineEntry } from './store';

/** What the summary, catch-up, timeline and report are built from. */
export interface IncidentFacts {
  incident: Incident;
  findings: Finding[];
  requests: ActionRequest[];
  timeline: TimelineEntry[];
  /** `https://team.slack.com/`, for links to the member cards. */
  workspaceUrl?: string;
  /** Where each member card is: finding key → thread. */
  threads?: Record<string, { channel: string; ts: string }>;
  /** For the ticket's link. */
  jiraBaseUrl?: string;
}

export const CATCHUP_ACTION_ID = 'ir_incident_catchup';

const NEXT_STEP: Record<IncidentStatus, string> = {
  investigating: 'Scope and contain: isolate affected instances, disable exposed keys (buttons on the cards, or `/ir isolate …` here). Then `/ir incident status contained`.',
  contained: 'Preserve evidence (snapshot, memory), then eradicate (`/ir delete-keys`, `/ir revoke-rules`, `/ir terminate`). Then `/ir incident status eradicated`.',
  eradicated: 'Recover: restore service from clean images, release isolations that are no longer needed. Then `/ir incident status recovered`.',
  recovered: 'Review and close: `/ir incident close` posts the report (commander or approver).',
  closed: 'Closed. The report is in this channel.',
};

/** Channel name from the configured pattern, as Slack allows: lower case, a-z 0-9 - _, at most 80. */
export function channelNameFor(pattern: string, i: Pick<Incident, 'number' | 'title' | 'declaredAt'>): string {
  const slug = i.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  const date = new Date(i.declaredAt).toISOString().slice(0, 10).replace(/-/g, '');
  return pattern.replace(/\{number\}/g, String(i.number)).replace(/\{date\}/g, date).replace(/\{slug\}/g, slug || 'incident').slice(0, 80);
}

export function label(i: Pick<Incident, 'number'>): string {
  return `INC-${i.number}`;
}

function person(id: string | undefined): string {
  return !id ? 'nobody yet' : id === 'system' ? 'ir-bot' : `<@${safe(id, 30)}>`;
}

function severityOf(findings: Finding[]): string {
  const top = [...findings].sort((a, b) => b.severity - a.severity)[0];
  return top ? `${top.severityLabel} (${top.severity})` : 'unknown (no finding joined)';
}

/** Verified containments and what is still waiting for an approver. */
export function state(facts: IncidentFacts): { contained: string[]; pending: ActionRequest[]; running: ActionRequest[] } {
  const contained = facts.requests.filter((r) => r.state === 'done' && CONTAINMENT_ACTIONS.includes(r.action)).map((r) => `${r.action} ${r.targets.join(', ')}`);
  return {
    contained,
    pending: facts.requests.filter((r) => r.state === 'awaiting-approval'),
    running: facts.requests.filter((r) => ['planning', 'approved', 'running'].includes(r.state)),
  };
}

function affected(findings: Finding[]): { accounts: string[]; resources: string[] } {
  const accounts = [...new Set(findings.map((f) => f.accountId).filter(Boolean))];
  const resources = [...new Set(findings.flatMap((f) => [f.instance?.id, f.principal?.accessKeyId, f.principal?.arn]).filter((x): x is string => !!x))];
  return { accounts, resources };
}

function list(items: string[], max: number): string {
  if (items.length === 0) return 'none';
  const shown = items.slice(0, max).map((x) => `\`${safe(x, 200)}\``).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

/** The pinned summary: status and counts first, then people, scope, containment, approvals, next step. */
export function summaryBlocks(facts: IncidentFacts): { text: string; blocks: KnownBlock[] } {
  const { incident: i, findings } = facts;
  const { contained, pending, running } = state(facts);
  const scope = affected(findings);
  const head = `${label(i)} · ${i.status.toUpperCase()} · ${safe(i.title, 100)}`;
  const lines = [
    `*Status:* ${i.status} (since ${when(i.statusAt[i.status] ?? i.declaredAt)}) · *Severity:* ${severityOf(findings)}`,
    `*Commander:* ${person(i.commander)} · *Scribe:* ${person(i.scribe)} · declared by ${person(i.declaredBy)}`,
    `*Affected:* ${scope.accounts.length} account(s) ${list(scope.accounts, 5)} · ${scope.resources.length} resource(s) ${list(scope.resources, 8)}`,
    `*Contained (verified):* ${contained.length ? contained.slice(0, 8).map((c) => safe(c, 300)).join('; ') : 'nothing yet'}`,
    `*Pending approvals:* ${pending.length ? list(pending.map((r) => r.id), 10) : 'none'}${running.length ? ` · *running:* ${running.length}` : ''}`,
    `*Next:* ${NEXT_STEP[i.status]}`,
  ];
  if (i.ticket) lines.push(`*Ticket:* ${ticketLine(i.ticket, facts.jiraBaseUrl)}`);
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: head.slice(0, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, 3000) } },
  ];
  const cards = cardLinks(facts);
  if (cards.length) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Cards (${cards.length}):* ${cards.slice(0, 20).join(' · ')}`.slice(0, 3000) } });
  if (i.problems.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: i.problems.map((p) => `:warning: ${safe(p, 300)}`).join('\n').slice(0, 3000) }] });
  return { text: head, blocks };
}

function ticketLine(t: NonNullable<Incident['ticket']>, base?: string): string {
  if (t.key) return base ? `<${base}/browse/${encodeURIComponent(t.key)}|${safe(t.key, 40)}>` : safe(t.key, 40);
  if (t.state === 'failed') return `not created: ${safe(t.note ?? 'Jira refused', 300)}`;
  return `ticket pending${t.note ? ` (${safe(t.note, 200)}; retrying)` : ''}`;
}

function cardLinks(facts: IncidentFacts): string[] {
  return facts.incident.findingKeys.map((k, n) => {
    const t = facts.threads?.[k];
    const f = facts.findings.find((x) => x.key === k);
    const name = safe(f ? `${f.severityLabel} ${f.type}` : `card ${n + 1}`, 120);
    return t && facts.workspaceUrl ? `<${facts.workspaceUrl}archives/${t.channel}/p${t.ts.replace('.', '')}|${name}>` : name;
  });
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Every entry of the incident, oldest first: stored events, findings first seen, and requests asked, approved and finished. */
export function timelineOf(facts: IncidentFacts): TimelineEntry[] {
  const out: TimelineEntry[] = [...facts.timeline];
  for (const f of facts.findings) out.push({ at: Date.parse(f.firstSeen), kind: 'card', text: `finding first seen: ${f.severityLabel} ${f.type} on ${f.instance?.id ?? f.principal?.accessKeyId ?? f.accountId}` });
  for (const r of facts.requests) {
    const what = `${r.action} ${r.targets.slice(0, 5).join(', ')}${r.targets.length > 5 ? ` (+${r.targets.length - 5})` : ''} (\`${r.id}\`)`;
    out.push({ at: r.createdAt, kind: 'result', user: r.requestedBy, text: `asked: ${what}` });
    if (r.approvedAt) out.push({ at: r.approvedAt, kind: 'result', user: r.approvedBy, text: `approved: ${what}` });
    if (r.decidedAt && r.state === 'rejected') out.push({ at: r.decidedAt, kind: 'result', user: r.decidedBy, text: `rejected: ${what}` });
    if (r.finishedAt) out.push({ at: r.finishedAt, kind: 'result', text: `${r.state === 'done' ? 'done (verified)' : r.state}: ${what}` });
  }
  return out.filter((e) => Number.isFinite(e.at)).sort((a, b) => a.at - b.at);
}

/**
 * Timeline text is partly ours (mentions of who leads) and partly people's (notes, Jira names):
 * escaped, then only exact user mentions are given back their link.
 */
export function timelineSafe(text: string, max: number): string {
  return safe(text, max).replace(/&lt;@\u200b?([UW][A-Z0-9]{2,20})&gt;/g, '<@$1>');
}

function entryLine(e: TimelineEntry): string {
  return `\`${when(e.at).slice(11, 19)}\` ${e.user && e.user !== 'system' ? `${person(e.user)} ` : ''}${e.kind === 'note' ? ':pushpin: ' : ''}${timelineSafe(e.text, 400)}`;
}

/** `/ir timeline`: newest `max` lines (the full one is in the report). */
export function timelineText(facts: IncidentFacts, max = 40): string {
  const all = timelineOf(facts);
  const shown = all.slice(-max);
  const head = `*${label(facts.incident)} timeline* (${all.length} entries${all.length > max ? `, last ${max} shown; the report has all` : ''}):`;
  return [head, ...shown.map(entryLine)].join('\n').slice(0, 3900);
}

/** `/ir catchup`: who leads, status, contained, pending, then the latest entries. */
export function catchupText(facts: IncidentFacts, max = 10): string {
  const { incident: i } = facts;
  const { contained, pending, running } = state(facts);
  const all = timelineOf(facts);
  return [
    `*Catch-up on ${label(i)}: ${safe(i.title, 120)}*`,
    `*Status:* ${i.status} since ${when(i.statusAt[i.status] ?? i.declaredAt)} · *Lead:* ${person(i.commander)} · *Scribe:* ${person(i.scribe)}`,
    `*Contained:* ${contained.length ? contained.map((c) => safe(c, 200)).join('; ') : 'nothing yet'}`,
    `*Pending:* ${pending.length} approval(s)${pending.length ? ` (${list(pending.map((r) => r.id), 10)})` : ''}, ${running.length} running`,
    `*Next:* ${NEXT_STEP[i.status]}`,
    `*What happened* (last ${Math.min(max, all.length)} of ${all.length}; \`/ir timeline\` for more):`,
    ...all.slice(-max).map(entryLine),
  ].join('\n').slice(0, 3900);
}

/** Response times of one incident, for the report. */
export function timesMarkdown(i: Incident): string[] {
  const out = ['## Incident response times', '', '| milestone | at | after start |', '|---|---|---|', `| start (first seen) | ${when(i.startedAt)} | |`, `| declared | ${when(i.declaredAt)} | ${humanDuration(i.declaredAt - i.startedAt)} |`];
  for (const m of MILESTONES) {
    const at = i.milestones[m];
    out.push(`| ${m} | ${at ? when(at) : 'not yet'} | ${at ? humanDuration(at - i.startedAt) : ''} |`);
  }
  return [...out, ''];
}

export function timelineMarkdown(facts: IncidentFacts): string[] {
  const md = (s: string) => s.replace(/[|\n\r]/g, ' ');
  return ['## Timeline', '', '| at (UTC) | who | what |', '|---|---|---|', ...timelineOf(facts).map((e) => `| ${when(e.at)} | ${md(e.user ?? '')} | ${md(e.text).slice(0, 500)} |`), ''];
}

const VERB: Record<IncidentMilestone, string> = { acknowledged: 'acknowledge', contained: 'contain', eradicated: 'eradicate', closed: 'close' };

function quantile(sorted: number[], q: number): number {
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx];
}

/** `/ir stats [days]`: per milestone, how many incidents reached it, the median and the 90th percentile. */
export function statsText(incidents: Incident[], days: number): string {
  const lines = [`*Incident response times, last ${days} day(s)*: ${incidents.length} incident(s) declared, ${incidents.filter((i) => i.status === 'closed').length} closed`];
  for (const m of MILESTONES as readonly IncidentMilestone[]) {
    const d = incidents.map((i) => (i.milestones[m] !== undefined ? i.milestones[m]! - i.startedAt : undefined)).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    lines.push(d.length ? `• time to ${VERB[m]}: median ${humanDuration(quantile(d, 0.5))}, p90 ${humanDuration(quantile(d, 0.9))} (n=${d.length})` : `• time to ${VERB[m]}: no incident reached it`);
  }
  return lines.join('\n');
}

import type { Finding } from '../findings/model';
import type { PreparedHunt } from '../hunts/templates';
import type { ActionName, ActionRequest } from '../requests/model';
import type { StoredAuditEntry } from './log';

/** Markdown can be broken by a finding's text (it is attacker-influenced): keep it on one line, no markup. */
function md(text: string | undefined, max = 300): string {
  return (text ?? '').replace(/[\r\n]+/g, ' ').replace(/([\\`*_[\]<>|#])/g, '\\$1').slice(0, max);
}

const when = (ms?: number) => (ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

/** Actions that contain an incident: the first verified one is its "contained" time. */
export const CONTAINMENT_ACTIONS: readonly ActionName[] = ['isolate', 'stop', 'disable-key', 'deny-principal', 'revoke-sessions'];
/** Actions that remove what the attacker left: the report's "Eradicated" section. */
const ERADICATION_ACTIONS: readonly ActionName[] = ['terminate', 'delete-keys', 'revoke-rules'];

/** "5 min 3 s", "2 h 10 min", "1 d 4 h": a duration a person reads at a glance. */
export function humanDuration(ms: number): string {
  const s = Math.round(Math.max(0, ms) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ''}`;
}

/** Identical lines once, with how many times they came: "line (×11)". Order of first appearance. */
export function grouped(lines: string[]): string[] {
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].map(([l, n]) => (n > 1 ? `${l} (×${n})` : l));
}

export interface IncidentTimes {
  firstSeen?: number;
  acknowledged?: { at: number; by: string };
  contained?: { at: number; by: string; requestId: string };
  resolved?: { at: number; by: string };
}

const workflowAt = (audit: StoredAuditEntry[], status: string) => {
  const e = audit.filter((x) => x.event === 'workflow-updated' && (x.detail as { status?: string } | undefined)?.status === status).sort((a, b) => a.at.localeCompare(b.at))[0];
  return e ? { at: Date.parse(e.at), by: e.user } : undefined;
};

/**
 * When the incident was first seen (its earliest finding), acknowledged (the card's Acknowledge
 * button: the workflow set to NOTIFIED), contained (the first containment whose end state was
 * verified) and resolved (workflow RESOLVED).
 */
export function incidentTimes(findings: Finding[], requests: ActionRequest[], audit: StoredAuditEntry[]): IncidentTimes {
  const seen = findings.map((f) => Date.parse(f.firstSeen)).filter((t) => Number.isFinite(t));
  const contained = requests
    .filter((r) => CONTAINMENT_ACTIONS.includes(r.action) && r.state === 'done' && r.result?.ok && r.finishedAt)
    .sort((a, b) => a.finishedAt! - b.finishedAt!)[0];
  return {
    firstSeen: seen.length ? Math.min(...seen) : undefined,
    acknowledged: workflowAt(audit, 'NOTIFIED'),
    contained: contained && { at: contained.finishedAt!, by: contained.approvedBy ?? contained.requestedBy, requestId: contained.id },
    resolved: workflowAt(audit, 'RESOLVED'),
  };
}

/** A request's targets, and the ones its plan skipped (a bulk isolation's already-isolated instance) with why. */
function targetsOf(r: ActionRequest): { all: string[]; skipped: Map<string, string> } {
  const all = r.targets?.length ? r.targets : [r.target];
  const skipped = new Map<string, string>();
  const data = r.plan?.data as { skipped?: unknown } | undefined;
  for (const s of Array.isArray(data?.skipped) ? data.skipped : []) {
    if (typeof s !== 'string') continue;
    const at = s.indexOf(': ');
    if (at > 0) skipped.set(s.slice(0, at), s.slice(at + 2));
  }
  return { all, skipped };
}

/** "isolate 10 of 11 instances: i-…, …; skipped i-…" with every id in full. */
function actedOn(r: ActionRequest): string {
  const { all, skipped } = targetsOf(r);
  const done = all.filter((t) => !skipped.has(t));
  const ids = done.map((t) => md(t, 200)).join(', ');
  return skipped.size ? `${r.action} ${done.length} of ${all.length}: ${ids} (skipped: ${[...skipped.keys()].map((t) => md(t, 200)).join(', ')})` : `${r.action} ${ids}`;
}

/**
 * The incident report for a card: its times, findings, resources touched, actions with who asked,
 * who approved, when and with what result (every target), hunts, snapshots, eradication, and the
 * playbook's post-incident questions with what is known. Built from the audit stream and the
 * requests, so it says only what happened. `names` are Slack display names by user id.
 */
export function incidentReport(input: {
  findings: Finding[];
  requests: ActionRequest[];
  audit: StoredAuditEntry[];
  generatedAt: Date;
  generatedBy: string;
  names?: Record<string, string>;
}): string {
  const { findings, requests, audit } = input;
  const names = input.names ?? {};
  const who = (id: string | undefined) => (!id ? '-' : id === 'system' ? 'ir-bot' : names[id] ? `${md(names[id], 80)} (${md(id, 40)})` : md(id, 80));
  const first = [...findings].sort((a, b) => a.firstSeen.localeCompare(b.firstSeen))[0];
  const out: string[] = [];
  out.push(`# Incident report: ${md(first?.type ?? 'unknown finding')}`, '');
  out.push(`Generated ${input.generatedAt.toISOString()} by ${who(input.generatedBy)} from ir-bot's records (audit stream and requests).`, '');

  const t = incidentTimes(findings, requests, audit);
  const after = (at?: number, label?: string) => (at && t.firstSeen ? `${humanDuration(at - t.firstSeen)}${label ? ` (${label})` : ''}` : '');
  out.push('## Times', '', '| milestone | at | by | after first seen |', '|---|---|---|---|');
  out.push(`| first seen | ${when(t.firstSeen)} | ${md(first?.product) || '-'} | |`);
  out.push(`| acknowledged | ${t.acknowledged ? when(t.acknowledged.at) : 'not yet'} | ${who(t.acknowledged?.by)} | ${after(t.acknowledged?.at, 'time to acknowledge')} |`);
  out.push(`| contained (verified) | ${t.contained ? when(t.contained.at) : 'not yet'} | ${t.contained ? `${who(t.contained.by)}, \`${md(t.contained.requestId)}\`` : '-'} | ${after(t.contained?.at, 'time to contain')} |`);
  out.push(`| resolved | ${t.resolved ? when(t.resolved.at) : 'not yet'} | ${who(t.resolved?.by)} | ${after(t.resolved?.at, 'time to resolve')} |`, '');

  out.push('## Findings', '', '| severity | type | account / region | resource | first seen | last seen | count | workflow |', '|---|---|---|---|---|---|---|---|');
  for (const f of findings) {
    const res = f.instance?.id ?? f.principal?.accessKeyId ?? f.principal?.arn ?? f.resources?.[0]?.id ?? '-';
    out.push(`| ${f.severityLabel} ${f.severity} | ${md(f.type, 120)} | ${md(f.accountId, 40)} / ${md(f.region, 30)} | ${md(res, 120)} | ${md(f.firstSeen)} | ${md(f.lastSeen)} | ${f.count} | ${md(f.workflowStatus ?? '-')} |`);
  }
  out.push('');

  const affected = [...new Map(findings.flatMap((f) => f.resources ?? []).map((r) => [`${r.type} ${r.id}`, r])).values()];
  if (affected.length > 0) out.push('## Affected resources', '', ...affected.map((r) => `- ${md(r.type, 60)} \`${md(r.id, 200)}\`${r.region ? ` (${md(r.region, 30)})` : ''}`), '');

  const touched = [...new Set(requests.flatMap((r) => targetsOf(r).all))];
  out.push('## Resources touched', '', ...(touched.length ? touched.map((x) => `- \`${md(x, 200)}\``) : ['- none: no response action was taken']), '');

  out.push(...policySection(audit, requests));
  out.push('## Actions', '');
  if (requests.length === 0) out.push('No response action was requested.', '');
  for (const r of [...requests].sort((a, b) => a.createdAt - b.createdAt)) {
    const { all, skipped } = targetsOf(r);
    out.push(`### ${r.action} ${all.length > 1 ? `${all.length} targets` : md(all[0], 200)} (\`${r.id}\`)`);
    if (all.length > 1) out.push(`- targets: ${all.map((x) => `\`${md(x, 200)}\``).join(', ')}`);
    for (const [id, why] of skipped) out.push(`- skipped \`${md(id, 200)}\`: ${md(why, 400)}`);
    out.push(`- asked by ${who(r.requestedBy)} at ${when(r.createdAt)}${r.reason ? `; reason: ${md(r.reason)}` : ''}`);
    if (r.approvedBy) out.push(`- approved by ${who(r.approvedBy)} at ${when(r.approvedAt)}`);
    if (r.decidedBy && r.state === 'rejected') out.push(`- rejected by ${who(r.decidedBy)} at ${when(r.decidedAt)}`);
    out.push(`- outcome: **${r.state}**${r.finishedAt ? ` at ${when(r.finishedAt)}` : ''}`);
    if (r.plan?.blocked) out.push(`- not run: ${md(r.plan.blocked, 600)}`);
    if (r.action !== 'hunt') for (const l of grouped((r.result?.lines ?? []).map((x) => md(x, 400)))) out.push(`  - ${l}`);
    if (r.result?.attachment?.filename) out.push(`  - also in the card's thread: \`${md(r.result.attachment.filename, 200)}\``);
    if (r.failure) out.push(`- failed: ${md(r.failure.message, 600)}`, ...grouped(r.failure.done.map((d) => md(d))).map((d) => `  - done before the failure: ${d}`));
    out.push('');
  }

  const snapshots = requests.filter((r) => r.action === 'snapshot' && r.result).flatMap((r) => r.result!.lines);
  out.push('## Snapshots', '', ...(snapshots.length ? grouped(snapshots.map((l) => md(l, 400))).map((l) => `- ${l}`) : ['- none taken through ir-bot']), '');

  out.push('## Hunts', '');
  const hunts = requests.filter((r) => r.action === 'hunt').sort((a, b) => a.createdAt - b.createdAt);
  if (hunts.length === 0) out.push('- none run through ir-bot', '');
  for (const r of hunts) out.push(...huntSection(r, who));

  const results = (action: string) => requests.filter((r) => r.action === action && r.result);
  const listed = (actions: readonly string[], none: string) => {
    const lines = actions.flatMap((a) => results(a).flatMap((r) => grouped(r.result!.lines.map((l) => md(l, 400))).map((l) => `- ${a}: ${l} (\`${md(r.id)}\`)`)));
    return lines.length ? lines : [`- ${none}`];
  };
  out.push('## Memory images', '', ...listed(['memory'], 'none captured through ir-bot').map((l) => l.replace(/^- memory: /, '- ')), '');
  out.push('## Blast radius', '');
  if (results('blast-radius').length === 0) out.push('- not mapped through ir-bot', '');
  for (const r of results('blast-radius')) {
    const [head, ...rest] = r.result!.lines;
    out.push(`### ${md(r.target, 200)} (\`${md(r.id)}\`)`, '', md(head, 400), '', ...grouped(rest.map((l) => md(l, 400))).map((l) => `- ${l}`), '');
  }
  out.push('## Eradicated', '', ...listed(ERADICATION_ACTIONS, 'nothing eradicated through ir-bot (no termination, key deletion or rule revocation)'), '');

  out.push('## Timeline', '', '| time | event | by | action | target | request |', '|---|---|---|---|---|---|');
  out.push(...timeline(findings, audit, requests, who), '');

  const done = (actions: readonly ActionName[]) => requests.filter((r) => actions.includes(r.action) && r.state === 'done');
  const known = (items: string[]) => (items.length ? grouped(items).map((i) => `  - ${i}`) : ['  - unknown: for the investigator to answer']);
  out.push('## Post-incident questions (AWS incident response playbook)', '');
  out.push('- What vulnerability or exposure was used?', ...known(findings.filter((f) => f.type.startsWith('UnauthorizedAccess')).map((f) => `finding ${md(f.type)}`)));
  out.push('- What tools or malware were seen?', ...known(findings.filter((f) => f.remote?.domain || f.remote?.ip).map((f) => `${md(f.type)}: ${md(f.remote?.domain ?? f.remote?.ip)}`)));
  out.push('- What was the attacker trying to do?', ...known(findings.map((f) => `finding class ${md(f.type.split(':')[0])}`)));
  out.push('- What damage was done, and what was contained?', ...known(done([...CONTAINMENT_ACTIONS, ...ERADICATION_ACTIONS]).map((r) => `${actedOn(r)} (${r.id})`)));
  out.push('- What was restored, and how?', ...known(done(['release', 'enable-key', 'allow-principal', 'restore-sessions']).map((r) => `${actedOn(r)} (${r.id})`)));
  out.push('');
  return out.join('\n');
}

/** A hunt as the report keeps it: the query and its parameters, rows, cost, and where the CSV is. */
function huntSection(r: ActionRequest, who: (id?: string) => string): string[] {
  const h = r.plan?.data as Partial<PreparedHunt> | undefined;
  const out = [`### ${md(h?.template?.name ?? r.target, 120)} (\`${md(r.id)}\`)`, ''];
  out.push(`- asked by ${who(r.requestedBy)} at ${when(r.createdAt)}; outcome: **${r.state}**${r.finishedAt ? ` at ${when(r.finishedAt)}` : ''}`);
  if (h?.values) out.push(`- parameters: ${Object.entries(h.values).map(([k, v]) => `${md(k, 40)} = \`${md(v, 200)}\``).join(', ')}`);
  if (h?.window) out.push(`- window: ${md(h.window.from)} → ${md(h.window.to)}`);
  if (r.result?.table) out.push(`- rows: ${r.result.table.total}`);
  if (r.result?.lines[0]) out.push(`- result: ${md(r.result.lines[0], 400)}`);
  if (r.result?.attachment?.filename) out.push(`- CSV: \`${md(r.result.attachment.filename, 200)}\` in the card's thread`);
  for (const n of r.result?.notes ?? []) out.push(`- ${md(n, 400)}`);
  if (r.plan?.blocked) out.push(`- not run: ${md(r.plan.blocked, 600)}`);
  if (r.failure) out.push(`- failed: ${md(r.failure.message, 600)}`);
  // The SQL is ir-bot's own template text (values go as ExecutionParameters), so it is shown as is.
  if (h?.sql) out.push('', '```sql', h.sql.replace(/```/g, "'''"), '```');
  out.push('');
  return out;
}

/**
 * One row per event, with rows that differ only in their target folded into one ("11 targets:
 * …"): eleven findings first seen at once, or one request's eleven instances, read as one line.
 */
function timeline(findings: Finding[], audit: StoredAuditEntry[], requests: ActionRequest[], who: (id?: string) => string): string[] {
  // An audit entry names its request's first target; the request knows them all.
  const many = new Map(requests.filter((r) => (r.targets?.length ?? 0) > 1).map((r) => [r.id, `${r.targets.length} targets (listed under Actions)`]));
  const rows = [
    ...findings.map((f) => ({ at: f.firstSeen, event: 'finding first seen', by: md(f.product), action: '', target: f.instance?.id ?? f.principal?.arn ?? '', request: '' })),
    ...audit.map((e) => ({ at: e.at, event: e.event, by: who(e.user), action: e.event === 'workflow-updated' ? md((e.detail as { status?: string } | undefined)?.status) : md(e.action), target: (e.requestId && many.get(e.requestId)) || (e.target ?? ''), request: md(e.requestId) })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  const folded: { row: (typeof rows)[number]; targets: string[]; count: number }[] = [];
  for (const row of rows) {
    const last = folded[folded.length - 1];
    const same = last && last.row.at.slice(0, 19) === row.at.slice(0, 19) && last.row.event === row.event && last.row.by === row.by && last.row.action === row.action && last.row.request === row.request;
    if (same) {
      last.count++;
      if (row.target && !last.targets.includes(row.target)) last.targets.push(row.target);
    } else folded.push({ row, targets: row.target ? [row.target] : [], count: 1 });
  }
  return folded.map(({ row, targets, count }) => {
    const target = targets.length > 1 ? `${targets.length} targets: ${targets.map((x) => md(x, 200)).join(', ')}` : md(targets[0], 200);
    return `| ${md(row.at)} | ${md(row.event)}${count > 1 && targets.length <= 1 ? ` (×${count})` : ''} | ${row.by} | ${row.action} | ${target} | ${row.request} |`;
  });
}

/**
 * What the containment policy did or would have done (docs/autonomy.md): a shadow rule's trial
 * actions are counted here, so a team can read a week of them before turning the rule on.
 */
function policySection(audit: StoredAuditEntry[], requests: ActionRequest[]): string[] {
  type Planned = { action: string; targets: string[] };
  const detail = (e: StoredAuditEntry) => (e.detail ?? {}) as { rule?: string; matched?: string[]; brake?: string; actions?: Planned[] };
  const lines: string[] = [];
  const shadow = audit.filter((e) => e.event === 'policy-shadow');
  const would = shadow.flatMap((e) => detail(e).actions ?? []);
  for (const e of shadow) {
    const d = detail(e);
    for (const a of d.actions ?? []) lines.push(`- shadow: rule \`${md(d.rule, 40)}\` would have run ${md(a.action, 40)} on ${a.targets.map((t) => `\`${md(t, 200)}\``).join(', ')} at ${md(e.at)} (matched: ${md((d.matched ?? []).join(', '), 400)})`);
  }
  for (const e of audit.filter((x) => x.event === 'policy-braked')) {
    const d = detail(e);
    lines.push(`- rule \`${md(d.rule, 40)}\` matched at ${md(e.at)} but did not act on its own: ${md(d.brake, 300)}`);
  }
  for (const r of requests.filter((x) => x.auto)) {
    const how = r.approvedBy === r.requestedBy ? `ran automatically (${r.state})` : r.heldBy ? `held (${md(r.heldBy, 40)}), then ${r.state}` : r.state;
    lines.push(`- rule \`${md(r.auto!.rule, 40)}\` asked ${r.action} of ${targetsOf(r).all.map((t) => `\`${md(t, 200)}\``).join(', ')} (\`${md(r.id)}\`): ${how}`);
  }
  if (!lines.length) return [];
  const head = would.length ? [`Shadow mode: ${would.length} action(s) the policy would have run on its own; nothing was changed for them.`, ''] : [];
  return ['## Automatic containment (policy)', '', ...head, ...lines, ''];
}

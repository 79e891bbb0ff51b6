import type { Finding } from '../findings/model';
import type { ActionRequest } from '../requests/model';
import type { StoredAuditEntry } from './log';

/** Markdown can be broken by a finding's text (it is attacker-influenced): keep it on one line, no markup. */
function md(text: string | undefined, max = 300): string {
  return (text ?? '').replace(/[\r\n]+/g, ' ').replace(/([\\`*_[\]<>|#])/g, '\\$1').slice(0, max);
}

const when = (ms?: number) => (ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : '-');

/**
 * The incident report for a card: timeline, findings, resources touched, actions with who asked,
 * who approved, when and with what result, snapshots, and the playbook's post-incident questions
 * with what is known. Built from the audit stream and the requests, so it says only what happened.
 */
export function incidentReport(input: { findings: Finding[]; requests: ActionRequest[]; audit: StoredAuditEntry[]; generatedAt: Date; generatedBy: string }): string {
  const { findings, requests, audit } = input;
  const first = [...findings].sort((a, b) => a.firstSeen.localeCompare(b.firstSeen))[0];
  const out: string[] = [];
  out.push(`# Incident report: ${md(first?.type ?? 'unknown finding')}`, '');
  out.push(`Generated ${input.generatedAt.toISOString()} by ${md(input.generatedBy)} from ir-bot's records (audit stream and requests).`, '');

  out.push('## Findings', '', '| severity | type | account / region | resource | first seen | last seen | count | workflow |', '|---|---|---|---|---|---|---|---|');
  for (const f of findings) {
    const res = f.instance?.id ?? f.principal?.accessKeyId ?? f.principal?.arn ?? f.resources?.[0]?.id ?? '-';
    out.push(`| ${f.severityLabel} ${f.severity} | ${md(f.type, 120)} | ${md(f.accountId, 40)} / ${md(f.region, 30)} | ${md(res, 120)} | ${md(f.firstSeen)} | ${md(f.lastSeen)} | ${f.count} | ${md(f.workflowStatus ?? '-')} |`);
  }
  out.push('');

  const affected = [...new Map(findings.flatMap((f) => f.resources ?? []).map((r) => [`${r.type} ${r.id}`, r])).values()];
  if (affected.length > 0) out.push('## Affected resources', '', ...affected.map((r) => `- ${md(r.type, 60)} \`${md(r.id, 200)}\`${r.region ? ` (${md(r.region, 30)})` : ''}`), '');

  const touched = [...new Set(requests.flatMap((r) => r.targets ?? [r.target]))];
  out.push('## Resources touched', '', ...(touched.length ? touched.map((t) => `- \`${md(t, 200)}\``) : ['- none: no response action was taken']), '');

  out.push('## Actions', '');
  if (requests.length === 0) out.push('No response action was requested.', '');
  for (const r of [...requests].sort((a, b) => a.createdAt - b.createdAt)) {
    out.push(`### ${r.action} ${md((r.targets ?? [r.target]).join(', '), 400)} (\`${r.id}\`)`);
    out.push(`- asked by ${r.requestedBy} at ${when(r.createdAt)}${r.reason ? `; reason: ${md(r.reason)}` : ''}`);
    if (r.approvedBy) out.push(`- approved by ${r.approvedBy} at ${when(r.approvedAt)}`);
    if (r.decidedBy && r.state === 'rejected') out.push(`- rejected by ${r.decidedBy} at ${when(r.decidedAt)}`);
    out.push(`- outcome: **${r.state}**${r.finishedAt ? ` at ${when(r.finishedAt)}` : ''}`);
    if (r.plan?.blocked) out.push(`- not run: ${md(r.plan.blocked, 600)}`);
    for (const l of r.result?.lines ?? []) out.push(`  - ${md(l, 400)}`);
    if (r.failure) out.push(`- failed: ${md(r.failure.message, 600)}`, ...r.failure.done.map((d) => `  - done before the failure: ${md(d)}`));
    out.push('');
  }

  const snapshots = requests.filter((r) => r.action === 'snapshot' && r.result).flatMap((r) => r.result!.lines);
  out.push('## Snapshots', '', ...(snapshots.length ? snapshots.map((l) => `- ${md(l, 400)}`) : ['- none taken through ir-bot']), '');
  out.push('## Hunts', '', '- none run through ir-bot (Athena hunts are not available in this version)', '');

  const results = (action: string) => requests.filter((r) => r.action === action && r.result);
  const listed = (action: string, none: string) => {
    const lines = results(action).flatMap((r) => r.result!.lines.map((l) => `- ${md(l, 400)} (\`${md(r.id)}\`)`));
    return lines.length ? lines : [`- ${none}`];
  };
  out.push('## Memory images', '', ...listed('memory', 'none captured through ir-bot'), '');
  out.push('## Blast radius', '');
  if (results('blast-radius').length === 0) out.push('- not mapped through ir-bot', '');
  for (const r of results('blast-radius')) {
    const [head, ...rest] = r.result!.lines;
    out.push(`### ${md(r.target, 200)} (\`${md(r.id)}\`)`, '', md(head, 400), '', ...rest.map((l) => `- ${md(l, 400)}`), '');
  }
  out.push('## Eradicated', '', ...listed('terminate', 'nothing terminated through ir-bot'), '');

  out.push('## Timeline', '', '| time | event | by | action | target | request |', '|---|---|---|---|---|---|');
  const timeline = [
    ...findings.map((f) => ({ at: f.firstSeen, row: `| ${md(f.firstSeen)} | finding first seen | ${md(f.product)} | | ${md(f.instance?.id ?? f.principal?.arn ?? '')} | |` })),
    ...audit.map((e) => ({ at: e.at, row: `| ${e.at} | ${e.event} | ${md(e.user)} | ${md(e.action)} | ${md(e.target, 200)} | ${md(e.requestId)} |` })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  out.push(...timeline.map((t) => t.row), '');

  const done = (a: string) => requests.filter((r) => r.action === a && r.state === 'done');
  const known = (items: string[]) => (items.length ? items.map((i) => `  - ${i}`) : ['  - unknown: for the investigator to answer']);
  out.push('## Post-incident questions (AWS incident response playbook)', '');
  out.push('- What vulnerability or exposure was used?', ...known(findings.filter((f) => f.type.startsWith('UnauthorizedAccess')).map((f) => `finding ${md(f.type)}`)));
  out.push('- What tools or malware were seen?', ...known(findings.filter((f) => f.remote?.domain || f.remote?.ip).map((f) => `${md(f.type)}: ${md(f.remote?.domain ?? f.remote?.ip)}`)));
  out.push('- What was the attacker trying to do?', ...known([...new Set(findings.map((f) => md(f.type.split(':')[0])))].map((t) => `finding class ${t}`)));
  out.push(
    '- What damage was done, and what was contained?',
    ...known([...done('isolate'), ...done('stop'), ...done('terminate'), ...done('disable-key'), ...done('deny-principal'), ...done('revoke-sessions')].map((r) => `${r.action} ${md(r.target)} (${r.id})`)),
  );
  out.push('- What was restored, and how?', ...known([...done('release'), ...done('enable-key'), ...done('allow-principal'), ...done('restore-sessions')].map((r) => `${r.action} ${md(r.target)} (${r.id})`)));
  out.push('');
  return out.join('\n');
}

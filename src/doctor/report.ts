/** The doctor's answer, apart from how it was obtained (AWS) and how it is shown (Slack, a terminal, JSON). */

/** One line of the checklist: ✓ or ✗, and for ✗ what to do about it. */
export interface DoctorCheck {
  /** `123456789012 us-east-1`, or `123456789012` for account-wide checks. */
  scope: string;
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  at: string;
  ok: boolean;
  targets: { account: string; region: string }[];
  checks: DoctorCheck[];
}

/** What a scheduled run compares: the checks' outcomes and details, not the time they ran. */
export function fingerprint(report: DoctorReport): string {
  return JSON.stringify(report.checks.map((c) => [c.scope, c.name, c.ok, c.ok ? '' : c.detail]));
}

/** Plain text for a terminal: state and counts first, then each ✗ with its fix, then what passed. */
export function doctorText(report: DoctorReport): string {
  const bad = report.checks.filter((c) => !c.ok);
  const lines = [
    bad.length ? `ir-bot doctor: ${bad.length} of ${report.checks.length} checks failed` : `ir-bot doctor: all ${report.checks.length} checks passed`,
    `accounts and regions: ${report.targets.map((t) => `${t.account} ${t.region}`).join(', ') || 'none'}`,
    '',
  ];
  for (const c of bad) lines.push(`✗ ${c.scope}  ${c.name}: ${c.detail}`, `    fix: ${c.fix ?? '-'}`);
  if (bad.length) lines.push('');
  for (const c of report.checks.filter((x) => x.ok)) lines.push(`✓ ${c.scope}  ${c.name}: ${c.detail}`);
  return lines.join('\n');
}

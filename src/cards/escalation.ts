/**
 * Escalation: a card that gains a higher severity, a new finding type or an attack sequence must
 * notify someone, and `chat.update` notifies nobody. What a card last announced is kept as a
 * summary; a render that shows more than it posts a new message naming what changed. A repeat of
 * a known finding changes nothing in the summary, so it stays quiet.
 */
import { SEVERITY_OF_LABEL, type Finding, type SeverityLabel } from '../findings/model';

export interface Announced {
  /** Highest severity label (closed findings do not count). */
  s: SeverityLabel;
  /** Finding types. */
  t: string[];
  /** Finding keys of attack sequences. */
  q: string[];
}

const RANK: Record<SeverityLabel, number> = { INFORMATIONAL: 0, LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

export function summarize(findings: Finding[]): Announced {
  const open = findings.filter((f) => !f.closed);
  const top = open.reduce<SeverityLabel>((m, f) => (RANK[f.severityLabel] > RANK[m] ? f.severityLabel : m), 'INFORMATIONAL');
  return {
    s: top,
    t: [...new Set(open.map((f) => f.type))].sort(),
    q: open.filter((f) => f.sequence).map((f) => f.key).sort(),
  };
}

export interface Escalation {
  severity: SeverityLabel;
  /** Raw text (finding types and titles): escape before display. */
  changes: { kind: 'severity' | 'type' | 'sequence'; text: string }[];
}

/** What `next` adds over `prev`; undefined when nothing a responder must hear about. */
export function escalationOf(prev: Announced, next: Announced, findings: Finding[]): Escalation | undefined {
  const changes: Escalation['changes'] = [];
  if (RANK[next.s] > RANK[prev.s]) changes.push({ kind: 'severity', text: `severity ${prev.s} → ${next.s}` });
  const seq = next.q.filter((k) => !prev.q.includes(k));
  for (const k of seq.slice(0, 3)) {
    const f = findings.find((x) => x.key === k);
    if (f) changes.push({ kind: 'sequence', text: `attack sequence ${f.type}: ${f.title} (${f.sequence?.signals.length ?? 0} signals)` });
  }
  const seqTypes = new Set(seq.map((k) => findings.find((x) => x.key === k)?.type));
  // A new type is news when it is at least as severe as what the card already announced: a LOW
  // probe joining a HIGH miner card is recorded on the card, not announced.
  const rankOf = (t: string) => Math.max(...findings.filter((f) => f.type === t && !f.closed).map((f) => RANK[f.severityLabel]));
  const types = next.t.filter((t) => !prev.t.includes(t) && !seqTypes.has(t) && rankOf(t) >= RANK[prev.s]);
  if (types.length) changes.push({ kind: 'type', text: `new finding type${types.length > 1 ? 's' : ''} ${types.slice(0, 5).join(', ')}${types.length > 5 ? ` and ${types.length - 5} more` : ''}` });
  return changes.length ? { severity: next.s, changes } : undefined;
}

export function atLeast(label: SeverityLabel, min: SeverityLabel): boolean {
  return SEVERITY_OF_LABEL[label] >= SEVERITY_OF_LABEL[min];
}

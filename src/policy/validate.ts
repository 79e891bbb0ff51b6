import { AUTO_ACTIONS, type FileConfig } from '../config/schema';
import type { SeverityLabel } from '../findings/model';
import { globMatches, splitTag, type PolicyRule } from './match';

type Match = PolicyRule['match'];
const LABEL_RANGE: Record<SeverityLabel, [number, number]> = { INFORMATIONAL: [0, 0.99], LOW: [1, 3.99], MEDIUM: [4, 6.99], HIGH: [7, 8.99], CRITICAL: [9, 10] };

function severityRange(m: Match): [number, number] {
  return [m.minSeverity ?? 0, m.maxSeverity ?? 10];
}

/** Why no finding can ever match `m`, or undefined. */
function neverMatches(m: Match): string | undefined {
  const [lo, hi] = severityRange(m);
  if (lo > hi) return `minSeverity ${lo} is above maxSeverity ${hi}`;
  if (m.severityLabels && !m.severityLabels.some((l) => LABEL_RANGE[l][1] >= lo && LABEL_RANGE[l][0] <= hi)) {
    return `severity labels ${m.severityLabels.join(', ')} lie outside severity ${lo}-${hi}`;
  }
  const keys = new Map<string, string>();
  for (const t of m.tags ?? []) {
    const [k, v] = splitTag(t);
    const other = keys.get(k);
    if (other !== undefined && other !== v && other !== '*' && v !== '*') return `tag ${k} cannot be both ${other} and ${v}`;
    keys.set(k, v);
  }
  return undefined;
}

/** True when every finding type `inner` matches is also matched by `outer`. */
function typeCovers(outer: string, inner: string): boolean {
  // A pattern covers another when it matches the other's text with its `*` read literally.
  return globMatches(outer, inner);
}

/** True when every finding `later` matches, `earlier` matches too: `later` can never decide. */
export function shadows(earlier: Match, later: Match): boolean {
  if (earlier.types && !(later.types && later.types.every((t) => earlier.types!.some((e) => typeCovers(e, t))))) return false;
  const [elo, ehi] = severityRange(earlier);
  const [llo, lhi] = severityRange(later);
  if (llo < elo || lhi > ehi) return false;
  if (earlier.severityLabels && !(later.severityLabels && later.severityLabels.every((l) => earlier.severityLabels!.includes(l)))) return false;
  if (earlier.minConfidence !== undefined && !(later.minConfidence !== undefined && later.minConfidence >= earlier.minConfidence)) return false;
  const subset = (e?: string[], l?: string[], norm = (x: string) => x) => !e || (l !== undefined && l.every((x) => e.map(norm).includes(norm(x))));
  if (!subset(earlier.products, later.products, (x) => x.toLowerCase())) return false;
  if (!subset(earlier.accounts, later.accounts)) return false;
  // OUs nest, which only Organizations knows: only the same ids (or fewer) are known to be covered.
  if (!subset(earlier.ou, later.ou)) return false;
  if (!subset(earlier.regions, later.regions)) return false;
  if (earlier.tags && !earlier.tags.every((t) => (later.tags ?? []).includes(t) || (splitTag(t)[1] === '*' && (later.tags ?? []).some((l) => splitTag(l)[0] === splitTag(t)[0])))) return false;
  if (earlier.attackSequence !== undefined && earlier.attackSequence !== later.attackSequence) return false;
  return true;
}

const CONTAINING = ['contain', 'contain-unless-vetoed', 'shadow'];

/**
 * Everything wrong with the policy, as start-up errors (`autonomy.rules[i] (name): …`): a rule
 * that can never match, one an earlier rule shadows, an action its mode may not run, a rule that
 * names a protected tag (it could contain a protected resource, or would never act).
 */
export function policyProblems(file: Pick<FileConfig, 'autonomy' | 'access'>): string[] {
  const { rules, protectedTags, windowSeconds } = file.autonomy;
  const out: string[] = [];
  const seen = new Set<string>();
  const timeout = file.access.approvalTimeoutMinutes * 60;
  rules.forEach((r, i) => {
    const at = `autonomy.rules[${i}] (${r.name})`;
    if (seen.has(r.name)) out.push(`${at}: another rule has the same name; names identify rules in the thread and the audit`);
    seen.add(r.name);
    const never = neverMatches(r.match);
    if (never) out.push(`${at}: can never match: ${never}`);
    const forbidden = r.actions.filter((a) => !(AUTO_ACTIONS as readonly string[]).includes(a));
    if (forbidden.length) out.push(`${at}: ${forbidden.join(', ')} may never run automatically (allowed: ${AUTO_ACTIONS.join(', ')})`);
    if (CONTAINING.includes(r.mode) && r.actions.length === 0) out.push(`${at}: mode ${r.mode} needs actions (one or more of ${AUTO_ACTIONS.join(', ')})`);
    if (!CONTAINING.includes(r.mode) && r.actions.length) out.push(`${at}: mode ${r.mode} runs nothing on its own, so it may not list actions (${r.actions.join(', ')}); use contain, contain-unless-vetoed or shadow`);
    if (r.windowSeconds !== undefined && r.mode !== 'contain-unless-vetoed') out.push(`${at}: windowSeconds only applies to mode contain-unless-vetoed`);
    const window = r.windowSeconds ?? windowSeconds;
    if (r.mode === 'contain-unless-vetoed' && window >= timeout) out.push(`${at}: the veto window (${window} s) must be shorter than access.approvalTimeoutMinutes (${timeout} s)`);
    for (const t of r.match.tags ?? []) {
      const [k, v] = splitTag(t);
      const hit = protectedTags.find((p) => {
        const [pk, pv] = splitTag(p);
        return pk === k && (pv === '*' || v === '*' || pv === v);
      });
      if (hit && CONTAINING.includes(r.mode)) out.push(`${at}: matches tag ${t}, which autonomy.protectedTags protects (${hit}): it would aim automatic containment at protected resources; match another tag or use mode approve`);
    }
    rules.slice(0, i).forEach((e, j) => {
      if (shadows(e.match, r.match)) out.push(`${at}: can never decide: the earlier rule autonomy.rules[${j}] (${e.name}) matches every finding it matches; put it first or narrow the earlier one`);
    });
  });
  return out;
}

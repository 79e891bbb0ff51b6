import type { AUTO_ACTIONS, FileConfig } from '../config/schema';
import { actionableTargets, type Finding } from '../findings/model';
import type { OuPath, OuPaths } from './ou';

export type Policy = FileConfig['autonomy'];
export type PolicyRule = Policy['rules'][number];
export type PolicyMode = PolicyRule['mode'];
type Match = PolicyRule['match'];

/** `*` matches any run of characters; everything else is literal (finding types hold `!`, `.`, `/`). */
export function globMatches(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

/** `env=dev` → ['env', 'dev']; the value may itself hold `=`. */
export function splitTag(pair: string): [string, string] {
  const i = pair.indexOf('=');
  return [pair.slice(0, i), pair.slice(i + 1)];
}

function tagHolds(pair: string, tags: Record<string, string>): boolean {
  const [k, v] = splitTag(pair);
  return k in tags && (v === '*' || tags[k] === v);
}

/** `Security Hub`, `securityhub` and `security-hub` are one product (an ASFF finding without ProductName is named from its ARN). */
const norm = (s: string | undefined) => (s ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');

/** How a failed `ou` condition begins when the account's place in the organization is not known. */
export const OU_UNKNOWN = 'OU unknown: ';

/**
 * Why `m` matches `f` (one line per condition that held), or undefined at the first condition
 * that does not. An empty match holds for every finding. `ou` is the account's OU path as the
 * worker looked it up; without it an `ou` condition does not hold.
 */
export function explainMatch(m: Match, f: Finding, ou?: OuPath): { matched: string[] } | { failed: string } {
  const matched: string[] = [];
  if (m.types) {
    const t = m.types.find((p) => globMatches(p, f.type));
    if (!t) return { failed: `type ${f.type} is not ${m.types.join(' or ')}` };
    matched.push(`type ${t}`);
  }
  if (m.minSeverity !== undefined || m.maxSeverity !== undefined) {
    if (m.minSeverity !== undefined && f.severity < m.minSeverity) return { failed: `severity ${f.severity} is below ${m.minSeverity}` };
    if (m.maxSeverity !== undefined && f.severity > m.maxSeverity) return { failed: `severity ${f.severity} is above ${m.maxSeverity}` };
    matched.push(`severity ${f.severity}`);
  }
  if (m.severityLabels) {
    if (!m.severityLabels.includes(f.severityLabel)) return { failed: `severity ${f.severityLabel} is not ${m.severityLabels.join(' or ')}` };
    matched.push(`severity ${f.severityLabel}`);
  }
  if (m.minConfidence !== undefined) {
    if (f.confidence === undefined) return { failed: 'the finding gives no confidence' };
    if (f.confidence < m.minConfidence) return { failed: `confidence ${f.confidence} is below ${m.minConfidence}` };
    matched.push(`confidence ${f.confidence}`);
  }
  if (m.products) {
    const p = m.products.find((x) => [norm(f.product), norm(f.format)].includes(norm(x)));
    if (!p) return { failed: `product ${f.product} is not ${m.products.join(' or ')}` };
    matched.push(`product ${p}`);
  }
  if (m.accounts) {
    if (!m.accounts.includes(f.accountId)) return { failed: `account ${f.accountId} is not listed` };
    matched.push(`account ${f.accountId}`);
  }
  if (m.ou) {
    // Containment never runs on a guess: an unknown place in the organization is no match.
    if (!ou || 'unknown' in ou) return { failed: `${OU_UNKNOWN}${ou && 'unknown' in ou ? ou.unknown : 'not looked up'}` };
    const hit = m.ou.find((id) => ou.path.includes(id));
    if (!hit) return { failed: `account ${f.accountId} is under ${ou.path.join(' < ') || 'no OU'}, not ${m.ou.join(' or ')}` };
    matched.push(`OU ${hit}`);
  }
  if (m.regions) {
    if (!m.regions.includes(f.region)) return { failed: `region ${f.region} is not listed` };
    matched.push(`region ${f.region}`);
  }
  if (m.tags) {
    const tags = f.instance?.tags ?? {};
    const missing = m.tags.find((t) => !tagHolds(t, tags));
    if (missing) return { failed: f.instance ? `the instance has no tag ${missing}` : `no instance (tag ${missing} needs one)` };
    matched.push(...m.tags.map((t) => `tag ${t}`));
  }
  if (m.attackSequence !== undefined) {
    const is = Boolean(f.sequence);
    if (is !== m.attackSequence) return { failed: is ? 'it is an attack sequence' : 'it is not an attack sequence' };
    matched.push(is ? 'attack sequence' : 'not an attack sequence');
  }
  return { matched };
}

/** What one automatic action would act on. */
export type AutoAction = (typeof AUTO_ACTIONS)[number];
export interface PlannedAction {
  action: AutoAction;
  targets: string[];
}

/** Set when a rule was skipped because the account's OU is not known ("rule `x`: OU unknown: …"). */
interface Unchecked {
  ouUnknown?: string;
}

export type Decision =
  /** No rule matched: today's flow. */
  | ({ kind: 'none'; tried: { rule: string; failed: string }[] } & Unchecked)
  | ({
      kind: 'rule';
      rule: string;
      /** The mode that applies: a contain rule under `shadow: true` is `shadow`. */
      mode: PolicyMode;
      matched: string[];
      /** What it would run, per action, on the finding's own resources. */
      actions: PlannedAction[];
      /** Set when a brake stops the automatic part: the finding goes to approval instead. */
      brake?: string;
      windowSeconds: number;
      tried: { rule: string; failed: string }[];
    } & Unchecked);

/** What each automatic action acts on, from what the finding names. */
export function plannedActions(rule: PolicyRule, f: Finding): PlannedAction[] {
  const t = actionableTargets(f);
  const roles = t.principals.filter((p) => /:role\//.test(p));
  const of: Record<AutoAction, string[]> = {
    isolate: t.instances,
    snapshot: t.instances,
    memory: t.instances,
    'disable-key': t.accessKeys,
    'revoke-sessions': roles,
  };
  return rule.actions
    .filter((a): a is AutoAction => a in of)
    .map((action) => ({ action, targets: of[action] }))
    .filter((p) => p.targets.length > 0);
}

export interface Protection {
  protectedTags: string[];
  /** autonomy.protectedPrincipals and access.protectedPrincipals: ARNs or bare names. */
  protectedPrincipals: string[];
}

/** Why automatic containment may not touch this finding's resources, or undefined. */
export function protectedBrake(f: Finding, actions: PlannedAction[], p: Protection): string | undefined {
  const tags = f.instance?.tags ?? {};
  const tag = protectedTagIn(tags, p.protectedTags);
  if (tag) return `the instance carries the protected tag ${tag}`;
  const names = actions.flatMap((a) => a.targets).filter((t) => t.startsWith('arn:'));
  for (const arn of names) {
    const name = arn.split('/').pop()!;
    const hit = p.protectedPrincipals.find((x) => x === arn || x === name);
    if (hit) return `${arn} is a protected principal`;
  }
  if (f.principal?.userName && p.protectedPrincipals.includes(f.principal.userName) && actions.some((a) => a.action === 'disable-key' || a.action === 'revoke-sessions')) {
    return `${f.principal.userName} is a protected principal`;
  }
  return undefined;
}

const CONTAINING: readonly PolicyMode[] = ['contain', 'contain-unless-vetoed'];

/**
 * The first rule that matches decides; brakes (protected tags and principals) always win. A rule
 * skipped because the account's OU is unknown might have decided otherwise, so a later rule may
 * not act on its own either.
 */
export function decide(policy: Policy, f: Finding, protection: Protection, ou?: OuPath): Decision {
  const tried: { rule: string; failed: string }[] = [];
  let ouUnknown: string | undefined;
  for (const rule of policy.rules) {
    const res = explainMatch(rule.match, f, ou);
    if ('failed' in res) {
      tried.push({ rule: rule.name, failed: res.failed });
      if (res.failed.startsWith(OU_UNKNOWN)) ouUnknown ??= `rule \`${rule.name}\` could not be checked (${res.failed})`;
      continue;
    }
    const mode: PolicyMode = policy.shadow && CONTAINING.includes(rule.mode) ? 'shadow' : rule.mode;
    const actions = mode === 'notify' || mode === 'approve' ? [] : plannedActions(rule, f);
    const brake = actions.length ? (protectedBrake(f, actions, protection) ?? (ouUnknown && `the earlier ${ouUnknown}`)) : undefined;
    return { kind: 'rule', rule: rule.name, mode, matched: res.matched, actions, brake, windowSeconds: rule.windowSeconds ?? policy.windowSeconds, tried, ouUnknown };
  }
  return { kind: 'none', tried, ouUnknown };
}

/** The account's OU path, looked up only when a rule asks for one. */
export async function ouPathFor(policy: Policy, account: string, ous: OuPaths | undefined): Promise<OuPath | undefined> {
  if (!policy.rules.some((r) => r.match.ou)) return undefined;
  return ous ? ous.of(account) : { unknown: 'no Organizations lookup is configured in this process' };
}

/** "isolate i-1, i-2" as the thread and the audit say it. */
export function describeActions(actions: PlannedAction[]): string {
  const verb: Record<AutoAction, string> = { isolate: 'isolated', snapshot: 'snapshotted', memory: 'captured the memory of', 'disable-key': 'disabled key', 'revoke-sessions': 'revoked the sessions of' };
  return actions.map((a) => `${verb[a.action]} ${a.targets.join(', ')}`).join('; ');
}

/** Protected tags and principals: the autonomy list and the break-glass principals of access. */
export function protectionOf(config: Pick<FileConfig, 'autonomy' | 'access'>) {
  return { protectedTags: config.autonomy.protectedTags, protectedPrincipals: [...config.autonomy.protectedPrincipals, ...config.access.protectedPrincipals] };
}

/** "in 5:00" */
export function clock(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}


/** The first protected tag (`key=value`, value `*`: any) the tags carry, or undefined. */
export function protectedTagIn(tags: Record<string, string>, protectedTags: string[]): string | undefined {
  return protectedTags.find((t) => tagHolds(t, tags));
}

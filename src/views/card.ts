import type { KnownBlock, Button, Overflow, PlainTextOption, StaticSelect } from '@slack/types';
import { actionableTargets, type Finding, type ResourceRef, type SeverityLabel } from '../findings/model';
import { nameOf } from '../findings/console';
import { KIND_LABEL } from '../findings/resources';
import { huntPrefill } from '../hunts/templates';
import {
  ACTION_ID,
  BULK_ACTIONS,
  BULK_ACTION_ID,
  BULK_LABEL,
  FINDING_MENU_ACTION_ID,
  REPORT_ACTION_ID,
  DECLARE_ACTION_ID,
  RESPONSE_LABEL,
  SHOW_ALL_ACTION_ID,
  WORKFLOW_ACTION_ID,
  WORKFLOW_LABEL,
  encodeBulk,
  encodePayload,
  type ResponseKind,
} from './action-ids';
import { code, link, plain, safe, truncate, userMention as mention } from './mrkdwn';
import type { Escalation } from '../cards/escalation';
import type { LaunchFacts } from '../cards/store';
import { CONTAINING, incidentOf, type Effect, type Incident, type ResourceState } from '../cards/incident';

export interface CardView {
  /** Notification/fallback text (mrkdwn, escaped). */
  text: string;
  blocks: KnownBlock[];
}

export const SEVERITY_EMOJI: Record<SeverityLabel, string> = {
  CRITICAL: ':rotating_light:',
  HIGH: ':red_circle:',
  MEDIUM: ':large_orange_circle:',
  LOW: ':large_yellow_circle:',
  INFORMATIONAL: ':white_circle:',
};

/**
 * The responses that make sense for this finding's resources, one set per resource (an attack
 * sequence names several): EC2 ones for instances, IAM ones for long-term keys and user/role
 * ARNs, a hunt when there is something to hunt on. Nothing is offered where ir-bot cannot act.
 */
export function applicableResponses(f: Finding): { kind: ResponseKind; resource?: string }[] {
  const out: { kind: ResponseKind; resource?: string }[] = [];
  const t = actionableTargets(f);
  for (const id of t.instances) out.push({ kind: 'isolate', resource: id }, { kind: 'snapshot', resource: id }, { kind: 'memory', resource: id });
  for (const key of t.accessKeys) out.push({ kind: 'disable-key', resource: key });
  for (const arn of t.principals) {
    out.push({ kind: 'deny-principal', resource: arn });
    if (/:role\//.test(arn)) out.push({ kind: 'revoke-sessions', resource: arn });
  }
  // Everything the actor did: by its access key (temporary ones too), else by its user.
  const actor = f.principal?.accessKeyId ?? t.principals.find((arn) => /:user\//.test(arn));
  if (actor) out.push({ kind: 'blast-radius', resource: actor });
  if (t.instances.length > 0 || t.accessKeys.length > 0 || t.principals.length > 0 || Object.keys(huntPrefill(f)).length > 0) {
    out.push({ kind: 'hunt', resource: t.instances[0] ?? t.accessKeys[0] });
  }
  return out;
}

function resourceLine(f: Finding): string {
  if (f.instance) {
    const i = f.instance;
    const parts = [`*${safe(i.id)}*`];
    if (i.name) parts.push(`(${safe(i.name, 80)})`);
    if (i.type) parts.push(safe(i.type, 40));
    return parts.join(' ');
  }
  if (f.principal) {
    const p = f.principal;
    return [p.userName && `*${safe(p.userName, 80)}*`, p.userType && `(${safe(p.userType, 30)})`, p.accessKeyId && safe(p.accessKeyId)]
      .filter(Boolean)
      .join(' ');
  }
  const first = f.resources?.[0];
  if (first) {
    const more = f.resources!.length > 1 ? ` (+${f.resources!.length - 1} more)` : '';
    return `${kindLabel(first)} *${safe(first.name ?? nameOf(first.id), 120)}*${more}`;
  }
  return '_no resource named_';
}

function kindLabel(r: ResourceRef): string {
  return r.kind === 'other' ? safe(r.type, 60) : KIND_LABEL[r.kind];
}

/** One line per resource: kind, id or ARN, where (when not the finding's own region), details, console link. */
function resourceItem(r: ResourceRef, f: Finding): string {
  const name = r.name && r.name !== r.id && r.name !== nameOf(r.id) ? ` (${safe(r.name, 80)})` : '';
  const where = [r.accountId && r.accountId !== f.accountId ? safe(r.accountId, 20) : undefined, r.region && r.region !== f.region ? safe(r.region, 30) : undefined].filter(Boolean).join(' ');
  const details = r.details.map(([k, v]) => `${safe(k, 40)}: ${safe(v, 100)}`).join(', ');
  return [`• *${kindLabel(r)}* ${code(r.id, 200)}${name}`, where, details, r.consoleUrl && link(r.consoleUrl, 'console')].filter(Boolean).join(' · ');
}

/** Lines joined up to Slack's 3,000-character section text, then a count of what did not fit. */
function fitLines(head: string, lines: string[], noun: string): string {
  let text = head;
  for (let i = 0; i < lines.length; i++) {
    const tail = `\n…and ${lines.length - i} more ${noun}`;
    if (text.length + 1 + lines[i].length + (i < lines.length - 1 ? tail.length : 0) > 3000) return `${text}${tail}`;
    text += `\n${lines[i]}`;
  }
  return text;
}

function resourcesBlock(f: Finding): KnownBlock | undefined {
  const list = f.resources ?? [];
  if (list.length === 0) return undefined;
  // verbatim: ids, tags and details from a finding are shown as written, never auto-linked.
  return { type: 'section', text: { type: 'mrkdwn', verbatim: true, text: fitLines(`*Affected resources (${list.length})*`, list.map((r) => resourceItem(r, f)), 'resources') } };
}

function sequenceBlock(f: Finding): KnownBlock | undefined {
  const s = f.sequence;
  if (!s) return undefined;
  const lines = s.signals.map((g) => {
    const stats = [g.count !== undefined && `${g.count}×`, g.severity !== undefined && `severity ${g.severity}`, g.firstSeen && g.lastSeen && `${when(g.firstSeen)} → ${when(g.lastSeen)}`].filter(Boolean).join(', ');
    return `• ${g.type ? `${safe(g.type, 30)} ` : ''}*${safe(g.name, 150)}*${stats ? ` (${stats})` : ''}${g.description ? `: ${safe(g.description, 200)}` : ''}`;
  });
  if (s.actors.length) lines.push(`*Actors:* ${s.actors.slice(0, 10).map((a) => code(a, 120)).join(', ')}`);
  if (s.endpoints.length) lines.push(`*Endpoints:* ${s.endpoints.slice(0, 10).map((e) => code(e, 120)).join(', ')}`);
  return { type: 'section', text: { type: 'mrkdwn', verbatim: true, text: fitLines(`*Attack sequence: ${s.signals.length} signals*${s.description ? `\n${safe(s.description, 600)}` : ''}`, lines, 'lines') } };
}

function processLine(f: Finding): string | undefined {
  const p = f.process;
  if (!p) return undefined;
  return [p.name && code(p.name, 80), p.pid !== undefined && `pid ${p.pid}`, p.path && code(p.path, 200), p.user && `user ${safe(p.user, 60)}`, p.sha256 && `sha256 ${code(p.sha256, 70)}`].filter(Boolean).join(' ');
}

function remoteLine(f: Finding): string | undefined {
  const r = f.remote;
  if (!r) return undefined;
  const where = [r.ip && code(r.ip, 60), r.domain && code(r.domain, 120)].filter(Boolean).join(' ');
  const extra = [r.port !== undefined && `port ${r.port}`, r.organization && safe(r.organization, 80), r.country && safe(r.country, 60)]
    .filter(Boolean)
    .join(', ');
  if (!where && !extra) return undefined;
  return extra ? `${where} (${extra})` : where;
}

/** Says what was odd about the input, so a responder knows why a field is missing or looks wrong. */
function notesBlock(f: Finding): KnownBlock | undefined {
  if (!f.notes?.length) return undefined;
  return { type: 'context', elements: [{ type: 'mrkdwn', verbatim: true, text: safe(`⚠ Shown despite odd input: ${f.notes.join('; ')}`, 2900) }] };
}

function when(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return safe(iso, 40);
  // Slack renders the date in each reader's time zone; the fallback is UTC.
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${new Date(ms).toISOString()}>`;
}

function field(label: string, value: string): { type: 'mrkdwn'; text: string } {
  return { type: 'mrkdwn', text: `*${label}*\n${value}`.slice(0, 2000) };
}

function responseButtons(f: Finding, incident: Incident): Button[] {
  // Slack refuses a block holding one action_id twice: the second Isolate (another instance) gets `_1`.
  const seen = new Map<string, number>();
  return applicableResponses(f).filter((r) => stillApplies(r, f, incident)).map(({ kind, resource }) => {
    const n = seen.get(kind) ?? 0;
    seen.set(kind, n + 1);
    const b: Button = {
      type: 'button',
      action_id: n === 0 ? ACTION_ID[kind] : `${ACTION_ID[kind]}_${n}`,
      text: plain(resource && kind !== 'hunt' ? `${RESPONSE_LABEL[kind]} ${resource}` : RESPONSE_LABEL[kind], 75),
      value: encodePayload({ a: kind, k: f.key, r: resource }, 'button'),
    };
    if (kind === 'isolate') b.style = 'danger';
    return b;
  });
}

function responseMenu(f: Finding, incident: Incident): Overflow | StaticSelect | undefined {
  // `i` stays the response's place in the whole list: the listener looks it up there.
  const options: PlainTextOption[] = applicableResponses(f).flatMap((r, i) => (stillApplies(r, f, incident) ? [{ ...r, i }] : [])).map(({ kind, resource, i }) => ({
    text: plain(resource && kind !== 'hunt' ? `${RESPONSE_LABEL[kind]} ${resource}` : RESPONSE_LABEL[kind], 75),
    // Option values allow 150 characters: an ARN is referred to by its place in the list.
    value: encodePayload(resource?.startsWith('arn:') ? { a: kind, k: f.key, i } : { a: kind, k: f.key, r: resource }),
  }));
  // Overflow menus take two to five options.
  if (options.length < 2) return undefined;
  // Slack refuses a whole message whose overflow menu has more than five options: a select holds 100.
  if (options.length > 5) return { type: 'static_select', action_id: FINDING_MENU_ACTION_ID, placeholder: plain('Respond…', 75), options };
  return { type: 'overflow', action_id: FINDING_MENU_ACTION_ID, options };
}

/** Responses that contain: withdrawn once a finding is closed or the incident resolved. */
const CONTAINMENT: readonly ResponseKind[] = ['isolate', 'memory', 'disable-key', 'deny-principal', 'revoke-sessions'];

/**
 * What makes a response no longer apply to a resource: containment that is done (or under way)
 * is not offered again. Evidence is: a later snapshot or memory image is a new, separately
 * labelled set, so Snapshot stays (until terminated) and Capture memory stays while the instance runs.
 */
const PROVIDES: Partial<Record<ResponseKind | 'stop', { done: Effect[]; pending?: string }>> = {
  stop: { done: ['stopped', 'terminated'], pending: 'stop' },
  isolate: { done: ['isolated', 'stopped', 'terminated'], pending: 'isolate' },
  snapshot: { done: ['terminated'] },
  memory: { done: ['stopped', 'terminated'] },
  'disable-key': { done: ['disabled'], pending: 'disable-key' },
  'deny-principal': { done: ['denied'], pending: 'deny-principal' },
  'revoke-sessions': { done: ['revoked'], pending: 'revoke-sessions' },
};

function resourceState(incident: Incident, id: string | undefined): ResourceState | undefined {
  return id === undefined ? undefined : (incident.resources.find((r) => r.id === id) ?? incident.others.find((r) => r.id === id));
}

/** Only the responses that still apply: none that contain on a closed finding, none already done or under way. */
function stillApplies(r: { kind: ResponseKind | 'stop'; resource?: string }, f: Finding, incident: Incident): boolean {
  if ((f.closed || incident.status === 'resolved') && (r.kind === 'stop' || CONTAINMENT.includes(r.kind))) return false;
  const p = PROVIDES[r.kind];
  const s = resourceState(incident, r.resource);
  if (!p || !s) return true;
  return !p.done.some((e) => s.done[e]) && !s.pending.some((x) => x.action === p.pending);
}

const EFFECT_TEXT: Record<Effect, string> = {
  isolated: ':lock: isolated',
  stopped: ':black_square_for_stop: stopped',
  terminated: 'terminated',
  snapshotted: ':camera: snapshotted',
  memory: ':brain: memory captured',
  disabled: ':lock: key disabled',
  denied: ':lock: denied all',
  revoked: ':lock: sessions revoked',
};

function shortTime(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{time}|${new Date(ms).toISOString().slice(11, 16)} UTC>`;
}

/** "isolated by @ana 03:12 · snapshotted by @ana 03:20 · stop awaiting approval": what a resource has had done. */
export function stateLine(s: ResourceState): string {
  const done = (Object.keys(s.done) as Effect[]).map((e) => {
    const m = s.done[e]!;
    const by = m.by ? ` by ${mention(m.by)}${m.approvedBy ? ` (approved by ${mention(m.approvedBy)})` : ''}` : ' (found so)';
    return `${EFFECT_TEXT[e]}${by}${m.at ? ` ${shortTime(m.at)}` : ''}`;
  });
  const pending = s.pending.map((p) => `${p.action} ${p.state === 'awaiting-approval' ? 'awaiting approval' : `${p.state}…`}`);
  return [...done, ...pending].join(' · ');
}

const STATUS_TEXT: Record<Incident['status'], string> = {
  new: ':new: *NEW*',
  acknowledged: ':eyes: *ACKNOWLEDGED*',
  contained: ':lock: *CONTAINED*',
  resolved: ':white_check_mark: *RESOLVED*',
};

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/**
 * Production impact: instances in an Auto Scaling group (their tag, or their story), in a load
 * balancer's target group (their story), or carrying a tag configured as critical; and the
 * instances whose stories could not check it, since "no impact" would be a claim nobody checked.
 */
function impactLine(findings: Finding[], incident: Incident, { criticalTags, launches }: HeaderFacts): string | undefined {
  const instances = new Map<string, Finding['instance']>();
  for (const f of findings) if (f.instance && !instances.has(f.instance.id)) instances.set(f.instance.id, f.instance);
  const asgs = new Map<string, number>();
  const targetGroups = new Map<string, number>();
  const tagged = new Map<string, number>();
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const unchecked: string[] = [];
  for (const [id, i] of instances) {
    const facts = launches[id];
    // Out of its group only as far as the isolation's verified result says (not an instance found
    // already isolated, nor one whose isolation had detaching turned off); a terminated one is gone.
    const done = resourceState(incident, id)?.done ?? {};
    const verified = (done.isolated?.result ?? '').split(/\n|; /);
    const out = (took: (line: string) => boolean) => (done.terminated ? 'terminated, was in' : verified.some(took) ? 'taken out of' : 'in');
    const asg = i?.tags?.['aws:autoscaling:groupName'] ?? facts?.autoScalingGroup;
    if (asg) count(asgs, `${out((l) => l.endsWith(`Auto Scaling group ${asg}: detached ✓`))} Auto Scaling group ${code(asg, 120)}`);
    for (const tg of facts?.targetGroups ?? []) {
      count(targetGroups, `${out((l) => (l.includes(`target group ${tg}:`) || l.includes(`target group ${tg} port `)) && l.endsWith(': deregistered ✓'))} target group ${code(tg, 120)}`);
    }
    if (facts?.productionUnchecked) unchecked.push(facts.productionUnchecked);
    for (const spec of criticalTags) {
      const [k, v] = spec.split('=', 2);
      const val = i?.tags?.[k];
      if (val !== undefined && (v === undefined || val === v)) count(tagged, `${k}=${val}`);
    }
  }
  // Groups still serving come first: a live one must not be pushed off by those already left.
  const live = (m: Map<string, number>) => [...m].sort(([a], [b]) => Number(!a.startsWith('in ')) - Number(!b.startsWith('in ')));
  const parts = [
    ...live(asgs).slice(0, 3).map(([g, n]) => `${plural(n, 'instance')} ${g}`),
    ...live(targetGroups).slice(0, 3).map(([g, n]) => `${plural(n, 'instance')} ${g}`),
    ...[...tagged].slice(0, 3).map(([t, n]) => `${plural(n, 'instance')} tagged ${code(t, 120)}`),
  ];
  if (unchecked.length) parts.push(`could not check ${plural(unchecked.length, 'instance')} (${safe(unchecked[0], 200)})`);
  return parts.length ? `:factory: *Production:* ${parts.join(' · ')}` : undefined;
}

/** What the card's resources share: who launched them (their stories), the actor's key or principal, the AMI and its owner, the instance profile (an Auto Scaling group shows as production impact). */
export function commonCause(findings: Finding[], launches: Record<string, LaunchFacts> = {}): { line: string; key?: { id: string; finding: Finding }; principal?: { arn: string; finding: Finding } } | undefined {
  const instances = new Map<string, NonNullable<Finding['instance']>>();
  const findingOf = new Map<string, Finding>();
  for (const f of findings) {
    if (f.instance && !instances.has(f.instance.id)) {
      instances.set(f.instance.id, f.instance);
      findingOf.set(f.instance.id, f);
    }
  }
  const shared = <T>(values: (T | undefined)[]): T | undefined => {
    const set = new Set(values);
    return set.size === 1 && values.length > 1 ? values[0] : undefined;
  };
  /** The value most instances share, when at least two do: the cause may be behind most of them, not all. */
  const mostCommon = (values: (string | undefined)[]): { value: string; count: number } | undefined => {
    const counts = new Map<string, number>();
    for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
    const [value, count] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [];
    return value && count && count >= 2 ? { value, count } : undefined;
  };
  const list = [...instances.values()];
  const n = list.length;
  const many = (count: number) => (count === n ? plural(n, 'instance') : `${count} of ${n} instances`);
  const facts = list.map((i) => launches[i.id]);
  const launchKey = mostCommon(facts.map((x) => x?.accessKeyId));
  const launchPrincipal = mostCommon(facts.map((x) => x?.principal));
  const ami = mostCommon(list.map((i) => i.imageId ?? launches[i.id]?.amiId));
  const amiFacts = ami ? list.filter((i) => (i.imageId ?? launches[i.id]?.amiId) === ami.value).map((i) => launches[i.id]).find((x) => x?.amiOwnerId) : undefined;
  const foreignAmi = amiFacts?.amiOwnerId && amiFacts.amiOwnerId !== findings[0].accountId && amiFacts.amiOwnerAlias !== 'amazon' ? amiFacts.amiOwnerId : undefined;
  const profile = shared(list.map((i) => i.instanceProfileArn));
  const keyed = findings.filter((f) => f.principal?.accessKeyId);
  const keyId = findings.length > 1 && keyed.length === findings.length ? shared(keyed.map((f) => f.principal!.accessKeyId)) : undefined;
  const arned = findings.filter((f) => f.principal?.arn);
  const arn = findings.length > 1 && arned.length === findings.length ? shared(arned.map((f) => f.principal!.arn)) : undefined;
  const parts: string[] = [];
  const actorFinding = keyed[0] ?? arned[0];
  const launcher = launchKey ?? launchPrincipal;
  if (launcher) {
    const principal = launchKey ? facts.find((x) => x?.accessKeyId === launchKey.value)?.principal : launchPrincipal?.value;
    const who = principal ? (principal.startsWith('arn:') ? code(principal, 160) : safe(principal, 120)) : undefined;
    parts.push(`${many(launcher.count)} launched by ${launchKey ? `key ${code(launchKey.value, 30)}${who ? ` of ${who}` : ''}` : who}`);
  }
  if (keyId) parts.push(`${findings.length} findings by key ${code(keyId, 30)}${actorFinding?.principal?.userName ? ` of ${safe(actorFinding.principal.userName, 80)}` : ''}`);
  else if (arn) parts.push(`${findings.length} findings by ${code(arn, 160)}`);
  if (ami) parts.push(`${launcher && launcher.count === ami.count ? 'from' : `${many(ami.count)} from`} ${code(ami.value, 40)}${foreignAmi ? ` (owned by account ${code(foreignAmi, 20)}, not this one)` : ''}`);
  if (profile) parts.push(`${n} with instance profile ${code(profile.split('/').pop() ?? profile, 120)}`);
  if (!parts.length) return undefined;
  const anchor = findingOf.get(list[0]?.id ?? '') ?? findings[0];
  const userArn = (v: string | undefined) => (v && v.length <= 120 && /^arn:aws[a-z-]*:iam::\d{12}:(user|role)\/[\w+=,.@/-]+$/.test(v) ? v : undefined);
  return {
    line: `:dart: *Common cause:* ${parts.join(' · ')}`,
    key: keyId ? { id: keyId, finding: keyed[0] } : launchKey ? { id: launchKey.value, finding: anchor } : undefined,
    principal: arn ? { arn, finding: arned[0] } : userArn(launchPrincipal?.value) ? { arn: launchPrincipal!.value, finding: anchor } : undefined,
  };
}

/** Disable key / Deny / Blast radius on what the card's resources share. */
function causeButtons(cause: NonNullable<ReturnType<typeof commonCause>>, incident: Incident): Button[] {
  const out: Button[] = [];
  const add = (kind: ResponseKind, resource: string, f: Finding, label: string) => {
    if (!stillApplies({ kind, resource }, f, incident)) return;
    const b: Button = { type: 'button', action_id: ACTION_ID[kind], text: plain(label, 75), value: encodePayload({ a: kind, k: f.key, r: resource }, 'button') };
    if (kind !== 'blast-radius') b.style = 'danger';
    out.push(b);
  };
  if (cause.key) {
    if (/^AKIA/.test(cause.key.id)) add('disable-key', cause.key.id, cause.key.finding, `Disable key ${cause.key.id}`);
    add('blast-radius', cause.key.id, cause.key.finding, 'Map blast radius of the key');
  } else if (cause.principal) {
    add('deny-principal', cause.principal.arn, cause.principal.finding, `Deny all ${cause.principal.arn.split('/').pop() ?? ''}`);
    if (/:user\//.test(cause.principal.arn)) add('blast-radius', cause.principal.arn, cause.principal.finding, 'Map blast radius of the user');
  }
  return out;
}

/**
 * The incident's live header, one line each: production impact, status and owner, what is
 * contained, what waits for a human, the next step, the common cause; then closed/reopened notes.
 */
function incidentBlock(findings: Finding[], incident: Incident, facts: HeaderFacts): KnownBlock {
  const lines: string[] = [];
  const impact = impactLine(findings, incident, facts);
  if (impact) lines.push(impact);
  const owner = incident.owner?.by ? `owner ${mention(incident.owner.by)}${incident.owner.at ? ` since ${shortTime(incident.owner.at)}` : ''}` : 'no owner yet: *Acknowledge* to own it';
  const resolvedBy = incident.resolved ? ` · ${incident.resolved.status === 'SUPPRESSED' ? 'suppressed' : 'resolved'} by ${mention(incident.resolved.by)}` : '';
  lines.push(`*Status:* ${STATUS_TEXT[incident.status]} · ${owner}${resolvedBy}`);
  const { n, m, by } = incident.contained;
  if (m > 0) {
    const detail = CONTAINING.filter((e) => by[e]).map((e) => `${by[e]} ${EFFECT_TEXT[e].replace(/^:\w+: /, '')}`);
    lines.push(`*Contained:* ${n} of ${plural(m, 'resource')}${detail.length ? ` (${detail.join(', ')})` : ''}`);
  }
  for (const a of incident.approvals.slice(0, 3)) {
    const who = a.approvers.length ? a.approvers.slice(0, 5).map(mention).join(', ') : 'nobody is configured to approve (access.approvers)';
    lines.push(`*Waiting for approval:* ${safe(a.request.action, 30)} ${plural(a.request.targets.length, 'target')} asked by ${mention(a.request.requestedBy)}; may approve: ${who}`);
  }
  if (incident.approvals.length > 3) lines.push(`…and ${incident.approvals.length - 3} more requests waiting for approval in the thread`);
  if (incident.next) lines.push(`*Next:* ${incident.next}`);
  const cause = findings.length > 1 ? commonCause(findings, facts.launches) : undefined;
  if (cause) {
    // What was done to the cause itself (the key disabled, the user denied), right on its line.
    const done = [cause.key?.id, cause.principal?.arn].map((id) => resourceState(incident, id)).filter((x): x is ResourceState => !!x).map(stateLine).filter(Boolean);
    lines.push(done.length ? `${cause.line} (${done.join('; ')})` : cause.line);
  }
  const closed = findings.filter((f) => f.closed);
  if (closed.length) {
    const f = closed[0];
    const what = closed.length === findings.length ? (findings.length === 1 ? 'This finding is' : 'Every finding here is') : `${closed.length} of ${findings.length} findings are`;
    lines.push(`:white_check_mark: ${what} *${f.closed!.state}* by its provider (${safe(f.closed!.why, 60)}): containment is no longer offered for ${closed.length === findings.length ? 'it' : 'them'}. A later active version reopens it.`);
  }
  const reopened = findings.find((f) => f.reopened && !f.closed);
  if (reopened) lines.push(`:arrows_counterclockwise: *Reopened:* active again after it was ${reopened.reopened!.from} (${safe(reopened.reopened!.at, 40)}).`);
  return { type: 'section', block_id: 'ir_incident', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), 3000) } };
}

/** One line per resource a response can act on, with what has been done to it. */
function responseStateBlock(incident: Incident): KnownBlock | undefined {
  const rows = incident.resources.filter((r) => Object.keys(r.done).length || r.pending.length);
  if (!rows.length) return undefined;
  return { type: 'section', text: { type: 'mrkdwn', text: fitLines('*Response so far*', rows.map((r) => `• ${code(r.id, 200)}: ${stateLine(r)}`), 'resources') } };
}

function singleCard(f: Finding, incident: Incident, facts: HeaderFacts): CardView {
  const fields = [
    field('Account / region', `${safe(f.accountId)} / ${safe(f.region, 40)}`),
    field('Resource', resourceLine(f)),
    field('Severity', `${SEVERITY_EMOJI[f.severityLabel]} ${f.severityLabel} (${f.severity.toFixed(1)})`),
    field('Seen', `${when(f.firstSeen)} → ${when(f.lastSeen)}\n*${f.count}×*`),
  ];
  const remote = remoteLine(f);
  if (remote) fields.push(field('Remote', remote));
  if (f.actionType) fields.push(field('Activity', safe(f.actionType.replace(/_/g, ' ').toLowerCase())));
  if (f.principal && f.instance) fields.push(field('Principal', resourceLine({ ...f, instance: undefined })));
  if (f.instance?.privateIps.length || f.instance?.publicIps.length) {
    fields.push(field('IPs', [...(f.instance.privateIps ?? []), ...(f.instance.publicIps ?? [])].slice(0, 6).map((ip) => safe(ip, 45)).join(', ')));
  }
  if (f.apiCall?.name) {
    const ua = f.apiCall.userAgent ? `\nUA ${code(f.apiCall.userAgent, 300)}` : '';
    fields.push(field('API call', `${safe(f.apiCall.service ?? '', 60)} ${safe(f.apiCall.name, 80)}${ua}`));
  } else if (f.apiCall?.userAgent) {
    fields.push(field('User agent', code(f.apiCall.userAgent, 300)));
  }
  const proc = processLine(f);
  if (proc) fields.push(field('Process', proc));

  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(`${SEVERITY_EMOJI[f.severityLabel]} ${headerState(incident)}${f.severityLabel} · ${f.type}`, 150) },
    incidentBlock([f], incident, facts),
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `*${safe(f.title, 300)}*\n${safe(f.description, 1500)}` },
    },
    { type: 'section', fields: fields.slice(0, 10) },
    ...[responseStateBlock(incident), resourcesBlock(f), sequenceBlock(f), notesBlock(f)].filter((b): b is KnownBlock => b !== undefined),
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `${safe(f.product, 60)} · ${code(f.id, 300)} · ${link(f.consoleUrl, 'Open in AWS console')}${f.workflowStatus ? ` · workflow ${safe(f.workflowStatus, 30)}` : ''}`,
        },
      ],
    },
  ];
  // An actions block holds at most 25 elements; an attack sequence can name more resources than that.
  const buttons = responseButtons(f, incident);
  if (buttons.length > 0) blocks.push({ type: 'actions', block_id: `ir_card_${f.key}`, elements: buttons.slice(0, 25) });
  if (buttons.length > 25) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${buttons.length - 25} more responses fit no button: use \`/ir\` with the resource ids above.` }] });
  }
  blocks.push(caseButtons([f]));
  const first = f.resources?.[0];
  const target = f.instance?.id ?? f.principal?.userName ?? (first ? first.name ?? nameOf(first.id) : undefined) ?? f.remote?.ip;
  return {
    text: `${f.severityLabel} ${safe(f.type, 150)}${target ? ` on ${safe(target, 100)}` : ''} in ${safe(f.accountId)}`,
    blocks,
  };
}

function bySeverityThenRecent(a: Finding, b: Finding): number {
  return b.severity - a.severity || Date.parse(b.lastSeen) - Date.parse(a.lastSeen);
}

/** What a roll-up row is about: the instance, else the access key or principal, else the finding itself. */
export function resourceOf(f: Finding): string {
  return f.instance?.id ?? f.principal?.accessKeyId ?? f.principal?.arn ?? `finding:${f.key}`;
}

/** A roll-up's findings per resource, most severe first; each group's findings most severe first. */
export function groupByResource(findings: Finding[]): Finding[][] {
  const groups = new Map<string, Finding[]>();
  for (const f of [...findings].sort(bySeverityThenRecent)) {
    const r = resourceOf(f);
    const g = groups.get(r);
    if (g) g.push(f);
    else groups.set(r, [f]);
  }
  return [...groups.values()];
}

/** Instances of a roll-up, for its bulk buttons (the listener reads the card again when clicked). */
function instancesOf(findings: Finding[]): string[] {
  return [...new Set(findings.flatMap((f) => (f.instance ? [f.instance.id] : [])))];
}

function rollupRow(group: Finding[], showTypes: boolean, incident: Incident): string {
  const top = group[0];
  const counts = new Map<string, number>();
  for (const f of group) counts.set(f.type, (counts.get(f.type) ?? 0) + f.count);
  const typeText = showTypes
    ? [...counts].slice(0, 4).map(([t, n]) => `${code(t, 100)} ${n}×`).join(', ') + (counts.size > 4 ? `, +${counts.size - 4} types` : '')
    : undefined;
  const total = group.reduce((n, f) => n + f.count, 0);
  const last = group.reduce((m, f) => (Date.parse(f.lastSeen) > Date.parse(m) ? f.lastSeen : m), top.lastSeen);
  return [
    `${SEVERITY_EMOJI[top.severityLabel]} ${top.severity.toFixed(1)} ${resourceLine(top)}`,
    typeText,
    remoteLine(top),
    `${group.length > 1 ? `${group.length} findings, ` : ''}${total}×, last ${when(last)}`,
    link(top.consoleUrl, 'console'),
    rowState(group, incident),
  ]
    .filter(Boolean)
    .join(' · ');
}

/** A row's state: what was done to its resource, or that its finding is closed. */
function rowState(group: Finding[], incident: Incident): string | undefined {
  const s = resourceState(incident, resourceOf(group[0]));
  const closed = group.every((f) => f.closed) ? `:white_check_mark: ${group[0].closed!.state}` : undefined;
  return [closed, s && stateLine(s)].filter(Boolean).join(' · ') || undefined;
}

/** "RESOLVED · " in a header once the incident is resolved: the state shows before the severity. */
function headerState(incident: Incident): string {
  return incident.status === 'resolved' ? 'RESOLVED · ' : incident.status === 'contained' ? 'CONTAINED · ' : '';
}

function rollupCard(findings: Finding[], storm: boolean, listLimit: number, incident: Incident, facts: HeaderFacts): CardView {
  const groups = groupByResource(findings);
  const top = groups[0][0];
  const types = new Set(findings.map((f) => f.type));
  const accounts = new Set(findings.map((f) => f.accountId));
  const regions = new Set(findings.map((f) => f.region));
  const total = findings.reduce((n, f) => n + f.count, 0);
  const first = findings.reduce((m, f) => (Date.parse(f.firstSeen) < Date.parse(m) ? f.firstSeen : m), top.firstSeen);
  const last = findings.reduce((m, f) => (Date.parse(f.lastSeen) > Date.parse(m) ? f.lastSeen : m), top.lastSeen);
  const subject = types.size === 1 ? top.type : `${types.size} finding types`;
  const scope = accounts.size === 1 ? `account ${top.accountId}` : `${accounts.size} accounts`;
  const on = groups.length === 1 ? resourceOf(top).replace(/^finding:.*/, 'one resource') : `${groups.length} resources`;
  const why = storm
    ? 'Storm roll-up: this channel had many new alerts in a short time, so further findings from this account are gathered here.'
    : 'Roll-up: related findings (same type and account, or same resource) seen close together.';

  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(`${SEVERITY_EMOJI[top.severityLabel]} ${headerState(incident)}${findings.length} findings · ${subject} · ${scope}`, 150) },
    incidentBlock(findings, incident, facts),
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `${why} One row per resource (${safe(on, 200)}), most severe first; every finding is recorded.` },
      fields: [
        field('Highest severity', `${SEVERITY_EMOJI[top.severityLabel]} ${top.severityLabel} (${top.severity.toFixed(1)})`),
        field('Account / region', `${[...accounts].slice(0, 5).map((a) => safe(a)).join(', ')} / ${[...regions].slice(0, 5).map((r) => safe(r, 40)).join(', ')}`),
        field('Seen', `${when(first)} → ${when(last)}`),
        field('Occurrences', `${total} across ${findings.length} findings`),
      ],
    },
    { type: 'divider' },
  ];
  for (const group of groups.slice(0, listLimit)) {
    const menu = groups.length > 1 ? responseMenu(group[0], incident) : undefined;
    blocks.push({ type: 'section', block_id: `ir_row_${group[0].key}`, text: { type: 'mrkdwn', text: truncate(rollupRow(group, types.size > 1, incident), 3000) }, ...(menu ? { accessory: menu } : {}) });
  }
  if (groups.length > listLimit) {
    const hidden = groups.slice(listLimit).reduce((n, g) => n + g.length, 0);
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `…and ${groups.length - listLimit} more resources (${hidden} findings), all recorded: *Show all* (or the list posted in the thread once the storm quiets) names every one.` }],
    });
  }
  // A roll-up about one resource keeps that resource's buttons on the card, as a single card would.
  const own = groups.length === 1 ? responseButtons(top, incident) : [];
  if (own.length > 0) blocks.push({ type: 'actions', block_id: `ir_card_${top.key}`, elements: own.slice(0, 25) });
  const cause = commonCause(findings, facts.launches);
  const causeButtonList = cause && groups.length > 1 ? causeButtons(cause, incident) : [];
  if (causeButtonList.length) blocks.push({ type: 'actions', block_id: `ir_cause_${top.key}`, elements: causeButtonList });
  const bulk = rollupButtons(findings, groups, listLimit, incident);
  if (bulk.length > 0) blocks.push({ type: 'actions', block_id: `ir_bulk_${top.key}`, elements: bulk });
  blocks.push(caseButtons(findings));
  return {
    text: `${findings.length} findings: ${safe(subject, 150)} in ${safe(scope, 60)}`,
    blocks,
  };
}

/** "Isolate all n" … for a roll-up over several instances, and "Show all" when rows are hidden. */
function rollupButtons(findings: Finding[], groups: Finding[][], listLimit: number, incident: Incident): Button[] {
  // The finding of an instance, so the request threads under this card; the listener reads the whole card.
  const anchor = findings.find((f) => f.instance)?.key ?? groups[0][0].key;
  const out: Button[] = [];
  const instances = instancesOf(findings);
  if (instances.length > 1) {
    for (const a of BULK_ACTIONS) {
      // Only what is left: not done, not under way, not on a closed finding.
      const left = instances.filter((id) => {
        const f = findings.find((x) => x.instance?.id === id)!;
        return stillApplies({ kind: a, resource: id }, f, incident);
      });
      if (left.length === 0) continue;
      const label = left.length === instances.length ? `${BULK_LABEL[a]} ${left.length}` : `${BULK_LABEL[a].replace(/ all$/, '')} remaining ${left.length}`;
      // The ids ride on the button while they fit (50): a click acts on exactly what the card showed as left.
      const b: Button = { type: 'button', action_id: BULK_ACTION_ID[a], text: plain(label, 75), value: encodeBulk({ a, k: anchor, ...(left.length < instances.length && left.length <= 50 ? { ids: left } : {}) }) };
      if (a !== 'snapshot') b.style = 'danger';
      out.push(b);
    }
  }
  if (groups.length > listLimit) {
    out.push({ type: 'button', action_id: SHOW_ALL_ACTION_ID, text: plain(`Show all ${findings.length}`, 75), value: JSON.stringify({ k: anchor }) });
  }
  return out;
}

/** Security Hub workflow for the card's findings (when Security Hub knows them) and the report. */
function caseButtons(findings: Finding[]): KnownBlock {
  const value = JSON.stringify({ k: findings[0].key });
  const elements: Button[] = [];
  if (findings.some((f) => f.securityHub || f.securityHubV2)) {
    for (const s of ['NOTIFIED', 'RESOLVED', 'SUPPRESSED'] as const) {
      elements.push({ type: 'button', action_id: WORKFLOW_ACTION_ID[s], text: { type: 'plain_text', text: WORKFLOW_LABEL[s] }, value });
    }
  }
  elements.push({ type: 'button', action_id: REPORT_ACTION_ID, text: { type: 'plain_text', text: 'Report' }, value });
  elements.push({ type: 'button', action_id: DECLARE_ACTION_ID, text: { type: 'plain_text', text: 'Declare incident' }, value });
  return { type: 'actions', block_id: `ir_case_${findings[0].key}`, elements };
}

/** One finding gets the full card; several related ones a roll-up that lists them. */
export interface CardOptions {
  storm: boolean;
  listLimit: number;
  rerouted?: { channel: string; error: string };
  /** The incident as the requests and workflow marks say; without it, the card shows the findings alone (new). */
  incident?: Incident;
  /** Tags (`Key` or `Key=Value`) that mark an instance as production: shown first. */
  criticalTags?: string[];
  /** Launch facts from the instances' stories, for the common cause. */
  launches?: Record<string, LaunchFacts>;
}

/** What the card's header reads besides the findings and the incident. */
type HeaderFacts = Required<Pick<CardOptions, 'criticalTags' | 'launches'>>;

export function renderCard(findings: Finding[], opts: CardOptions): CardView {
  if (findings.length === 0) throw new Error('a card needs at least one finding');
  const incident = opts.incident ?? incidentOf(findings, [], {}, { approvers: [], twoPersonRule: true });
  const facts: HeaderFacts = { criticalTags: opts.criticalTags ?? [], launches: opts.launches ?? {} };
  const view = findings.length === 1 && !opts.storm ? singleCard(findings[0], incident, facts) : rollupCard(findings, opts.storm, opts.listLimit, incident, facts);
  if (opts.rerouted) {
    // Says where the card should have gone and why it did not, right under the header.
    const why = `:warning: Routed to <#${safe(opts.rerouted.channel, 30)}>, but Slack refused the post there (\`${safe(opts.rerouted.error, 60)}\`): posted here instead. Invite ir-bot to that channel or fix \`channels.routes\`.`;
    view.blocks.splice(1, 0, { type: 'context', elements: [{ type: 'mrkdwn', text: why }] });
  }
  return view;
}

/** The new message an escalation posts in the card's thread (broadcast): what changed, first. */
export function escalationView(esc: Escalation, mentionGroup?: string): CardView {
  const who = mentionGroup && /^S[A-Z0-9]{2,}$/.test(mentionGroup) ? `<!subteam^${mentionGroup}> ` : '';
  const lines = esc.changes.map((c) => `• ${safe(c.text, 400)}`);
  const head = `${SEVERITY_EMOJI[esc.severity]} ${who}*Escalated to ${esc.severity}:* ${safe(esc.changes.map((c) => c.kind === 'severity' ? c.text : c.kind === 'sequence' ? 'an attack sequence' : 'a new finding type').join(', '), 200)}. The card above is updated.`;
  return {
    text: `Escalated to ${esc.severity}: ${safe(esc.changes.map((c) => c.text).join('; '), 300)}`,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(`${head}\n${lines.join('\n')}`, 3000) } }],
  };
}

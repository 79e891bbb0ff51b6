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
import { code, link, plain, safe, truncate } from './mrkdwn';

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

function responseButtons(f: Finding): Button[] {
  // Slack refuses a block holding one action_id twice: the second Isolate (another instance) gets `_1`.
  const seen = new Map<string, number>();
  return applicableResponses(f).map(({ kind, resource }) => {
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

function responseMenu(f: Finding): Overflow | StaticSelect | undefined {
  const options: PlainTextOption[] = applicableResponses(f).map(({ kind, resource }, i) => ({
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

function singleCard(f: Finding): CardView {
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
    { type: 'header', text: plain(`${SEVERITY_EMOJI[f.severityLabel]} ${f.severityLabel} · ${f.type}`, 150) },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `*${safe(f.title, 300)}*\n${safe(f.description, 1500)}` },
    },
    { type: 'section', fields: fields.slice(0, 10) },
    ...[resourcesBlock(f), sequenceBlock(f), notesBlock(f)].filter((b): b is KnownBlock => b !== undefined),
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
  const buttons = responseButtons(f);
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

function rollupRow(group: Finding[], showTypes: boolean): string {
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
  ]
    .filter(Boolean)
    .join(' · ');
}

function rollupCard(findings: Finding[], storm: boolean, listLimit: number): CardView {
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
    { type: 'header', text: plain(`${SEVERITY_EMOJI[top.severityLabel]} ${findings.length} findings · ${subject} · ${scope}`, 150) },
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
    const menu = groups.length > 1 ? responseMenu(group[0]) : undefined;
    blocks.push({ type: 'section', block_id: `ir_row_${group[0].key}`, text: { type: 'mrkdwn', text: truncate(rollupRow(group, types.size > 1), 3000) }, ...(menu ? { accessory: menu } : {}) });
  }
  if (groups.length > listLimit) {
    const hidden = groups.slice(listLimit).reduce((n, g) => n + g.length, 0);
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `…and ${groups.length - listLimit} more resources (${hidden} findings), all recorded: *Show all* (or the list posted in the thread once the storm quiets) names every one.` }],
    });
  }
  // A roll-up about one resource keeps that resource's buttons on the card, as a single card would.
  const own = groups.length === 1 ? responseButtons(top) : [];
  if (own.length > 0) blocks.push({ type: 'actions', block_id: `ir_card_${top.key}`, elements: own });
  const bulk = rollupButtons(findings, groups, listLimit);
  if (bulk.length > 0) blocks.push({ type: 'actions', block_id: `ir_bulk_${top.key}`, elements: bulk });
  blocks.push(caseButtons(findings));
  return {
    text: `${findings.length} findings: ${safe(subject, 150)} in ${safe(scope, 60)}`,
    blocks,
  };
}

/** "Isolate all n" … for a roll-up over several instances, and "Show all" when rows are hidden. */
function rollupButtons(findings: Finding[], groups: Finding[][], listLimit: number): Button[] {
  // The finding of an instance, so the request threads under this card; the listener reads the whole card.
  const anchor = findings.find((f) => f.instance)?.key ?? groups[0][0].key;
  const out: Button[] = [];
  const instances = instancesOf(findings);
  if (instances.length > 1) {
    for (const a of BULK_ACTIONS) {
      const b: Button = { type: 'button', action_id: BULK_ACTION_ID[a], text: plain(`${BULK_LABEL[a]} ${instances.length}`, 75), value: encodeBulk({ a, k: anchor }) };
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
export function renderCard(findings: Finding[], opts: { storm: boolean; listLimit: number; rerouted?: { channel: string; error: string } }): CardView {
  if (findings.length === 0) throw new Error('a card needs at least one finding');
  const view = findings.length === 1 && !opts.storm ? singleCard(findings[0]) : rollupCard(findings, opts.storm, opts.listLimit);
  if (opts.rerouted) {
    // Says where the card should have gone and why it did not, right under the header.
    const why = `:warning: Routed to <#${safe(opts.rerouted.channel, 30)}>, but Slack refused the post there (\`${safe(opts.rerouted.error, 60)}\`): posted here instead. Invite ir-bot to that channel or fix \`channels.routes\`.`;
    view.blocks.splice(1, 0, { type: 'context', elements: [{ type: 'mrkdwn', text: why }] });
  }
  return view;
}

import type { KnownBlock, Button, Overflow, PlainTextOption, StaticSelect } from '@slack/types';
import type { Finding, SeverityLabel } from '../findings/model';
import {
  ACTION_ID,
  BULK_ACTIONS,
  BULK_ACTION_ID,
  BULK_LABEL,
  FINDING_MENU_ACTION_ID,
  REPORT_ACTION_ID,
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

/** The responses that make sense for this finding's resource; the rest are left off the card. */
export function applicableResponses(f: Finding): { kind: ResponseKind; resource?: string }[] {
  const out: { kind: ResponseKind; resource?: string }[] = [];
  if (f.instance) {
    out.push({ kind: 'isolate', resource: f.instance.id }, { kind: 'snapshot', resource: f.instance.id }, { kind: 'memory', resource: f.instance.id });
  }
  if (f.principal?.accessKeyId) out.push({ kind: 'disable-key', resource: f.principal.accessKeyId });
  // The principal behind the finding: a user or role can be denied; a role's sessions revoked.
  const arn = f.principal?.arn;
  if (arn && /:(user|role)\//.test(arn)) {
    out.push({ kind: 'deny-principal', resource: arn });
    if (/:role\//.test(arn)) out.push({ kind: 'revoke-sessions', resource: arn });
  }
  const actor = f.principal?.accessKeyId ?? (arn && arn.length <= 100 && /:user\//.test(arn) ? arn : undefined);
  if (actor) out.push({ kind: 'blast-radius', resource: actor });
  if (f.instance || f.principal || f.remote?.ip) out.push({ kind: 'hunt', resource: f.instance?.id ?? f.principal?.accessKeyId });
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
  return '_no EC2 or IAM resource named_';
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
  return applicableResponses(f).map(({ kind, resource }) => {
    const b: Button = {
      type: 'button',
      action_id: ACTION_ID[kind],
      text: plain(resource && kind !== 'hunt' ? `${RESPONSE_LABEL[kind]} ${resource}` : RESPONSE_LABEL[kind], 75),
      value: encodePayload({ a: kind, k: f.key, r: resource }),
    };
    if (kind === 'isolate') b.style = 'danger';
    return b;
  });
}

function responseMenu(f: Finding): Overflow | StaticSelect | undefined {
  const options: PlainTextOption[] = applicableResponses(f).map(({ kind, resource }) => ({
    text: plain(resource && kind !== 'hunt' ? `${RESPONSE_LABEL[kind]} ${resource}` : RESPONSE_LABEL[kind], 75),
    value: encodePayload({ a: kind, k: f.key, r: resource }),
  }));
  // Overflow menus need at least two options.
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
  }

  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(`${SEVERITY_EMOJI[f.severityLabel]} ${f.severityLabel} · ${f.type}`, 150) },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `*${safe(f.title, 300)}*\n${safe(f.description, 1500)}` },
    },
    { type: 'section', fields: fields.slice(0, 10) },
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
  const buttons = responseButtons(f);
  if (buttons.length > 0) blocks.push({ type: 'actions', block_id: `ir_card_${f.key}`, elements: buttons });
  blocks.push(caseButtons([f]));
  const target = f.instance?.id ?? f.principal?.userName ?? f.remote?.ip;
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
  if (findings.some((f) => f.securityHub)) {
    for (const s of ['NOTIFIED', 'RESOLVED', 'SUPPRESSED'] as const) {
      elements.push({ type: 'button', action_id: WORKFLOW_ACTION_ID[s], text: { type: 'plain_text', text: WORKFLOW_LABEL[s] }, value });
    }
  }
  elements.push({ type: 'button', action_id: REPORT_ACTION_ID, text: { type: 'plain_text', text: 'Report' }, value });
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

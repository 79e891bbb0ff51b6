import type { KnownBlock, Button, Overflow, PlainTextOption, StaticSelect } from '@slack/types';
import type { Finding, SeverityLabel } from '../findings/model';
import { ACTION_ID, FINDING_MENU_ACTION_ID, REPORT_ACTION_ID, RESPONSE_LABEL, WORKFLOW_ACTION_ID, WORKFLOW_LABEL, encodePayload, type ResponseKind } from './action-ids';
import { code, link, plain, safe } from './mrkdwn';

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
  if (arn && arn.length <= 100 && /:(user|role)\//.test(arn)) {
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

function rollupCard(findings: Finding[], storm: boolean, listLimit: number): CardView {
  const sorted = [...findings].sort(bySeverityThenRecent);
  const top = sorted[0];
  const types = new Set(findings.map((f) => f.type));
  const accounts = new Set(findings.map((f) => f.accountId));
  const regions = new Set(findings.map((f) => f.region));
  const total = findings.reduce((n, f) => n + f.count, 0);
  const first = findings.reduce((m, f) => (Date.parse(f.firstSeen) < Date.parse(m) ? f.firstSeen : m), top.firstSeen);
  const last = findings.reduce((m, f) => (Date.parse(f.lastSeen) > Date.parse(m) ? f.lastSeen : m), top.lastSeen);
  const subject = types.size === 1 ? top.type : `${types.size} finding types`;
  const scope = accounts.size === 1 ? `account ${top.accountId}` : `${accounts.size} accounts`;
  const why = storm
    ? 'Storm roll-up: this channel had many new alerts in a short time, so further findings from this account are gathered here.'
    : 'Roll-up: related findings (same type and account, or same resource) seen close together.';

  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(`${SEVERITY_EMOJI[top.severityLabel]} ${findings.length} findings · ${subject} · ${scope}`, 150) },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `${why} Every finding is recorded; each row below has its own responses.` },
      fields: [
        field('Highest severity', `${SEVERITY_EMOJI[top.severityLabel]} ${top.severityLabel} (${top.severity.toFixed(1)})`),
        field('Account / region', `${[...accounts].slice(0, 5).map((a) => safe(a)).join(', ')} / ${[...regions].slice(0, 5).map((r) => safe(r, 40)).join(', ')}`),
        field('Seen', `${when(first)} → ${when(last)}`),
        field('Occurrences', `${total} across ${findings.length} findings`),
      ],
    },
    { type: 'divider' },
  ];
  for (const f of sorted.slice(0, listLimit)) {
    const remote = remoteLine(f);
    const text = [
      `${SEVERITY_EMOJI[f.severityLabel]} ${f.severity.toFixed(1)} ${resourceLine(f)}`,
      types.size > 1 ? code(f.type, 120) : undefined,
      remote,
      `${f.count}×, last ${when(f.lastSeen)}`,
      link(f.consoleUrl, 'console'),
    ]
      .filter(Boolean)
      .join(' · ');
    const menu = responseMenu(f);
    blocks.push({ type: 'section', block_id: `ir_row_${f.key}`, text: { type: 'mrkdwn', text: text.slice(0, 3000) }, ...(menu ? { accessory: menu } : {}) });
  }
  if (sorted.length > listLimit) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `…and ${sorted.length - listLimit} more findings, all recorded (lower severity or older first).` }],
    });
  }
  blocks.push(caseButtons(findings));
  return {
    text: `${findings.length} findings: ${safe(subject, 150)} in ${safe(scope, 60)}`,
    blocks,
  };
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

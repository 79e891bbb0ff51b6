import type { KnownBlock } from '@slack/types';
import type { Story } from '../actions/story';
import { ACTION_ID, BULK_ACTIONS, BULK_ACTION_ID, BULK_LABEL, encodeBulk, encodePayload } from './action-ids';
import type { CardView } from './card';
import { code, codeText, plain, safe, truncate } from './mrkdwn';

/** A user-data line inside a code block: escaped, no backticks to break out, no mentions. */
function codeLine(text: string): string {
  return codeText(text, 300);
}

function section(text: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, 2900) } };
}

/** Why a section could not be checked, when it could not. */
function unchecked(s: Story, section: NonNullable<Story['unchecked']>[number]['section']): string | undefined {
  const u = s.unchecked?.find((x) => x.section === section);
  return u ? `could not check: ${safe(u.why, 300)}` : undefined;
}

/** What serves production through the instance, or why that could not be checked: told first, as on the card. */
function productionLine(s: Story): string | undefined {
  if (!s.production) return undefined;
  const asgUnchecked = unchecked(s, 'Auto Scaling group');
  const targetsUnchecked = unchecked(s, 'target groups');
  const { autoScalingGroup: asg, targetGroups } = s.production;
  const parts = [
    asgUnchecked ? `Auto Scaling group: ${asgUnchecked}` : asg ? `in Auto Scaling group ${code(asg, 120)}` : undefined,
    ...(targetsUnchecked
      ? [`target groups: ${targetsUnchecked}`]
      : targetGroups.slice(0, 10).map((t) => `in target group ${code(t.name, 120)}${t.port !== undefined ? ` port ${t.port}` : ''} (${t.healthy ? 'healthy' : 'not healthy'}; ${t.otherHealthy} other healthy target${t.otherHealthy === 1 ? '' : 's'})`)),
  ].filter((x): x is string => !!x);
  if (!parts.length) return '*Production*: in no Auto Scaling group and no target group';
  const serving = !!asg || targetGroups.length > 0;
  return `${serving ? ':factory: ' : ''}*Production*: ${parts.join(' · ')}`;
}

const LOOKING_UP = 'looking up… (CloudTrail allows 2 lookups/s per account and region; this message is updated when it answers)';

/** The instance's story as posted in the alert's thread. Every AWS value is escaped. */
export function renderStory(s: Story, findingKey: string): CardView {
  const blocks: KnownBlock[] = [];
  const head = [`*The story of* \`${safe(s.instanceId, 40)}\`${s.name ? ` (${safe(s.name, 80)})` : ''}: ${safe(s.type ?? '?', 30)}, ${safe(s.state, 20)}`];
  if (s.launchTime) head.push(`launched ${safe(s.launchTime, 40)}`);
  blocks.push(section(head.join(', ')));
  const production = productionLine(s);
  if (production) blocks.push(section(production));
  if (s.flags.length) blocks.push(section(`*Flags*\n${s.flags.map((f) => `:warning: ${safe(f, 400)}`).join('\n')}`));
  const amiUnchecked = unchecked(s, 'AMI');
  const roleUnchecked = unchecked(s, 'instance role');
  const facts = [
    `*AMI* ${code(s.ami.id ?? '?', 40)} ${amiUnchecked ? `(owner: ${amiUnchecked})` : `${s.ami.name ? code(s.ami.name, 120) : ''} owner ${safe(s.ami.ownerAlias ?? s.ami.ownerId ?? 'unknown', 40)}`}`,
    `*Network* ${safe(s.vpcId ?? '?', 30)} / ${safe(s.subnetId ?? '?', 30)}, private ${s.privateIps.map((x) => code(x, 45)).join(' ') || '-'}, public ${s.publicIps.map((x) => code(x, 45)).join(' ') || '-'}`,
    `*Instance role* ${s.roleName ? code(s.roleName, 100) : s.profileArn ? code(s.profileArn, 200) : 'none'}${roleUnchecked ? ` (role: ${roleUnchecked})` : ''} · IMDS ${s.imdsV1 ? 'v1 allowed' : 'v2 only'}`,
  ];
  blocks.push(section(facts.join('\n')));
  const groupsUnchecked = unchecked(s, 'security groups');
  if (groupsUnchecked) blocks.push(section(`*Security groups (inbound)*: ${groupsUnchecked}`));
  else if (s.securityGroups.length) {
    blocks.push(
      section(
        `*Security groups (inbound)*\n${s.securityGroups
          .map((g) => `${g.openToWorld ? ':warning: ' : ''}${code(g.id, 30)} ${code(g.name, 80)}: ${g.inbound.map((r) => safe(r, 120)).join('; ') || 'no inbound rules'}`)
          .join('\n')}`,
      ),
    );
  }
  const tags = Object.entries(s.tags).slice(0, 15);
  if (tags.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(`Tags: ${tags.map(([k, v]) => `${code(k, 60)}=${code(v, 120)}`).join(' ')}`, 2900) }] });
  const userDataUnchecked = unchecked(s, 'user data');
  if (userDataUnchecked) blocks.push(section(`*User data*: ${userDataUnchecked}`));
  else if (s.userData) {
    const m = s.userData.matches;
    const lines = m.length
      ? `*User data*: ${m.length} suspicious line(s) of ${s.userData.lines}\n\`\`\`${m.slice(0, 15).map((x) => `${x.line}: ${codeLine(x.text)}    ← ${x.indicator}`).join('\n')}\`\`\``
      : `*User data*: ${s.userData.lines} line(s), nothing matched the miner and persistence indicators`;
    blocks.push(section(lines));
  } else {
    blocks.push(section('*User data*: none'));
  }
  if (s.launch) {
    const l = s.launch;
    blocks.push(
      section(
        `*Launched by* ${code(l.principal, 200)} at ${safe(l.at, 40)}${l.accessKeyId ? ` with key ${code(l.accessKeyId, 30)}` : ''}${l.sourceIp ? ` from ${code(l.sourceIp, 60)}` : ''}${l.userAgent ? `, user agent ${code(l.userAgent, 200)}` : ''}`,
      ),
    );
    if (s.siblings.length) {
      blocks.push(
        section(
          `*The same principal launched ${s.siblings.length} other instance(s)*\n${s.siblings
            .slice(0, 30)
            .map((x) => `• ${code(x.id, 30)} ${safe(x.state, 20)}${x.launchTime ? `, launched ${safe(x.launchTime, 40)}` : ''}`)
            .join('\n')}`,
        ),
      );
      const ids = [s.instanceId, ...s.siblings.filter((x) => x.state !== 'terminated' && x.state !== 'gone').map((x) => x.id)].slice(0, 50);
      blocks.push({
        type: 'actions',
        block_id: 'story-bulk',
        elements: BULK_ACTIONS.map((a) => ({
          type: 'button' as const,
          action_id: BULK_ACTION_ID[a],
          text: { type: 'plain_text' as const, text: `${BULK_LABEL[a]} ${ids.length}` },
          value: encodeBulk({ a, k: findingKey, ids }),
          ...(a === 'snapshot' || a === 'memory' ? {} : { style: 'danger' as const }),
        })),
      });
    }
  }
  // Memory first (a stop destroys it), and the launcher's blast radius.
  const launcher = s.launch?.accessKeyId ?? (s.launch && /:user\//.test(s.launch.principal) && s.launch.principal.length <= 120 ? s.launch.principal : undefined);
  blocks.push({
    type: 'actions',
    block_id: 'story-responses',
    elements: [
      { type: 'button', action_id: BULK_ACTION_ID.memory, text: { type: 'plain_text', text: `Capture memory ${s.instanceId}` }, value: encodeBulk({ a: 'memory', k: findingKey, ids: [s.instanceId] }) },
      ...(launcher
        ? [{ type: 'button' as const, action_id: ACTION_ID['blast-radius'], text: plain(`Map blast radius ${launcher}`, 75), value: encodePayload({ a: 'blast-radius', k: findingKey, r: launcher }, 'button') }]
        : []),
    ],
  });
  const launcherUnchecked = unchecked(s, 'launcher');
  if (s.launchPending) blocks.push(section(`*Launcher*: ${LOOKING_UP}`));
  else if (launcherUnchecked) blocks.push(section(`*Launched by*: ${launcherUnchecked}`));
  else if (!s.launch) {
    blocks.push(section(`*Launched by*: unknown. ${safe(s.launchUnknown ?? '', 600)}`));
  }
  return { text: `The story of ${s.instanceId}`, blocks };
}

/** One instance in a compact story: enough to triage it, with its miner lines and who launched it. */
export interface CompactStory {
  instanceId: string;
  story?: Story;
  /** Why there is no story (gone, another account…). */
  missing?: string;
}

function compactSection(c: CompactStory): KnownBlock {
  const s = c.story;
  if (!s) return section(`${code(c.instanceId, 40)}: no story (${safe(c.missing ?? 'unknown', 300)})`);
  const lines = [
    `${code(s.instanceId, 40)}${s.name ? ` (${safe(s.name, 60)})` : ''} · ${safe(s.type ?? '?', 30)} · ${safe(s.state, 20)}${s.launchTime ? ` · launched ${safe(s.launchTime, 40)}` : ''}`,
    `AMI ${code(s.ami.id ?? '?', 40)} owner ${safe(s.ami.ownerAlias ?? s.ami.ownerId ?? 'unknown', 40)} · role ${s.roleName ? code(s.roleName, 80) : 'none'} · IMDS ${s.imdsV1 ? 'v1 allowed' : 'v2 only'}`,
    s.launchPending
      ? 'Launcher: looking up…'
      : s.launch
        ? `Launched by ${code(s.launch.principal, 160)}${s.launch.accessKeyId ? ` key ${code(s.launch.accessKeyId, 30)}` : ''}${s.launch.sourceIp ? ` from ${code(s.launch.sourceIp, 60)}` : ''}${s.siblings.length ? `, with ${s.siblings.length} other instance(s)` : ''}`
        : `Launched by: ${unchecked(s, 'launcher') ?? 'unknown'}`,
  ];
  const serves = [s.production?.autoScalingGroup ? `Auto Scaling group ${code(s.production.autoScalingGroup, 120)}` : '', ...(s.production?.targetGroups ?? []).slice(0, 5).map((t) => `target group ${code(t.name, 120)}`)].filter(Boolean);
  if (serves.length) lines.push(`:factory: Production: ${serves.join(' · ')}`);
  for (const u of s.unchecked ?? []) if (u.section !== 'launcher') lines.push(`${safe(u.section, 40)}: could not check: ${safe(u.why, 200)}`);
  const m = s.userData?.matches ?? [];
  // Unchecked user data is said in the line above: "none" would be a claim nobody checked.
  if (!unchecked(s, 'user data')) {
    if (m.length) lines.push(`User data: ${m.length} suspicious line(s) of ${s.userData!.lines}, e.g. ${code(`${m[0].line}: ${m[0].text}`, 200)} ← ${safe(m[0].indicator, 60)}`);
    else lines.push(s.userData ? `User data: ${s.userData.lines} line(s), nothing suspicious` : 'User data: none');
  }
  if (s.flags.length) lines.push(s.flags.slice(0, 4).map((f) => `:warning: ${safe(f, 200)}`).join(' '));
  return section(lines.join('\n'));
}

/**
 * Stories of many instances in one message (a storm's card): one section per instance, within
 * Slack's 50 blocks and 3,000 characters per section; `/ir audit` and the next card detail the rest.
 */
export function renderCompactStories(items: CompactStory[], part: { from: number; total: number }): CardView {
  const to = part.from + items.length - 1;
  const blocks: KnownBlock[] = [section(`*Instance stories ${part.from}–${to} of ${part.total}* (compact: many instances on this card)`)];
  for (const c of items.slice(0, 40)) blocks.push(compactSection(c));
  return { text: `Instance stories ${part.from}–${to} of ${part.total}`, blocks };
}

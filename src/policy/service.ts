import type { AuditLog } from '../audit/log';
import type { CardStore } from '../cards/store';
import type { Config } from '../config/load';
import type { Lifecycle } from '../requests/lifecycle';
import type { ActionRequest } from '../requests/model';
import type { RequestStore } from '../requests/store';
import { code, safe } from '../views/mrkdwn';
import { clock, decide, describeActions, ouPathFor, protectionOf, type PolicyRule } from './match';
import type { OuPaths } from './ou';
import type { AutonomyState } from './state';
import { AUTONOMY_OFF_NOTICE } from './window';

const HOLD_NOTICE = 'Held: the automatic run was stopped and nothing was changed. It now needs an approver, like any request: approve or reject below.';

/** What Slack may ask of autonomy: Hold, the kill switch, the policy and why a finding matches it. No AWS here. */
export class AutonomyService {
  constructor(
    private readonly config: Pick<Config, 'autonomy' | 'access'>,
    private readonly store: RequestStore,
    private readonly life: Lifecycle,
    private readonly state: AutonomyState,
    private readonly cards: CardStore,
    private readonly audit: AuditLog,
    /** What the worker recorded of accounts' OUs (this process calls no AWS). */
    private readonly ous?: OuPaths,
    /** A person held a rule's run (counted on /metrics as outcome `held`). */
    private readonly onHeld?: (r: ActionRequest) => void,
  ) {}

  /** The caller has checked the user is an approver (Hold has the authorization of an approval). */
  async hold(requestId: string, rev: number, userId: string): Promise<{ ok: boolean; message?: string }> {
    const r = await this.store.get(requestId);
    if (!r) return { ok: false, message: 'That request is no longer known.' };
    if (r.heldBy) return { ok: false, message: `Already held (${r.heldBy.startsWith('U') || r.heldBy.startsWith('W') ? `by <@${r.heldBy}>` : r.heldBy}): it waits for an approver.` };
    if (r.state !== 'awaiting-approval' || r.autoAt === undefined) {
      const late = r.state === 'running' || r.state === 'done' || r.state === 'approved';
      return { ok: false, message: late ? `Too late to hold: the rule's run has started (${r.state}). Undo it with the Release or undo button on its result.` : `This request is ${r.state}; there is no automatic run to hold.` };
    }
    if (r.rev !== rev) return { ok: false, message: 'This countdown was replaced by a newer plan; use the newest message in the thread.' };
    const ok = await this.life.hold(r, userId, HOLD_NOTICE);
    if (ok) {
      this.onHeld?.(r);
      return { ok };
    }
    const fresh = await this.store.get(requestId);
    return { ok: false, message: fresh?.state === 'approved' || fresh?.state === 'running' ? 'Too late to hold: the window ended and the rule started its run. Undo it with the button on its result.' : 'Someone else decided on this request first.' };
  }

  /** `/ir autonomy off|on` (approvers only). Off holds every pending automatic action at once. */
  async setEnabled(on: boolean, userId: string): Promise<string> {
    await this.state.setOff(on ? undefined : userId);
    await this.audit.append({ event: on ? 'autonomy-on' : 'autonomy-off', user: userId });
    if (on) return ':robot_face: Automatic containment is *on* again for new matches. Requests held while it was off still wait for approval in their threads.';
    let held = 0;
    for (const { id } of await this.store.open(1000)) {
      const r = await this.store.get(id);
      if (r?.state === 'awaiting-approval' && r.autoAt !== undefined && (await this.life.hold(r, 'autonomy-off', AUTONOMY_OFF_NOTICE(userId)))) held++;
    }
    return `:octagonal_sign: Automatic containment is *off*: ${held} pending automatic action(s) held (each now waits for approval in its thread). New matches wait for approval too, until \`/ir autonomy on\`.`;
  }

  /** `/ir policy`: the switch, the breaker's count and every rule in order. */
  async describe(): Promise<string> {
    const a = this.config.autonomy;
    const off = await this.state.offBy();
    const lines = [
      `*Autonomy*: ${off ? `:octagonal_sign: off (by <@${off}>)` : ':robot_face: on'}${a.shadow ? ' · :test_tube: whole policy in shadow mode' : ''} · automatic actions in the last hour: ${await this.state.lastHour()} of ${a.maxPerHour} (per account ${a.maxPerAccountPerHour})`,
      `Protected, never automatic: ${[...a.protectedTags.map((t) => `tag ${t}`), ...protectionOf(this.config).protectedPrincipals].map((x) => code(x)).join(', ') || 'nothing'}`,
    ];
    if (!a.rules.length) lines.push('No rules: every finding gets today\'s flow (approve).');
    a.rules.forEach((r, i) => lines.push(`${i + 1}. ${ruleLine(r, a.windowSeconds)}`));
    lines.push('Findings no rule matches: approve (today\'s flow). `/ir policy test <finding-id>` says which rule a finding matches and why.');
    return lines.join('\n');
  }

  /** `/ir policy test <finding-id>`: the rule that decides, what held, and why the earlier rules did not match. */
  async test(findingIdOrKey: string): Promise<string> {
    const key = (await this.cards.getFinding(findingIdOrKey)) ? findingIdOrKey : await this.cards.findingKeyForId(findingIdOrKey);
    const f = key ? await this.cards.getFinding(key) : undefined;
    if (!f) return `No finding \`${safe(findingIdOrKey, 120)}\` is known (findings are kept for the retention period).`;
    const d = decide(this.config.autonomy, f, protectionOf(this.config), await ouPathFor(this.config.autonomy, f.accountId, this.ous));
    const head = `Finding \`${safe(f.id, 200)}\` (${safe(f.type, 200)}, severity ${f.severity}, account ${safe(f.accountId, 20)}):`;
    const skipped = d.tried.map((t) => `• rule \`${t.rule}\` did not match: ${safe(t.failed, 300)}`);
    if (d.kind === 'none') return [head, 'no rule matches, so it gets today\'s flow (approve).', ...skipped].join('\n');
    const rule = this.config.autonomy.rules.find((r) => r.name === d.rule)!;
    const acts = d.actions.length ? describeActions(d.actions).replace(/^/, 'it would have ') : rule.actions.length ? `the finding names nothing ${rule.actions.join('/')} can act on` : 'it runs nothing on its own';
    const out = [head, `matches rule \`${d.rule}\` (${d.mode}) on ${safe(d.matched.join(', ') || 'every finding', 600)}: ${acts}.`];
    if (d.brake) out.push(`:shield: but a brake wins: ${safe(d.brake, 300)}; it would go to approval.`);
    if ((await this.state.offBy()) && d.actions.length) out.push(':octagonal_sign: autonomy is off right now: it would be held for approval.');
    return [...out, ...skipped].join('\n');
  }
}

function ruleLine(r: PolicyRule, windowSeconds: number): string {
  const m = r.match;
  const when = [
    m.types && `type ${m.types.join(' or ')}`,
    (m.minSeverity !== undefined || m.maxSeverity !== undefined) && `severity ${m.minSeverity ?? 0}-${m.maxSeverity ?? 10}`,
    m.severityLabels && `severity ${m.severityLabels.join('/')}`,
    m.minConfidence !== undefined && `confidence ≥ ${m.minConfidence}`,
    m.products && `product ${m.products.join(' or ')}`,
    m.accounts && `account ${m.accounts.join(' or ')}`,
    m.ou && `OU ${m.ou.join(' or ')} (or one below)`,
    m.regions && `region ${m.regions.join(' or ')}`,
    m.tags && `tag ${m.tags.join(' and ')}`,
    m.attackSequence !== undefined && (m.attackSequence ? 'attack sequence' : 'not an attack sequence'),
  ].filter(Boolean);
  const window = r.mode === 'contain-unless-vetoed' ? ` (${clock((r.windowSeconds ?? windowSeconds) * 1000)} to Hold)` : '';
  return `\`${r.name}\` *${r.mode}*${window}${r.actions.length ? ` ${r.actions.join(', ')}` : ''} — when ${safe(when.join(', ') || 'any finding', 800)}`;
}

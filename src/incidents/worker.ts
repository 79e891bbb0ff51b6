import { ErrorCode, type WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import type { AuditLog } from '../audit/log';
import { incidentReport } from '../audit/report';
import type { Config } from '../config/load';
import { channelRefusal, publish, type PublishDeps } from '../jobs/publish';
import type { ActionOutcome, ActionRequest } from '../requests/model';
import { CONTAINMENT_ACTIONS } from '../audit/report';
import { uploadOnce } from '../slack/upload';
import { retryLater } from '../jobs/delay';
import { JiraBusy, JiraRefused, type JiraClient } from './jira';
import type { UserNames } from '../slack/user-names';
import type { PostLedger } from '../slack/post-ledger';
import { safe } from '../views/mrkdwn';
import type { IncidentJob, IncidentService } from './service';
import type { Incident } from './store';
import type { CardState } from '../cards/store';
import { channelNameFor, label, summaryBlocks, timelineMarkdown, timesMarkdown } from './view';

export interface IncidentWorkerDeps extends PublishDeps {
  slack: WebClient;
  posts: PostLedger;
  incidents: IncidentService;
  audit: AuditLog;
  config: Pick<Config, 'incidents' | 'access'>;
  names?: UserNames;
  /** With config.incidents.jira: one issue per incident. */
  jira?: JiraClient;
  jiraBaseUrl?: string;
  /** Makes the label that finds an incident's issue unique to this deployment. */
  prefix: string;
}

/** Slack's answer code for a refused Web API call; undefined when Slack never answered (retry). */
function slackError(err: unknown): string | undefined {
  const e = err as { code?: string; data?: { error?: string } };
  return e.code === ErrorCode.PlatformError ? e.data?.error : undefined;
}

/** What a refusal means to the person who declared, and what to do about it. */
function explain(step: string, error: string): string {
  if (error === 'missing_scope') return `${step}: the Slack app lacks a scope for it (\`missing_scope\`). Add the scopes in manifest.yml (groups:write, channels:manage, pins:write…) and reinstall the app.`;
  if (error === 'restricted_action') return `${step}: the workspace does not let apps do this (\`restricted_action\`); an admin can allow it.`;
  if (error.startsWith('invalid_name')) return `${step}: Slack refused the channel name (\`${error}\`); fix \`incidents.channelName\` (a-z, 0-9, - and _, at most 80).`;
  return `${step}: Slack answered \`${error}\`.`;
}

/** Channel, invitations, pinned summary, links, the report and the archive: each step recorded, so a re-run continues. */
export function incidentProcessor(deps: IncidentWorkerDeps) {
  const { incidents } = deps;
  const store = incidents.store;
  let me: { userId?: string; url?: string } | undefined;
  /** Publish hooks that remember a line was posted, so a re-run job does not post it again. */
  const said = (id: string, key: string) => ({ posted: () => store.markSaid(id, key), updated: () => store.markSaid(id, key), deleted: async () => undefined });
  async function whoAmI() {
    if (!me) {
      const res = await deps.slack.auth.test();
      me = { userId: res.user_id, url: res.url };
    }
    return me;
  }

  async function problem(i: Incident, step: string, error: string): Promise<void> {
    const text = explain(step, error);
    await store.update(i.id, (x) => (x.problems.includes(text) ? undefined : { ...x, problems: [...x.problems, text] }));
    await store.addTimeline(i.id, { at: Date.now(), kind: 'problem', text });
  }

  /** Every recorded problem told once where it was declared (a job re-run after a Slack wait tells what is left). */
  async function tellProblems(id: string, job: Job, token?: string): Promise<void> {
    const i = (await store.get(id))!;
    for (const [n, text] of i.problems.entries()) {
      await tell(i, `problem-${n}`, `:warning: ${label(i)}: ${text} The incident exists and works without it (\`/ir incident … ${i.id}\` from anywhere).`, job, token, !i.channel || !text.startsWith('The channel could not be archived'));
    }
  }

  /** A line in the incident channel; into the thread it was declared from when there is no channel. */
  async function tell(i: Incident, key: string, text: string, job: Job, token: string | undefined, origin = false): Promise<void> {
    if (await store.said(i.id, key)) return;
    const channel = origin || !i.channel ? i.origin.channel : i.channel;
    const threadTs = origin || !i.channel ? i.origin.threadTs : undefined;
    try {
      await publish(deps, job, token, { key: `inc:${i.id}:${key}`, channel, threadTs, text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } }] }, said(i.id, key));
    } catch (err) {
      // An archived (closed) or left channel takes no more lines; no retry changes that.
      const refused = channelRefusal(err);
      if (!refused) throw err;
      deps.log.warn({ incident: i.id, channel, error: refused }, 'incident line not posted: the channel refuses posts');
      await store.markSaid(i.id, key);
    }
  }

  /** The bot's own channel of this name that no incident has yet: a create whose answer was lost. */
  async function ownChannel(name: string): Promise<string | undefined> {
    const { userId } = await whoAmI();
    let cursor: string | undefined;
    do {
      const res = await deps.slack.conversations.list({ types: 'public_channel,private_channel', exclude_archived: true, limit: 1000, cursor });
      const c = (res.channels ?? []).find((x) => x.name === name);
      if (c?.id) return c.creator === userId && !(await store.ofChannel(c.id)) ? c.id : undefined;
      cursor = res.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return undefined;
  }

  async function ensureChannel(i: Incident): Promise<Incident> {
    const base = channelNameFor(deps.config.incidents.channelName, i);
    for (let n = 1; n <= 10; n++) {
      const suffix = n === 1 ? '' : `-${n}`;
      const name = `${base.slice(0, 80 - suffix.length)}${suffix}`;
      // Written before the call: a crash after Slack created it finds it by this name (see ownChannel).
      await store.update(i.id, (x) => ({ ...x, channelName: name }));
      try {
        const res = await deps.slack.conversations.create({ name, is_private: deps.config.incidents.private });
        const id = res.channel?.id;
        if (!id) throw new Error('conversations.create returned no channel');
        await store.setChannel(id, i.id);
        return (await store.update(i.id, (x) => ({ ...x, channel: id, channelName: name })))!;
      } catch (err) {
        const error = slackError(err);
        if (error !== 'name_taken') {
          if (!error) throw err;
          await problem(i, 'The incident channel could not be created', error);
          return (await store.update(i.id, (x) => ({ ...x, channelName: undefined, channel: undefined })))!;
        }
        const own = await ownChannel(name);
        if (own) {
          await store.setChannel(own, i.id);
          return (await store.update(i.id, (x) => ({ ...x, channel: own, channelName: name })))!;
        }
      }
    }
    await problem(i, 'The incident channel could not be created', 'name_taken');
    return i;
  }

  /** Whoever pressed Acknowledge on a member card (the Security Hub workflow NOTIFIED in the audit trail). */
  async function acknowledgers(i: Incident): Promise<string[]> {
    const entries = i.findingKeys.length ? await deps.audit.find(i.findingKeys.map((findingKey) => ({ findingKey }))) : [];
    return entries.filter((e) => e.event === 'workflow-updated' && (e.detail as { status?: string } | undefined)?.status === 'NOTIFIED').map((e) => e.user);
  }

  async function members(i: Incident): Promise<string[]> {
    const subjects = [...deps.config.incidents.invite, ...(deps.config.incidents.inviteApprovers ? deps.config.access.approvers : []), i.declaredBy, i.commander, ...(await acknowledgers(i))].filter((s): s is string => !!s && s !== 'system' && s !== '*');
    const users = new Set<string>();
    for (const s of subjects) {
      if (!s.startsWith('S')) {
        users.add(s);
        continue;
      }
      const res = await deps.slack.usergroups.users.list({ usergroup: s }).catch(() => undefined);
      for (const u of res?.users ?? []) users.add(u);
    }
    users.delete((await whoAmI()).userId ?? '');
    return [...users];
  }

  async function invite(i: Incident, only?: string): Promise<void> {
    const failed: string[] = [];
    for (const user of only ? [only] : await members(i)) {
      try {
        await deps.slack.conversations.invite({ channel: i.channel!, users: user });
      } catch (err) {
        const error = slackError(err);
        if (!error) throw err;
        if (error !== 'already_in_channel' && error !== 'cant_invite_self') failed.push(`${user} (${error})`);
      }
    }
    if (failed.length) await problem(i, `Not invited: ${failed.join(', ')}`, failed[0].split('(')[1].slice(0, -1));
    if (!only) await store.update(i.id, (x) => ({ ...x, invited: true }));
  }

  async function renderSummary(i: Incident, job: Job, token?: string): Promise<Incident> {
    if (!i.channel) return i;
    const facts = (await incidents.facts(i.id))!;
    facts.workspaceUrl = (await whoAmI()).url;
    facts.jiraBaseUrl = deps.jiraBaseUrl;
    const view = summaryBlocks(facts);
    await publish(deps, job, token, { key: `inc:${i.id}:summary`, channel: i.channel, ts: i.summaryTs, text: view.text, blocks: view.blocks }, {
      posted: async (ts) => void (await store.update(i.id, (x) => ({ ...x, summaryTs: ts }))),
      updated: async () => undefined,
      deleted: async () => void (await store.update(i.id, (x) => ({ ...x, summaryTs: undefined, pinned: false }))),
    });
    return (await store.get(i.id))!;
  }

  async function pin(i: Incident): Promise<void> {
    try {
      await deps.slack.pins.add({ channel: i.channel!, timestamp: i.summaryTs! });
    } catch (err) {
      const error = slackError(err);
      if (!error) throw err;
      if (error !== 'already_pinned') await problem(i, 'The summary could not be pinned', error);
    }
    await store.update(i.id, (x) => ({ ...x, pinned: true }));
  }

  async function setup(id: string, job: Job, token?: string): Promise<string> {
    let i = await store.get(id);
    if (!i) return 'gone';
    if (!i.channel && !i.problems.some((p) => p.startsWith('The incident channel'))) i = await ensureChannel(i);
    if (i.channel && !i.invited) await invite(i);
    i = (await store.get(id))!;
    if (i.channel && !i.summaryTs) i = await renderSummary(i, job, token);
    if (i.channel && i.summaryTs && !i.pinned) await pin(i);
    const where = i.channel ? `<#${i.channel}>` : 'no channel (see above)';
    for (const k of i.findingKeys) {
      const t = await deps.incidents.threadOfFinding(k);
      if (t && !(await store.said(id, `link-${k}`))) await publish(deps, job, token, { key: `inc:${id}:link:${k}`, channel: t.channel, threadTs: t.ts, text: `Part of ${label(i)}`, blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: `:rotating_light: This finding is part of *${label(i)}* (${safe(i.title, 100)}): ${where}` }] }] }, said(id, `link-${k}`));
    }
    if (i.channel && !i.findingKeys.length) await tell(i, 'declared-origin', `:rotating_light: *${label(i)}* declared: <#${i.channel}>`, job, token, true);
    await tellProblems(id, job, token);
    return 'set up';
  }

  async function close(id: string, user: string, job: Job, token?: string): Promise<string> {
    const i = await store.get(id);
    if (!i) return 'gone';
    const facts = (await incidents.facts(id))!;
    const audit = await deps.audit.find([...facts.requests.map((r) => ({ requestId: r.id })), ...facts.findings.map((f) => ({ findingKey: f.key }))]);
    const people = [user, ...facts.requests.flatMap((r) => [r.requestedBy, r.approvedBy]), ...facts.timeline.map((e) => e.user)].filter((u): u is string => !!u && u !== 'system');
    const names = (await deps.names?.names(people)) ?? {};
    const body = facts.findings.length ? incidentReport({ findings: facts.findings, requests: facts.requests, audit, generatedAt: new Date(), generatedBy: user, names }) : '';
    const content = [`# ${label(i)}: ${i.title.replace(/\n/g, ' ')}`, '', `Status ${i.status}; commander ${i.commander ?? 'none'}; closed by ${user}.`, '', ...timesMarkdown(i), ...timelineMarkdown(facts), body].join('\n');
    const channel = i.channel ?? i.origin.channel;
    await uploadOnce(deps, `inc-report-${id}`, { channel, threadTs: i.channel ? undefined : i.origin.threadTs, content, filename: `incident-${label(i).toLowerCase()}-report.md`, title: `${label(i)} report` });
    if (i.channel && deps.config.incidents.archiveOnClose) {
      try {
        await deps.slack.conversations.archive({ channel: i.channel });
      } catch (err) {
        const error = slackError(err);
        if (!error) throw err;
        if (error !== 'already_archived') await problem(i, 'The channel could not be archived', error);
      }
    }
    await tellProblems(id, job, token);
    await incidents.ticket(id, 'close', 'close', content);
    return 'closed';
  }

  /** One Jira step; Jira busy or down leaves the ticket "pending" and retries, a refusal is told once and dropped. */
  async function ticket(d: Extract<IncidentJob, { kind: 'ticket' }>, job: Job, token?: string): Promise<string> {
    const cfg = deps.config.incidents.jira;
    const i = await store.get(d.id);
    if (!deps.jira || !cfg || !i) return 'no jira';
    const setTicket = async (t: NonNullable<Incident['ticket']>) => {
      await store.update(i.id, (x) => ({ ...x, ticket: { ...x.ticket, ...t } }));
      await incidents.refresh(i.id);
    };
    try {
      if (d.step === 'create') {
        if (i.ticket?.key) return 'exists';
        const tag = `irbot-${deps.prefix}-${i.id}`;
        let key = i.ticket?.creating ? await deps.jira.findByLabel(tag) : undefined;
        if (!key) {
          await store.update(i.id, (x) => ({ ...x, ticket: { state: 'pending', ...x.ticket, creating: true } }));
          key = await deps.jira.createIssue({ project: cfg.project, issueType: cfg.issueType, summary: `${label(i)}: ${i.title}`, description: `Declared in Slack by ${i.declaredBy} at ${new Date(i.declaredAt).toISOString()}. ir-bot keeps this issue up to date.`, label: tag });
        }
        await store.setTicket(key, i.id);
        await setTicket({ key, state: 'created', creating: false, note: undefined });
        await store.addTimeline(i.id, { at: Date.now(), kind: 'card', text: `Jira issue ${key} created` });
        return 'created';
      }
      if (!i.ticket?.key) {
        if (i.ticket?.state === 'failed') return 'no ticket';
        throw new JiraBusy('the ticket is not created yet');
      }
      await deps.jira.comment(i.ticket.key, d.text ?? '');
      if (d.step === 'close' && cfg.closeTransition && !(await deps.jira.transition(i.ticket.key, cfg.closeTransition))) {
        deps.log.warn({ incident: i.id, transition: cfg.closeTransition }, 'the Jira issue offers no such transition');
      }
      return 'commented';
    } catch (err) {
      if (err instanceof JiraBusy) {
        if (d.step === 'create') await setTicket({ state: 'pending', note: err.message });
        if (err.retryAfterMs) return retryLater(job, token, err.retryAfterMs);
        throw err;
      }
      if (!(err instanceof JiraRefused)) throw err;
      if (d.step === 'create') {
        await setTicket({ state: 'failed', note: err.message, creating: false });
        await store.update(i.id, (x) => ({ ...x, problems: [...x.problems, `The Jira ticket could not be created: ${err.message}. Check incidents.jira (project ${cfg.project}, issue type ${cfg.issueType}).`] }));
        await tellProblems(i.id, job, token);
      } else {
        deps.log.warn({ incident: i.id, err: err.message }, 'Jira refused an update');
      }
      return 'refused';
    }
  }

  return async (job: Job<IncidentJob>, token?: string): Promise<string> => {
    const d = job.data;
    if (d.kind === 'setup') return setup(d.id, job, token);
    if (d.kind === 'ticket') return ticket(d, job, token);
    if (d.kind === 'invite') {
      const i = await store.get(d.id);
      // Before set-up has invited everyone, the set-up invites the new role holder too.
      if (!i?.channel) return 'no channel';
      if (!i.invited) throw new Error('set-up has not invited yet');
      await invite(i, d.user);
      await tellProblems(i.id, job, token);
      return 'invited';
    }
    if (d.kind === 'close') return close(d.id, d.user, job, token);
    const i = await store.get(d.id);
    if (!i) return 'gone';
    if (d.kind === 'summary') {
      if (!i.summaryTs) return 'no summary yet';
      await renderSummary(i, job, token);
      return 'rendered';
    }
    // A line waits for the channel; without one (it failed) it goes where the incident was declared.
    if (!i.channel && !i.problems.some((p) => p.startsWith('The incident channel'))) throw new Error('incident channel not ready yet');
    await tell(i, d.key, d.text, job, token);
    return 'said';
  };
}



/**
 * After a request ends: its incident's timeline and summary follow, its result is also told in the
 * incident channel (the card's thread has it already), and a verified containment is the incident's "contained".
 */
export async function incidentRequestDone(incidents: IncidentService, r: ActionRequest, outcome: ActionOutcome): Promise<void> {
  const byCard = r.findingKey ? await incidents.ofFinding(r.findingKey) : undefined;
  const i = byCard ?? (await incidents.ofChannel(r.channel));
  if (!i) return;
  if (!byCard) await incidents.store.update(i.id, (x) => (x.requestIds.includes(r.id) ? undefined : { ...x, requestIds: [...x.requestIds, r.id] }));
  if (outcome.ok && CONTAINMENT_ACTIONS.includes(r.action)) await incidents.reach(i.id, 'contained', r.finishedAt ?? Date.now());
  const inChannel = r.channel === i.channel && !r.threadTs;
  if (!inChannel) await incidents.say(i.id, `result-${r.id}`, `${outcome.ok ? ':white_check_mark:' : ':x:'} \`${r.id}\` ${r.action} ${r.targets.slice(0, 5).join(', ')}${r.targets.length > 5 ? ` (+${r.targets.length - 5})` : ''}: ${outcome.ok ? 'done, verified' : 'failed'} (detail in the card's thread)`);
  await incidents.refresh(i.id);
}

const RANK = ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

/** The config rule: a new card this severe, or with an attack sequence, is declared an incident by itself (once per card). */
export async function autoDeclare(incidents: IncidentService, config: Config['incidents'], card: CardState): Promise<void> {
  const min = config.autoDeclareMinSeverity ? RANK.indexOf(config.autoDeclareMinSeverity) : Infinity;
  const hit = card.findings.find((f) => RANK.indexOf(f.severityLabel) >= min || (config.autoDeclareAttackSequences && f.type.startsWith('AttackSequence:')));
  if (!hit || !card.ts) return;
  await incidents.declare({ findingKey: hit.key, user: 'system', origin: { channel: card.channel, threadTs: card.ts } });
}

import type { Job } from 'bullmq';
import { updateFindings, type WorkflowChoice } from '../actions/securityhub-workflow';
import type { TaskJob, UpdateResult } from '../queues';
import type { AuditLog } from '../audit/log';
import { incidentReport } from '../audit/report';
import type { AwsClients } from '../aws/clients';
import { mention } from '../views/request-status';
import { safe } from '../views/mrkdwn';
import { escalationView } from '../views/card';
import type { CardStore } from '../cards/store';
import type { Finding } from '../findings/model';
import type { ActionRequest } from '../requests/model';
import type { RequestStore } from '../requests/store';
import { uploadOnce } from '../slack/upload';
import type { UserNames } from '../slack/user-names';
import type { IncidentClock } from './incident-clock';
import { postFindingList } from './finding-list';
import { publish, type PublishDeps } from './publish';


export interface TaskDeps extends PublishDeps {
  cards: CardStore;
  requests: RequestStore;
  audit: AuditLog;
  aws: AwsClients;
  /** Names beside user ids in reports; without it, reports show ids. */
  names?: UserNames;
  /** Time to acknowledge on /metrics. */
  clock?: IncidentClock;
  /** Someone acknowledged, resolved or suppressed from the card: the card shows its owner and status. */
  onWorkflow?: (findingKey: string, status: WorkflowChoice, user: string) => Promise<void>;
}

const NO_HOOKS = { posted: async () => undefined, updated: async () => undefined, deleted: async () => undefined };

const LABEL: Record<WorkflowChoice, string> = { NOTIFIED: 'Acknowledged', RESOLVED: 'Resolved', SUPPRESSED: 'Suppressed' };

/** Requests about a card's findings: made from the card, or naming one of its resources. */
export async function requestsFor(store: RequestStore, findings: Finding[]): Promise<ActionRequest[]> {
  const resources = new Set(findings.flatMap((f) => [f.instance?.id, f.principal?.accessKeyId, f.principal?.arn].filter((x): x is string => !!x)));
  return store.about({ findingKeys: findings.map((f) => f.key), targets: [...resources] });
}

/** Security Hub workflow and notes, and incident reports: short jobs around a card. */
export function taskProcessor(deps: TaskDeps) {
  async function cardFindings(findingKey: string): Promise<Finding[]> {
    const cardId = await deps.cards.cardOf(findingKey);
    const all = cardId ? await deps.cards.cardFindings(cardId) : [];
    if (all.length) return all;
    const one = await deps.cards.getFinding(findingKey);
    return one ? [one] : [];
  }

  /** Per account and region (BatchUpdateFindings and its V2 act in one region), in batches of 100. */
  async function update(findings: Finding[], change: { status?: WorkflowChoice; note: string; user: string }): Promise<UpdateResult> {
    const groups = new Map<string, Finding[]>();
    const refOf = (f: Finding) => f.securityHubV2 ?? f.securityHub;
    for (const f of findings.filter((x) => refOf(x))) groups.set(`${f.accountId}|${f.region}`, [...(groups.get(`${f.accountId}|${f.region}`) ?? []), f]);
    const updated: string[] = [];
    const failed: { id: string; reason: string }[] = [];
    for (const group of groups.values()) {
      const session = await deps.aws.responder({ region: group[0].region }, { requestId: `workflow-${group[0].key.slice(0, 12)}`, userId: change.user });
      try {
        const aws = session.responder();
        const res = await updateFindings(aws, group.map((f) => refOf(f)!), { status: change.status, note: change.note, updatedBy: `ir-bot for Slack user ${change.user}` });
        updated.push(...res.updated);
        failed.push(...res.failed);
      } finally {
        session.destroy();
      }
    }
    return { updated, failed, withoutIdentity: findings.filter((x) => !refOf(x)).length };
  }

  return async (job: Job<TaskJob>, token?: string): Promise<string> => {
    const t = job.data;
    const findings = await cardFindings(t.findingKey);
    if (findings.length === 0) return 'finding gone';
    if (t.kind === 'note') {
      const res = await update(findings.filter((f) => f.key === t.findingKey), { note: t.text, user: t.user });
      await deps.audit.append({ event: 'note-added', user: 'system', findingKey: t.findingKey, detail: { note: t.text, ...res } });
      return 'noted';
    }
    if (t.kind === 'listing') return postFindingList(deps, job, token, findings, t.findingKey);
    const thread = await deps.cards.threadOf(t.findingKey);
    if (t.kind === 'escalation') {
      if (!thread) return 'no-card';
      const view = escalationView(t.escalation, t.mentionGroup);
      await publish(deps, job, token, { key: `esc:${t.cardId}:${t.id}`, channel: thread.channel, threadTs: thread.ts, broadcast: true, text: view.text, blocks: view.blocks }, NO_HOOKS);
      return 'escalated';
    }
    if (t.kind === 'workflow') {
      // Kept on the job: a wait for Slack's rate limit re-runs the job, which must not update twice.
      let res = t.result;
      if (!res) {
        const approved = t.approvedBy ? `, approved by ${t.approvedBy}` : '';
        res = await update(findings, { status: t.status, note: `${LABEL[t.status]} in Slack by ${t.user}${approved} (ir-bot)`, user: t.user });
        await job.updateData({ ...t, result: res });
        await deps.audit.append({ event: 'workflow-updated', user: t.user, findingKey: t.findingKey, detail: { status: t.status, ...res } });
        if (t.status === 'NOTIFIED') await deps.clock?.reached(t.findingKey, 'acknowledged');
      }
      // Outside the once-only step: a retry after a crash right after it still marks the card.
      await deps.onWorkflow?.(t.findingKey, t.status, t.user);
      if (!thread) return 'updated';
      const lines = [`${res.failed.length ? ':warning:' : ':white_check_mark:'} Security Hub workflow set to *${t.status}* on ${res.updated.length} finding(s) by ${mention(t.user)}${t.approvedBy ? `, approved by ${mention(t.approvedBy)}` : ''}.`];
      for (const f of res.failed.slice(0, 20)) lines.push(`• not updated: \`${safe(f.id, 200)}\`: ${safe(f.reason, 300)}`);
      if (res.failed.length > 20) lines.push(`• …and ${res.failed.length - 20} more not updated`);
      if (res.withoutIdentity) lines.push(`• ${res.withoutIdentity} finding(s) have no Security Hub identity and were left alone`);
      await publish(deps, job, token, { key: `workflow:${job.id}`, channel: thread.channel, threadTs: thread.ts, text: `Security Hub workflow ${t.status}`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } }] }, NO_HOOKS);
      return 'updated';
    }
    // Report: everything recorded about the card's findings, as Markdown in the thread.
    const requests = await requestsFor(deps.requests, findings);
    const ids = new Set(requests.map((r) => r.id));
    // The requests' trails, and the card's own (Acknowledge, Resolve: the incident's times).
    const audit = await deps.audit.find([...[...ids].map((requestId) => ({ requestId })), ...findings.map((x) => ({ findingKey: x.key }))]);
    const people = [t.user, ...audit.map((e) => e.user), ...requests.flatMap((r) => [r.requestedBy, r.approvedBy, r.decidedBy])].filter((u): u is string => !!u);
    const names = (await deps.names?.names(people)) ?? {};
    const text = incidentReport({ findings, requests, audit, generatedAt: new Date(), generatedBy: t.user, names });
    const f = findings.find((x) => x.key === t.findingKey) ?? findings[0];
    // Only ever into the channel the finding was routed to: a report names accounts, users and
    // actions that whoever reads the channel the command was typed in may not be meant to see.
    const channel = thread?.channel ?? (await deps.cards.channelOf(t.findingKey));
    if (!channel) return 'no-card';
    const threadTs = thread?.ts ?? (channel === t.channel ? t.threadTs : undefined);
    const file = { channel, threadTs, content: text, filename: `incident-report-${f.id.replace(/[^\w.-]/g, '_').slice(-64)}.md`, title: `Incident report: ${f.type}` };
    await uploadOnce(deps, `report:${job.id}`, file);
    await deps.audit.append({ event: 'report', user: t.user, findingKey: t.findingKey, detail: { requests: [...ids] } });
    return 'reported';
  };
}

/**
 * Security Hub custom actions: an analyst selects findings in the console and chooses an action
 * ("ir-isolate"). The findings' cards are made or updated like any import; when the action's name
 * is mapped in `securityHub.customActions`, each fitting resource of each finding gets a request
 * on the normal pipeline (plan, approval, execute, verify). Nobody in Slack asked, and nobody's
 * responder rights were checked, so the request always waits for two different approvers, names
 * the action and the event as its requester, and one event asks for a bounded number of requests.
 */
import type { CustomActionEvent } from '../findings/events';
import { actionableTargets, type Finding } from '../findings/model';
import type { CUSTOM_ACTION_RESPONSES } from '../config/schema';
import type { ActionName } from './model';
import type { RequestService } from './service';

export type CustomActionResponse = (typeof CUSTOM_ACTION_RESPONSES)[number];

export interface CustomActionOutcome {
  actionName: string;
  /** What the action is mapped to, or why nothing was asked. */
  response?: CustomActionResponse;
  note?: string;
  requests: { findingKey: string; action: ActionName; target: string; id?: string; status: 'created' | 'joined' | 'refused'; message?: string }[];
  /** Findings the action could not apply to (no instance for isolate, …). */
  skipped: { findingKey: string; reason: string }[];
}

const NOUN: Record<CustomActionResponse, string> = {
  isolate: 'EC2 instances',
  snapshot: 'EC2 instances',
  stop: 'EC2 instances',
  'disable-key': 'long-term access keys (AKIA…)',
  'deny-principal': 'IAM user or role ARNs',
  'revoke-sessions': 'IAM role ARNs',
};

function targetsFor(response: CustomActionResponse, f: Finding): string[] {
  const t = actionableTargets(f);
  switch (response) {
    case 'isolate':
    case 'snapshot':
    case 'stop':
      return t.instances;
    case 'disable-key':
      return t.accessKeys;
    case 'deny-principal':
      return t.principals;
    case 'revoke-sessions':
      return t.principals.filter((a) => /:role\//.test(a));
  }
}

/** Said at start-up: custom actions are mapped, but the approvers can never be two different people. */
export function approverShortfall(approvers: string[], config: Pick<CustomActionConfig, 'customActions'>): string | undefined {
  if (Object.keys(config.customActions).length === 0) return undefined;
  if (approvers.includes('*') || approvers.some((a) => a.startsWith('S')) || approvers.length >= 2) return undefined;
  return `securityHub.customActions is set, but access.approvers names ${approvers.length === 0 ? 'nobody' : 'one person'}: a custom action's request needs two different approvers, so none can ever run`;
}

/** The config key for this event: the action's name, else the id at the end of its ARN. */
export function mappedResponse(mapping: Record<string, CustomActionResponse>, e: Pick<CustomActionEvent, 'actionName' | 'actionArn'>): CustomActionResponse | undefined {
  if (Object.hasOwn(mapping, e.actionName)) return mapping[e.actionName];
  const id = e.actionArn?.split('/').pop();
  return id && Object.hasOwn(mapping, id) ? mapping[id] : undefined;
}

export interface CustomActionConfig {
  customActions: Record<string, CustomActionResponse>;
  maxRequestsPerCustomAction: number;
}

/** What a custom action event asks for, per finding and resource, before anything is stored (also what `npm run preview` shows). */
export function customActionPlan(config: CustomActionConfig, e: CustomActionEvent, findings: Finding[]): Omit<CustomActionOutcome, 'requests'> & { targets: { finding: Finding; target: string }[] } {
  const response = mappedResponse(config.customActions, e);
  if (!response) {
    return { actionName: e.actionName, note: `${JSON.stringify(e.actionName)} is not in securityHub.customActions: the findings' cards were made or updated, nothing was asked`, skipped: [], targets: [] };
  }
  const plan = { actionName: e.actionName, response, skipped: [] as CustomActionOutcome['skipped'], targets: [] as { finding: Finding; target: string }[] };
  for (const f of findings) {
    const targets = targetsFor(response, f);
    if (targets.length === 0) plan.skipped.push({ findingKey: f.key, reason: `${response} acts on ${NOUN[response]} in the finding's own account and region; this finding names none` });
    for (const target of targets) plan.targets.push({ finding: f, target });
  }
  const max = config.maxRequestsPerCustomAction;
  if (plan.targets.length > max) {
    // All or nothing: which N of the selection to act on would be a guess.
    const reason = `this event would ask for ${plan.targets.length} requests, over securityHub.maxRequestsPerCustomAction (${max}): nothing was asked`;
    return {
      ...plan,
      note: `${reason}. Select at most ${max} resources in Security Hub, or act from the cards in Slack.`,
      skipped: [...plan.skipped, ...plan.targets.map((t) => ({ findingKey: t.finding.key, reason }))],
      targets: [],
    };
  }
  return plan;
}

export async function submitCustomAction(
  service: Pick<RequestService, 'submit'>,
  config: CustomActionConfig,
  e: CustomActionEvent,
  findings: { finding: Finding; channel: string }[],
): Promise<CustomActionOutcome> {
  const { targets, ...plan } = customActionPlan(config, e, findings.map((x) => x.finding));
  const out: CustomActionOutcome = { ...plan, requests: [] };
  if (!plan.response) return out;
  const channelOf = new Map(findings.map((x) => [x.finding.key, x.channel]));
  // Shown as the requester on the status message and in the audit trail.
  const requestedBy = `securityhub:${e.actionName}`.slice(0, 80);
  const reason = `Security Hub custom action ${JSON.stringify(e.actionName)}${e.actionArn ? ` (${e.actionArn})` : ''}, event ${e.eventId ?? 'without id'} from account ${e.account ?? 'unknown'}`;
  for (const { finding: f, target } of targets) {
    const action = plan.response;
    const res = await service.submit({ action, target, findingKey: f.key, channel: channelOf.get(f.key)!, userId: requestedBy, reason, alwaysNeedsApproval: true, machineMade: true, followCard: true });
    out.requests.push(
      res.status === 'refused'
        ? { findingKey: f.key, action, target, status: 'refused', message: res.message }
        : { findingKey: f.key, action, target, id: res.request.id, status: res.status },
    );
  }
  return out;
}

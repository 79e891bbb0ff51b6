import type { Job, Queue } from 'bullmq';
import type { AuditLog } from '../audit/log';
import type { CardStore } from '../cards/store';
import type { Config } from '../config/load';
import type { Finding } from '../findings/model';
import { routeFinding } from '../findings/route';
import { publish, type PublishDeps } from '../jobs/publish';
import { findingJobId, type PolicyJob } from '../queues';
import type { RequestService } from '../requests/service';
import { safe } from '../views/mrkdwn';
import { clock, decide, describeActions, ouPathFor, protectionOf, type Decision } from './match';
import type { OuPaths } from './ou';
import type { AutonomyState } from './state';

type PolicyConfig = Pick<Config, 'autonomy' | 'access' | 'channels' | 'retentionDays'>;

/** The intake hook: one policy job per finding version, only while the policy has rules. */
export function policyHook(config: PolicyConfig, queue: Queue<PolicyJob>): ((f: Finding) => Promise<void>) | undefined {
  if (config.autonomy.rules.length === 0) return undefined;
  return async (f) => {
    await queue.add('policy', { findingKey: f.key }, { jobId: `policy-${findingJobId(f)}`, attempts: 12, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } });
  };
}

type RuleDecision = Extract<Decision, { kind: 'rule' }>;

/** The thread line of a shadow decision or a brake; undefined when the thread needs none. */
export function policyNote(d: RuleDecision, wouldMode: string): string | undefined {
  const matched = `(matched: ${d.matched.join(', ') || 'every finding'})`;
  if (d.brake) return `:shield: Policy rule \`${d.rule}\` matched ${matched} but did not act on its own: ${d.brake}. Containment here needs approval as usual.`;
  if (d.mode === 'shadow') {
    const when = wouldMode === 'contain-unless-vetoed' ? `in ${clock(d.windowSeconds * 1000)} unless someone clicked Hold` : 'now';
    return `:test_tube: Shadow mode: policy rule \`${d.rule}\` would have ${describeActions(d.actions)} ${when} ${matched}. Nothing was changed in AWS.`;
  }
  return undefined;
}

export interface PolicyDeps extends PublishDeps {
  config: PolicyConfig;
  cards: CardStore;
  requests: RequestService;
  state: AutonomyState;
  audit: AuditLog;
  /** Accounts' OU paths, for rules that match on `ou`. */
  ous?: OuPaths;
}

/**
 * What the policy does about a stored finding, once per finding: nothing (no rule, notify,
 * approve), a note in the thread (shadow, a brake), or automatic requests through the request
 * service, asked by the rule and planned, shown and verified like any other.
 */
export function policyProcessor(deps: PolicyDeps) {
  const { config, state } = deps;
  return async (job: Job<PolicyJob>, token?: string): Promise<string> => {
    const f = await deps.cards.getFinding(job.data.findingKey);
    if (!f) return 'gone';
    if (await state.decided(f.key)) return 'decided before';
    const d = decide(config.autonomy, f, protectionOf(config), await ouPathFor(config.autonomy, f.accountId, deps.ous));
    const done = async (what: string) => {
      await state.markDecided(f.key, config.retentionDays * 86400);
      return what;
    };
    /** Posts a note in the finding's thread, its audit entry (and counts) recorded once. */
    const noted = async (event: 'policy-braked' | 'policy-shadow' | 'policy-ou-unknown', note: string, detail: Record<string, unknown>, count?: () => void) => {
      const thread = await deps.cards.threadOf(f.key);
      // The card is posted by its own job; the note waits for its thread (BullMQ retries with backoff).
      if (!thread) throw new Error('the card is not posted yet');
      // Recorded once: a re-run after a failed post finds the entry's marker and only posts.
      if (!(await state.decided(`${f.key}-noted`))) {
        await deps.audit.append({ event, user: `policy:${d.kind === 'rule' ? d.rule : 'none'}`, findingKey: f.key, detail });
        count?.();
        await state.markDecided(`${f.key}-noted`, 86400);
      }
      await publish(deps, job, token, { key: `policy:${f.key}`, channel: thread.channel, threadTs: thread.ts, text: note.slice(0, 300), blocks: [{ type: 'section', text: { type: 'mrkdwn', text: safe(note, 2900) } }] }, {
        posted: async () => undefined,
        updated: async () => undefined,
        deleted: async () => undefined,
      });
      return done(event);
    };
    if (d.kind === 'none' || d.mode === 'notify' || d.mode === 'approve' || d.actions.length === 0) {
      const what = d.kind === 'none' ? 'no rule' : d.mode;
      if (!d.ouUnknown) return done(what);
      // Say why an OU rule did not take the finding, or the team reads silence as "no rule matched".
      return noted('policy-ou-unknown', `:grey_question: Policy ${d.ouUnknown}, so it did not apply. Containment here needs approval as usual.`, { unchecked: d.ouUnknown, decided: d.kind === 'rule' ? d.rule : undefined });
    }
    const rule = config.autonomy.rules.find((r) => r.name === d.rule)!;
    const note = policyNote(d, rule.mode);
    if (note) {
      const event = d.brake ? 'policy-braked' : 'policy-shadow';
      return noted(event, note, { rule: d.rule, matched: d.matched, brake: d.brake, actions: d.actions }, () => {
        for (const a of d.actions) deps.metrics.autonomy.inc({ rule: d.rule, outcome: d.brake ? 'braked' : 'would-run', action: a.action });
      });
    }
    const channel = routeFinding(f, config.channels).channel;
    const mode = d.mode as 'contain' | 'contain-unless-vetoed';
    for (const a of d.actions) {
      await deps.requests.submit({
        action: a.action,
        target: a.targets[0],
        targets: a.targets,
        findingKey: f.key,
        channel,
        userId: `policy:${d.rule}`,
        reason: `policy rule ${d.rule} (matched: ${d.matched.join(', ') || 'every finding'})`,
        followCard: true,
        auto: { rule: d.rule, mode, matched: d.matched, windowMs: mode === 'contain' ? 0 : d.windowSeconds * 1000 },
      });
    }
    return done(mode);
  };
}

import type { DoctorReport } from './doctor/report';
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { WorkflowChoice } from './actions/securityhub-workflow';
import type { Finding } from './findings/model';
import type { Escalation } from './cards/escalation';
import type { Logger } from './log';

/** The audit retention job (export to JSONL, then trim) on the poll queue, beside the Security Hub poll. */
export const AUDIT_RETENTION_JOB = 'audit-retention';

export const QUEUE = {
  /** One job per finding version: store, dedupe, group. */
  findings: 'findings',
  /** One job per card (deduplicated): render and post/update in Slack. */
  cards: 'cards',
  /** Security Hub poll, driven by a job scheduler so one replica polls. */
  poll: 'securityhub-poll',
  /** Response pipeline: plan, execute and approval-expiry jobs per request. */
  actions: 'actions',
  /** One job per request (deduplicated): post/update its status message in the thread. */
  status: 'status',
  /** One job per new card with an instance: post the instance's story in its thread. */
  story: 'story',
  /** Security Hub workflow changes and notes, incident reports. */
  tasks: 'tasks',
  /** `/ir doctor` and the scheduled doctor run: the preflight, posted as a checklist. */
  doctor: 'doctor',
  /** Declared incidents: channel set-up, pinned summary, lines, close (src/incidents). */
  incidents: 'incidents',
  /** One job per finding version while a policy has rules: what the policy does about it (docs/autonomy.md). */
  autonomy: 'autonomy',
} as const;

export interface DoctorJob {
  /** Where to post; unset (a scheduled run) = doctor.schedule.channel, else channels.default. */
  channel?: string;
  user?: string;
  scheduled?: boolean;
  /** Stored once computed, so a retried post shows the same result instead of checking again. */
  report?: DoctorReport;
  ts?: string;
}

export interface PolicyJob {
  findingKey: string;
}

export interface FindingJob {
  finding: Finding;
  via: 'eventbridge' | 'securityhub-poll';
}

export interface CardJob {
  cardId: string;
}

export interface ActionJob {
  requestId: string;
  /** Plan revision the job belongs to (execute and expire jobs). */
  rev?: number;
  /** Set when the job comes back from a durable wait: not a crash, so no "resumed" entry. */
  waited?: boolean;
}

/** Security Hub workflow changes and notes, incident reports. */
export type TaskJob =
  | { kind: 'workflow'; findingKey: string; status: WorkflowChoice; user: string; result?: UpdateResult; approvedBy?: string }
  | { kind: 'note'; findingKey: string; text: string; user: string }
  | { kind: 'report'; findingKey: string; user: string; channel: string; threadTs?: string }
  /** Every finding of the card as a file in its thread: after a storm quiets (no user), or on "Show all". */
  | { kind: 'listing'; findingKey: string; user?: string }
  /** A card gained a higher severity, a new type or an attack sequence: a new message in its thread, broadcast to the channel. */
  | { kind: 'escalation'; findingKey: string; cardId: string; id: string; escalation: Escalation; mentionGroup?: string };

export interface UpdateResult {
  updated: string[];
  failed: { id: string; reason: string }[];
  withoutIdentity: number;
}

/**
 * The automatic full list of a roll-up waits until no finding has joined the card for `quietMs`:
 * each later finding pushes the one delayed job back (BullMQ debounce), so a storm gets one list.
 */
export function listingJobOptions(cardId: string, quietMs: number): JobsOptions {
  return {
    delay: quietMs,
    deduplication: { id: `listing-${cardId}`, ttl: quietMs, extend: true, replace: true },
    attempts: 10,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/** The stories of a card's instances (each told once, see jobs/story.ts). */
export interface StoryJob {
  cardId?: string;
  /** Jobs queued before stories were per card named the card's first finding. */
  findingKey?: string;
  /** Set on a 'launcher' job: fill in "who launched it" in one posted story message. */
  launcher?: LauncherJob;
}

/** The CloudTrail part of one story message, done as CloudTrail's shared budget allows. */
export interface LauncherJob {
  cardId: string;
  /** The message's key (its ts is kept under it). */
  message: string;
  instances: string[];
  /** Set for a compact message: its place among the card's stories. */
  part?: { from: number; total: number };
  findingKey: string;
  account: string;
  region: string;
  thread: { channel: string; ts: string };
}

/** One launcher job per story message: a re-run that queues it again is absorbed by its id. */
export function launcherJob(data: LauncherJob): { name: 'launcher'; data: StoryJob; opts: JobsOptions } {
  return {
    name: 'launcher',
    data: { launcher: data },
    opts: { jobId: `launcher-${data.message.replace(/:/g, '-')}`, attempts: 5, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } },
  };
}

export interface StatusJob {
  requestId: string;
}

export function bullPrefix(redisPrefix: string): string {
  return `${redisPrefix}:bull`;
}

/** Job ids may not contain ':'; finding keys are hex, so these are safe. */
export function findingJobId(f: Finding): string {
  return `f-${f.key}-${Date.parse(f.updatedAt)}-${f.count}`;
}

/** The queue entry for one finding version; the id absorbs an identical re-delivery. */
export function findingJob(finding: Finding, via: FindingJob['via']) {
  return { name: 'finding', data: { finding, via }, opts: { ...FINDING_JOB_OPTIONS, jobId: findingJobId(finding) } };
}

export const FINDING_JOB_OPTIONS: JobsOptions = {
  attempts: 20,
  backoff: { type: 'exponential', delay: 500 },
  // Keep ids for an hour so an identical re-delivery (EventBridge retry) is absorbed at the queue.
  removeOnComplete: { age: 3600, count: 100_000 },
  removeOnFail: false,
};

export const CARD_JOB_OPTIONS: JobsOptions = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

export function makeQueue<T>(name: string, connection: ConnectionOptions, prefix: string, log: Logger): Queue<T> {
  const queue = new Queue<T>(name, { connection, prefix: bullPrefix(prefix) });
  // The connection's own listener already reports outages; without one here BullMQ prints to stderr.
  queue.on('error', (err: Error) => log.debug({ queue: name, err: err.message }, 'queue connection error'));
  return queue;
}

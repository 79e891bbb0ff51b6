import { createHash } from 'node:crypto';
import type { Config } from '../config/load';
import type { Responder } from '../aws/responder';
import type { ActionOutcome, PlanView } from './results';

/** Durable records an action keeps between requests (e.g. the state before isolation). */
export interface RecordStore {
  get<T>(name: string): Promise<T | undefined>;
  /** Writes only when nothing is recorded under the name; returns whether it wrote. */
  putIfAbsent(name: string, value: unknown): Promise<boolean>;
  /** Replaces the record: the earlier one is kept under a history name, as `retire` does. */
  replace(name: string, value: unknown, at: number): Promise<void>;
  retire(name: string, at: number): Promise<void>;
}

export interface ActionContext {
  aws: Responder;
  requestId: string;
  /** The request's plan revision: a new plan (and approval) is a new revision. */
  planRevision: number;
  requestedBy: string;
  approvedBy?: string;
  /** When the request started running (ms): deadlines of durable waits count from here. */
  startedAt: number;
  /** The request this one undoes (a Release button names the isolation it was shown with). */
  undoes?: string;
  /** The finding id when the request came from a card; else the request id. */
  caseId: string;
  records: RecordStore;
  isolation: Config['isolation'];
  snapshot: Config['snapshot'];
  stop: Config['stop'];
  iam: Config['iam'];
  athena: Config['athena'];
  hunts: Config['hunts'];
  memory: Config['memory'];
  blastRadius: Config['blastRadius'];
  /** What the requester typed after the targets (e.g. `without-memory` on a stop). */
  reason?: string;
  /** Waits between polls; tests make it instant. */
  sleep(ms: number): Promise<void>;
  now(): Date;
  /**
   * Why this user or role must not be locked out (the bot itself, its responder roles, the
   * break-glass principals), or undefined. Checked by the plans of deny, revoke-sessions and
   * disable-key once they know whose key or which instance role it is.
   */
  protectedReason?(p: { account: string; kind: 'user' | 'role'; name: string }): string | undefined;
  /** Reports "step k of n" while executing. */
  progress(step: number, total: number, label: string): Promise<void>;
  /** Runs `fn` while no other job (on any worker) runs under the same name, e.g. one VPC's groups. */
  serialize<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Single-flight across workers: the first caller runs `fn`, concurrent callers wait for its
   * answer, and the answer is reused for `freshMs` (src/requests/single-flight.ts). Absent (tests
   * of one action), `shareResult` falls back to `serialize`.
   */
  shared?<T>(name: string, freshMs: number, fn: () => Promise<T>): Promise<T>;
  /** Drops a shared answer that AWS was just seen to contradict. */
  forget?(name: string): Promise<void>;
  /**
   * Resolves when one CloudTrail LookupEvents call may go to this request's account and `region`
   * (the region the call goes to; default the request's own): the budget is shared with every
   * worker (stories, other requests) through Redis (src/aws/cloudtrail-budget.ts). Call it before
   * each call, each page included (src/actions/blast-radius.ts `cloudTrailTurn`).
   */
  cloudTrailCall?(region?: string): Promise<void>;
}

/** `ctx.shared` when the worker provides it, else the old behaviour: one at a time, nothing kept. */
export function shareResult<T>(ctx: ActionContext, name: string, freshMs: number, fn: () => Promise<T>): Promise<T> {
  return ctx.shared ? ctx.shared(name, freshMs, fn) : ctx.serialize(name, fn);
}

/** A plan that must not run, with the reason shown to the user. */
export function blockedPlan(message: string): PlanView {
  return { summary: [], warnings: [], steps: [], fingerprint: '', blocked: message };
}

/** A short hash of the AWS state a plan was built from: a different one at execution means AWS changed. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * Not a failure: the action waits for AWS (a snapshot completing) and should be run again after
 * `ms`. The job goes back to Redis as a delayed job, so a wait of hours holds no worker and
 * survives restarts; execute must be idempotent up to this point (it is: every step re-reads).
 */
export class NotYet extends Error {
  constructor(
    readonly ms: number,
    readonly note?: string,
  ) {
    super(note ?? `waiting ${ms} ms`);
    this.name = 'NotYet';
  }
}

/** A failure that another attempt cannot change (a query Athena rejected, a hunt cancelled). */
export class FinalError extends Error {}

/**
 * A failure part-way through execute: which step, and what had already been done, so the thread
 * can say exactly what state the target was left in.
 */
export class StepFailure extends Error {
  constructor(
    readonly step: number,
    readonly stepLabel: string,
    readonly done: string[],
    readonly cause: Error,
  ) {
    super(cause.message);
    this.name = 'StepFailure';
  }
}

/** One response action: read-only plan, then an idempotent execute that verifies its end state. */
export interface ResponseAction {
  /** `instanceIds` has one entry except for the multi-instance actions (snapshot, stop). */
  plan(instanceIds: string[], ctx: ActionContext): Promise<PlanView>;
  execute(plan: PlanView, ctx: ActionContext): Promise<ActionOutcome>;
}

/**
 * Runs labelled steps in order, reporting progress; a throw becomes a StepFailure naming what was
 * done before it. Each step checks current AWS state itself, so a re-run skips finished work.
 */
export async function runSteps(ctx: ActionContext, steps: { label: string; run: () => Promise<string | undefined> }[]): Promise<string[]> {
  const done: string[] = [];
  for (let i = 0; i < steps.length; i++) {
    await ctx.progress(i + 1, steps.length, steps[i].label);
    try {
      const what = await steps[i].run();
      if (what) done.push(what);
    } catch (err) {
      if (err instanceof NotYet) throw err;
      throw new StepFailure(i + 1, steps[i].label, done, err as Error);
    }
  }
  return done;
}

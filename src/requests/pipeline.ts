import type { JobsOptions, Queue } from 'bullmq';
import type { Config } from '../config/load';
import type { ActionJob, StatusJob } from '../queues';
import type { TaskJob } from '../queues';

/**
 * The queue entries of the response pipeline. Job ids are stable per request and plan revision,
 * so a double click, a re-delivered job or a second replica adds nothing new.
 */
export class Pipeline {
  constructor(
    private readonly actions: Queue<ActionJob>,
    private readonly status: Queue<StatusJob>,
    private readonly tasks: Queue<TaskJob>,
    private readonly settings: Pick<Config, 'aws' | 'slack'>,
  ) {}

  /** Workflow changes, notes and reports: retried with backoff, kept a week when they fail. */
  async task(data: TaskJob): Promise<void> {
    await this.tasks.add(data.kind, data, { attempts: 5, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } });
  }

  private get jobOptions(): JobsOptions {
    return {
      attempts: this.settings.aws.jobAttempts,
      backoff: { type: 'exponential', delay: this.settings.aws.jobBackoffMs },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  async plan(requestId: string): Promise<void> {
    await this.actions.add('plan', { requestId }, { ...this.jobOptions, jobId: `plan-${requestId}` });
  }

  async execute(requestId: string, rev: number): Promise<void> {
    await this.actions.add('execute', { requestId, rev }, { ...this.jobOptions, jobId: `exec-${requestId}-r${rev}` });
  }

  async expire(requestId: string, rev: number, at: number): Promise<void> {
    await this.actions.add('expire', { requestId, rev }, { ...this.jobOptions, jobId: `expire-${requestId}-r${rev}`, delay: Math.max(0, at - Date.now()) });
  }

  /** Status renders fold together: while one waits, later changes ride on it. */
  async render(requestId: string, urgent = true): Promise<void> {
    await this.status.add(
      'render',
      { requestId },
      {
        attempts: 12,
        backoff: { type: 'exponential', delay: 2000 },
        removeOnComplete: true,
        removeOnFail: { age: 7 * 24 * 3600 },
        delay: urgent ? 0 : this.settings.slack.coalesceMs,
        deduplication: { id: `st-${requestId}`, keepLastIfActive: true },
      },
    );
  }
}

import { DelayedError, type Job } from 'bullmq';

/**
 * Hands the job back to Redis to run again after `ms` without counting an attempt: the wait
 * survives a crash, and the worker slot is free for other channels meanwhile.
 */
export async function retryLater(job: Job, token: string | undefined, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + Math.ceil(ms), token);
  throw new DelayedError();
}

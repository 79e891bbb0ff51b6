import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/load';
import { runDoctor, type DoctorAws } from '../doctor/checks';
import { fingerprint } from '../doctor/report';
import type { DoctorJob } from '../queues';
import { doctorView } from '../views/doctor';
import { publish, type PublishDeps } from './publish';

export const DOCTOR_SCHEDULE = 'doctor-schedule';

export interface DoctorDeps extends PublishDeps {
  config: Config;
  aws: DoctorAws;
  redis: Redis;
  prefix: string;
}

/**
 * Runs the preflight and posts its checklist. A scheduled run posts only when an outcome changed
 * since the last checklist posted, so a healthy setup stays quiet and a broken one is said once.
 */
export function doctorProcessor(deps: DoctorDeps) {
  const lastKey = `${deps.prefix}:doctor:fingerprint`;
  return async (job: Job<DoctorJob>, token?: string): Promise<'posted' | 'updated' | 'unchanged'> => {
    let report = job.data.report;
    if (!report) {
      report = await runDoctor(deps.config, deps.aws);
      await job.updateData({ ...job.data, report });
    }
    const fp = fingerprint(report);
    if (job.data.scheduled && !job.data.ts && (await deps.redis.get(lastKey)) === fp) return 'unchanged';
    const channel = job.data.channel ?? deps.config.doctor.schedule.channel ?? deps.config.channels.default;
    const view = doctorView(report, { scheduled: job.data.scheduled });
    const done = report;
    const outcome = await publish(deps, job, token, { key: `doctor:${job.id}`, channel, ts: job.data.ts, text: view.text, blocks: view.blocks }, {
      posted: (ts) => job.updateData({ ...job.data, report: done, ts }),
      updated: async () => undefined,
      deleted: () => job.updateData({ ...job.data, report: done, ts: undefined }),
    });
    await deps.redis.set(lastKey, fp);
    return outcome;
  };
}

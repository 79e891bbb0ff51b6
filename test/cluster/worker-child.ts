/**
 * A worker process for the kill test: the real worker (startWorker), configured from the
 * environment, whose AWS SDK calls all go to the test process's one AWS stand-in (CLUSTER_AWS_URL).
 * BullMQ locks come from CLUSTER_LOCK_MS / CLUSTER_STALLED_MS: a SIGKILLed worker's jobs are taken
 * up again by another within seconds rather than BullMQ's 30 s default.
 */
import { runWorkerProcess } from '../support/worker-process';
import { forwardAwsTo } from './aws-remote';

forwardAwsTo(process.env.CLUSTER_AWS_URL!);
runWorkerProcess('cluster worker', {
  lock: {
    lockDuration: Number(process.env.CLUSTER_LOCK_MS ?? 8000),
    stalledInterval: Number(process.env.CLUSTER_STALLED_MS ?? 4000),
    maxStalledCount: Number(process.env.CLUSTER_MAX_STALLED ?? 1),
  },
});

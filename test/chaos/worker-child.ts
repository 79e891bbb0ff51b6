/**
 * A worker process for the fault suite: the real worker (startWorker) against the AWS stand-in,
 * whose account lives in a JSON file (CHAOS_STATE) written after every call. It kills itself with
 * SIGKILL where the parent says:
 *   CHAOS_KILL_PROGRESS=n   at the n-th step boundary (ActionContext.progress call) of execute
 *   CHAOS_KILL_PROGRESS=end after execute returned, before the request is marked done
 *   CHAOS_KILL_AFTER_MS=t   t ms after execute started (a random point)
 * and injects AWS faults:
 *   CHAOS_THROTTLE=n        the first n mutating calls each fail once with RequestLimitExceeded, then succeed
 *   CHAOS_EXPIRE_AT=n       the n-th mutating call fails with ExpiredToken (the session expired mid-job)
 * Configuration comes from the environment the parent passes (IR_CONFIG, REDIS_URL, …).
 */
import { ACTIONS } from '../../src/jobs/respond';
import type { ResponseAction } from '../../src/actions/types';
import type { ActionName } from '../../src/requests/model';
import { awsError } from '../support/fake-aws';
import { runWorkerProcess } from '../support/worker-process';
import { loadAws, saveAws } from './aws-state';

const env = process.env;
const stateFile = env.CHAOS_STATE!;
const killProgress = env.CHAOS_KILL_PROGRESS;
const killAfterMs = env.CHAOS_KILL_AFTER_MS ? Number(env.CHAOS_KILL_AFTER_MS) : undefined;
const latencyMs = Number(env.CHAOS_LATENCY_MS ?? 10);

function die(where: string): never {
  process.stdout.write(`KILLED ${where}\n`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

const aws = loadAws(stateFile);
aws.latencyMs = latencyMs;
const isMutation = (api: string) => !/^(Describe|Get|List|Lookup)/.test(api);
let mutations = 0;
let throttled = 0;
const throttleFirst = Number(env.CHAOS_THROTTLE ?? 0);
const expireAt = Number(env.CHAOS_EXPIRE_AT ?? 0);
aws.beforeCall = (api) => {
  if (!isMutation(api) || api === 'AssumeRole') return;
  mutations += 1;
  if (expireAt && mutations === expireAt) {
    process.stdout.write(`FAULT ExpiredToken on ${api}\n`);
    throw awsError('ExpiredToken', 'The security token included in the request is expired');
  }
  if (throttled < throttleFirst && mutations % 2 === 1) {
    throttled += 1;
    process.stdout.write(`FAULT RequestLimitExceeded on ${api}\n`);
    throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
  }
};
aws.afterCall = async () => {
  saveAws(aws, stateFile);
  // The answer takes a while to come back: a kill now leaves a change applied but unanswered.
  if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
};

let boundaries = 0;
function killing(action: ResponseAction): ResponseAction {
  return {
    plan: (ids, ctx) => action.plan(ids, ctx),
    async execute(plan, ctx) {
      if (killAfterMs !== undefined) setTimeout(() => die(`after ${killAfterMs} ms`), killAfterMs);
      const out = await action.execute(plan, {
        ...ctx,
        progress: async (step, total, label) => {
          boundaries += 1;
          process.stdout.write(`BOUNDARY ${boundaries} ${step}/${total} ${label}\n`);
          await ctx.progress(step, total, label);
          if (killProgress === String(boundaries)) die(`at boundary ${boundaries} (step ${step} of ${total}: ${label})`);
        },
      });
      process.stdout.write(`EXECUTED ${boundaries}\n`);
      if (killProgress === 'end') die('after execute');
      return out;
    },
  };
}

const actions = Object.fromEntries(Object.entries(ACTIONS).map(([k, a]) => [k, killing(a)])) as Record<ActionName, ResponseAction>;
// Short locks: a killed worker's jobs are taken up again within seconds.
runWorkerProcess('worker child', { actions, lock: { lockDuration: 4000, stalledInterval: 2000 } });

/**
 * The fault suite in its reduced form (the full one is `npm run chaos`, test/chaos/run.ts): each
 * action once without faults, then once with its worker process SIGKILLed at one step boundary
 * of execute (a different kind of point per action), then Redis restarted mid-job, Slack refusing
 * for a few seconds, AWS throttling and an expired session. Each faulted run must end as the run
 * without faults did: same AWS state, every audit transition once, one status message showing the
 * truth, and the request ended.
 */
import { startRedisServer, type RedisServer } from '../support/redis-server';
import { runScenario, type Baseline, type ChaosAction, type Kill, type Outcome, type Scenario } from './scenario';

jest.setTimeout(180_000);

const log = process.env.CHAOS_VERBOSE ? (line: string) => process.stdout.write(`${line}\n`) : undefined;

function expectClean(o: Outcome): void {
  expect({ name: o.name, problems: o.problems }).toEqual({ name: o.name, problems: [] });
  expect(o).toMatchObject({ state: 'done', stuck: false, wrongEndState: false, auditLost: 0, auditDoubled: 0, slackDoubled: 0, threadWrong: false });
}

/** One kill point per action, so that together they cover first, middle, last, after-execute and a random point. */
const KILL: Record<ChaosAction, (b: Baseline) => Kill> = {
  isolate: (b) => ({ progress: Math.ceil(b.boundaries / 2) }),
  release: () => ({ progress: 'end' }),
  snapshot: (b) => ({ progress: b.boundaries }),
  stop: () => ({ progress: 1 }),
  'disable-key': () => ({ progress: 'end' }),
  'deny-principal': (b) => ({ progress: Math.max(1, b.boundaries - 1) }),
  'revoke-sessions': (b) => ({ afterMs: Math.round(b.executeMs / 2) }),
};

const baselines = new Map<ChaosAction, Baseline>();

async function baselineOf(action: ChaosAction): Promise<Baseline> {
  let b = baselines.get(action);
  if (!b) {
    const o = await runScenario({ action }, undefined, { log });
    expectClean(o);
    b = o.baseline!;
    baselines.set(action, b);
  }
  return b;
}

describe('a worker process killed (SIGKILL) mid-execute: a new one finishes the request, and nothing is lost or doubled', () => {
  it.each(Object.keys(KILL) as ChaosAction[])('%s', async (action) => {
    const b = await baselineOf(action);
    const o = await runScenario({ action, kills: [KILL[action](b)] }, b, { log });
    expectClean(o);
    expect(o.killsDelivered).toBe(1);
    expect(o.workersStarted).toBe(2);
  });
});

describe('Redis, Slack and AWS failing mid-job', () => {
  let redis: RedisServer | undefined;
  afterAll(async () => {
    await redis?.stop();
  });

  const cases: [string, ChaosAction, () => Promise<Scenario>][] = [
    ['Redis killed and restarted (AOF) while an isolation runs', 'isolate', async () => {
      redis = await startRedisServer({ aof: true });
      return { action: 'isolate', fault: { kind: 'redis-restart', atStep: 3, downMs: 1500 }, redis };
    }],
    ['Slack answering 429 while the result posts', 'isolate', async () => ({ action: 'isolate', fault: { kind: 'slack-outage', status: 429, ms: 5000 } })],
    ['Slack answering 500 while the result posts', 'snapshot', async () => ({ action: 'snapshot', fault: { kind: 'slack-outage', status: 500, ms: 5000 } })],
    ['AWS throttling bursts', 'snapshot', async () => ({ action: 'snapshot', fault: { kind: 'aws-throttle', bursts: 3 } })],
    ['the assumed-role session expiring mid-job (ExpiredToken)', 'isolate', async () => ({ action: 'isolate', fault: { kind: 'aws-expired-token', atMutation: 4 } })],
  ];
  it.each(cases)('%s', async (_name, action, make) => {
    const b = await baselineOf(action);
    const o = await runScenario(await make(), b, { log, settleMs: 90_000 });
    expectClean(o);
  });
});

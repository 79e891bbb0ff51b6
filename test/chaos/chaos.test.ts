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

/** Runs tasks a few at a time: each scenario mostly waits (locks, restarts), so lanes share two cores well. */
async function inLanes<T>(tasks: (() => Promise<T>)[], lanes: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }),
  );
  return out;
}

const LANES = Number(process.env.CHAOS_LANES ?? 3);
const ACTIONS = Object.keys(KILL) as ChaosAction[];
const FAULTS: [string, ChaosAction, (redis: RedisServer) => Scenario][] = [
  ['Redis killed and restarted (AOF) while an isolation runs', 'isolate', (redis) => ({ action: 'isolate', fault: { kind: 'redis-restart', atStep: 3, downMs: 1500 }, redis })],
  ['Slack answering 429 while the result posts', 'isolate', () => ({ action: 'isolate', fault: { kind: 'slack-outage', status: 429, ms: 5000 } })],
  ['Slack answering 500 while the result posts', 'snapshot', () => ({ action: 'snapshot', fault: { kind: 'slack-outage', status: 500, ms: 5000 } })],
  ['AWS throttling bursts', 'snapshot', () => ({ action: 'snapshot', fault: { kind: 'aws-throttle', bursts: 3 } })],
  ['the assumed-role session expiring mid-job (ExpiredToken)', 'isolate', () => ({ action: 'isolate', fault: { kind: 'aws-expired-token', atMutation: 4 } })],
];

describe('fault injection (reduced; `npm run chaos` runs every kill point)', () => {
  let redis: RedisServer;
  const baselines = new Map<ChaosAction, Outcome>();
  const killed = new Map<ChaosAction, Outcome>();
  const faulted = new Map<string, Outcome>();

  beforeAll(async () => {
    redis = await startRedisServer({ aof: true });
    const base = await inLanes(ACTIONS.map((a) => () => runScenario({ action: a }, undefined, { log })), LANES);
    ACTIONS.forEach((a, i) => baselines.set(a, base[i]));
    const b = (a: ChaosAction) => baselines.get(a)?.baseline;
    const tasks = [
      ...ACTIONS.filter((a) => b(a)).map((a) => async () => killed.set(a, await runScenario({ action: a, kills: [KILL[a](b(a)!)] }, b(a), { log }))),
      ...FAULTS.filter(([, a]) => b(a)).map(([name, a, make]) => async () => faulted.set(name, await runScenario(make(redis), b(a), { log, settleMs: 90_000 }))),
    ];
    await inLanes(tasks, LANES);
  }, 600_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it.each(ACTIONS)('%s without faults ends done and verified (the reference for the rest)', (action) => {
    expectClean(baselines.get(action)!);
  });

  it.each(ACTIONS)('%s: its worker process killed (SIGKILL) mid-execute, a new one finishes it and nothing is lost or doubled', (action) => {
    const o = killed.get(action)!;
    expectClean(o);
    expect(o.killsDelivered).toBe(1);
    expect(o.workersStarted).toBe(2);
  });

  it.each(FAULTS.map(([name]) => name))('%s', (name) => {
    expectClean(faulted.get(name)!);
  });
});

/**
 * The full fault suite (`npm run chaos`): for every action, a run without faults, then a worker
 * SIGKILLed at every step boundary of execute, after execute, and at random points; then Redis
 * restarted mid-job, Slack refusing for a minute, AWS throttling and expiring credentials. Prints
 * the figures for benchmarks/RESULTS.md and exits non-zero on any wrong end state, stuck request,
 * lost or doubled audit record or doubled Slack message.
 *
 *   CHAOS_ACTIONS=isolate,stop   only these actions     CHAOS_RANDOM=3   random kill points per action
 *   CHAOS_SLACK_OUTAGE_MS=60000  how long Slack refuses  CHAOS_SEED=1     random points seed
 */
import { cpus } from 'node:os';
import { startRedisServer } from '../support/redis-server';
import { CHAOS_ACTIONS, runScenario, summarize, type ChaosAction, type Kill, type Outcome, type Scenario } from './scenario';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

async function main(): Promise<void> {
  const redis = await startRedisServer({ aof: true });
  process.env.TEST_REDIS_URL = redis.url;
  const actions = (process.env.CHAOS_ACTIONS?.split(',') ?? [...CHAOS_ACTIONS]) as ChaosAction[];
  const randomPerAction = Number(process.env.CHAOS_RANDOM ?? 3);
  const outageMs = Number(process.env.CHAOS_SLACK_OUTAGE_MS ?? 60_000);
  const random = rng(Number(process.env.CHAOS_SEED ?? 20261201));
  const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  const outcomes: Outcome[] = [];
  const killPoints: Record<string, number> = {};
  try {
    for (const action of actions) {
      const base = await runScenario({ action }, undefined, { log });
      outcomes.push(base);
      if (!base.baseline) continue;
      const kills: Kill[] = [];
      for (let k = 1; k <= base.baseline.boundaries; k++) kills.push({ progress: k });
      kills.push({ progress: 'end' });
      for (let i = 0; i < randomPerAction; i++) kills.push({ afterMs: Math.round(random() * Math.max(200, base.baseline.executeMs * 1.2)) });
      killPoints[action] = kills.length;
      for (const kill of kills) outcomes.push(await runScenario({ action, kills: [kill] }, base.baseline, { log }));
      // Two deaths in a row: the first replacement dies too, at the first boundary.
      outcomes.push(await runScenario({ action, kills: [{ progress: Math.max(1, Math.ceil(base.baseline.boundaries / 2)) }, { progress: 1 }] }, base.baseline, { log }));
      killPoints[action] += 1;
    }
    const faults: Scenario[] = [
      { action: 'isolate', fault: { kind: 'redis-restart', atStep: 3, downMs: 2000 }, redis },
      { action: 'snapshot', fault: { kind: 'redis-restart', atStep: 2, downMs: 2000 }, redis },
      { action: 'isolate', fault: { kind: 'slack-outage', status: 429, ms: outageMs } },
      { action: 'release', fault: { kind: 'slack-outage', status: 500, ms: outageMs } },
      { action: 'isolate', fault: { kind: 'aws-throttle', bursts: 3 } },
      { action: 'snapshot', fault: { kind: 'aws-throttle', bursts: 3 } },
      { action: 'isolate', fault: { kind: 'aws-expired-token', atMutation: 4 } },
      { action: 'revoke-sessions', fault: { kind: 'aws-expired-token', atMutation: 2 } },
    ];
    const baselines = new Map(outcomes.filter((o) => o.baseline).map((o) => [o.action, o.baseline!]));
    for (const f of faults) {
      if (!actions.includes(f.action)) continue;
      outcomes.push(await runScenario(f, baselines.get(f.action), { log, settleMs: 120_000 }));
    }
  } finally {
    await redis.stop();
  }
  const figures = summarize(outcomes.filter((o) => !o.baseline));
  const out = [
    `Fault injection, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    '',
    '| action | kill points tried |',
    '|---|---|',
    ...Object.entries(killPoints).map(([a, n]) => `| ${a} | ${n} |`),
    '',
    '| figure | value |',
    '|---|---|',
    ...Object.entries(figures).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    ...outcomes.filter((o) => o.problems.length).map((o) => `- ${o.name}: ${o.problems.join('; ')}`),
  ];
  process.stdout.write(`\n${out.join('\n')}\n`);
  const bad = figures['wrong end states'] + figures['stuck requests'] + figures['audit records lost'] + figures['audit records doubled'] + figures['Slack messages doubled'] + figures['status message not showing the truth'];
  process.exit(bad ? 1 : 0);
}

void main();

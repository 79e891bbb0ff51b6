/**
 * The kill test in its reduced form (the full one is `npm run kill-test`, test/cluster/run.ts):
 * 3 bots + 3 workers on one Redis, 300 findings in 2 versions and 15 isolation requests, one
 * process SIGKILLed every 3–5 s for at least 45 s and until the load is done.
 */
import { runKillTest, type KillTestResult } from './cluster';

const log = process.env.CLUSTER_VERBOSE ? (line: string) => process.stdout.write(`${line}\n`) : undefined;
const ISOLATIONS = 15;
const FINDINGS = 300;

describe('3 bots and 3 workers on one Redis, one of them SIGKILLed every few seconds under load', () => {
  let r: KillTestResult;

  beforeAll(async () => {
    r = await runKillTest({
      bots: 3,
      workers: 3,
      findings: FINDINGS,
      versions: 2,
      senders: 8,
      isolations: ISOLATIONS,
      spreadMs: 30_000,
      awsLatencyMs: 100,
      killMinMs: 3000,
      killMaxMs: 5000,
      pauseMs: 1000,
      minKillMs: 45_000,
      maxKillMs: 240_000,
      quietTimeoutMs: 120_000,
      seed: Number(process.env.KILL_SEED ?? 16),
      log,
    });
  }, 600_000);

  it('killed bots and workers while the load ran', () => {
    expect(r.figures.kills.bot + r.figures.kills.worker).toBeGreaterThan(5);
    expect(r.figures.kills.worker).toBeGreaterThan(0);
    expect(r.figures.kills.bot).toBeGreaterThan(0);
  });

  it('every finding answered 202 is on its one posted card, at its last version', () => {
    expect(r.figures.answered202).toBe(FINDINGS);
    expect(r.figures.findingsOnCard).toBe(FINDINGS);
    expect(r.figures.findingsAtLastVersion).toBe(FINDINGS);
    expect(r.figures.cardPostsDoubled).toBe(0);
  });

  it('every isolation request ended done, with the instance isolated in AWS', () => {
    expect(r.figures.requests).toBe(ISOLATIONS);
    expect(r.figures.requestsByState).toEqual({ done: ISOLATIONS });
    expect(r.figures.isolatedInAws).toBe(ISOLATIONS);
  });

  it('each request has exactly one status message and every audit record once', () => {
    expect(r.figures.statusMessagesPerRequest).toEqual({ 1: ISOLATIONS });
    expect({ lost: r.figures.auditLost, doubled: r.figures.auditDoubled }).toEqual({ lost: 0, doubled: 0 });
  });

  it('one worker polls Security Hub per interval', () => {
    expect(r.figures.polls).toBeGreaterThan(0);
    // A tick whose worker died is polled again (late), never by two workers at once.
    if (r.figures.minSecondsBetweenPolls !== null) expect(r.figures.minSecondsBetweenPolls).toBeGreaterThanOrEqual(5);
    expect(r.figures.polls).toBeLessThanOrEqual(r.figures.pollTicks + Math.ceil(r.figures.pollTicks / 4));
  });

  it('nothing else went wrong (no child crashed by itself, everything quiet in time)', () => {
    expect(r.problems).toEqual([]);
  });
});

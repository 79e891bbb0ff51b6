/**
 * The full kill test (`npm run kill-test`): 3 bots + 3 workers on one Redis, the intake bench's
 * findings and 100 isolation requests, one process SIGKILLed every 3–5 s; prints the figures,
 * writes them to benchmarks/RESULTS.md and exits non-zero on any problem. The reduced form runs
 * in `npm test` (test/cluster/kill.test.ts).
 *
 *   KILL_FINDINGS=2000 KILL_VERSIONS=5   findings load        KILL_ISOLATIONS=100
 *   KILL_MIN_MS=3000 KILL_MAX_MS=5000     time between kills   KILL_PAUSE_MS=1000  down time
 *   KILL_SECONDS=120                      kills go on at least this long (and until the load is done)
 *   KILL_RECORD=0                         do not write RESULTS.md
 */
import { machine, writeSection } from '../../benchmarks/results';
import { runKillTest, type KillTestOptions } from './cluster';

const num = (name: string, d: number) => Number(process.env[name] ?? d);

async function main(): Promise<void> {
  const options: KillTestOptions = {
    bots: num('KILL_BOTS', 3),
    workers: num('KILL_WORKERS', 3),
    findings: num('KILL_FINDINGS', 2000),
    versions: num('KILL_VERSIONS', 5),
    senders: num('KILL_SENDERS', 20),
    isolations: num('KILL_ISOLATIONS', 100),
    spreadMs: num('KILL_SPREAD_SECONDS', 0) * 1000,
    killMinMs: num('KILL_MIN_MS', 3000),
    killMaxMs: num('KILL_MAX_MS', 5000),
    pauseMs: num('KILL_PAUSE_MS', 1000),
    minKillMs: num('KILL_SECONDS', 120) * 1000,
    maxKillMs: num('KILL_MAX_SECONDS', 900) * 1000,
    quietTimeoutMs: num('KILL_QUIET_SECONDS', 300) * 1000,
    awsLatencyMs: num('KILL_AWS_LATENCY_MS', 50),
    seed: num('KILL_SEED', 20261201),
    log: (line) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
  };
  const r = await runKillTest(options);
  const f = r.figures;
  process.stdout.write(`${JSON.stringify(r.figures, null, 2)}\n${r.problems.map((p) => `PROBLEM ${p}`).join('\n')}\n`);
  const states = Object.entries(f.requestsByState).map(([s, n]) => `${s} ${n}`).join(', ');
  const perRequest = Object.entries(f.statusMessagesPerRequest).map(([k, n]) => `${n} with ${k}`).join(', ');
  const section = [
    `## Kill test: several bots and workers (issue 16) — ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${machine()} (shared with other builds). ${options.bots} bot processes (\`src/main.ts bot\`, each its own PORT) and ${options.workers} worker processes (startWorker, BullMQ locks 8 s, stalled check 4 s) on one private Redis (AOF, appendfsync always), the local Slack API server (1 post/s per channel, 429s) and one AWS stand-in (test/support/fake-aws.ts) served to every worker over loopback HTTP (test/cluster/aws-remote.ts). One random process SIGKILLed every ${options.killMinMs / 1000}–${options.killMaxMs / 1000} s and started again ${options.pauseMs / 1000} s later, for at least ${options.minKillMs / 1000} s and until the load was done. Load: the intake bench's findings (${options.findings} distinct × ${options.versions} versions, one event per request, ${options.senders} senders, round-robin over the bots, retried on 503 and broken connections as EventBridge does) and ${options.isolations} \`/ir isolate\` requests at once, each on its own instance (signed slash command on any bot, typed again when no answer came; Approve by a second person on any bot, clicked again when nothing came of it). Config: \`requests.reconcileSeconds: 2\`, \`requests.maxResumes: 10\`, \`aws.mutationsPerSecond: 100\`, Security Hub poll every ${30} s. Wall time ${f.wallSeconds} s. Run with \`npm run kill-test\`.`,
    '',
    '| figure | result | target |',
    '|---|---|---|',
    `| processes killed (bots / workers); processes started in all | ${f.kills.bot} / ${f.kills.worker}; ${f.childrenStarted} | > 0 |`,
    `| findings sent / answered 202 / on their posted card / at their last version | ${f.answered202 === options.findings ? options.findings : `${options.findings}`} / ${f.answered202} / ${f.findingsOnCard} / ${f.findingsAtLastVersion} | all |`,
    `| finding requests (${f.findingsSent} events) / 503s / broken connections / retries | ${f.findingRequests} / ${f.ingest503} / ${f.ingestConnectionErrors} / ${f.ingestRetries} | — |`,
    `| cards / cards posted more than once | ${f.cards} / ${f.cardPostsDoubled} | — / 0 |`,
    `| isolation requests / ended by state | ${f.requests} / ${states} | ${options.isolations} / all done |`,
    `| instances isolated in AWS (only the quarantine group on every interface) | ${f.isolatedInAws} | ${options.isolations} |`,
    `| status messages per request | ${perRequest} | all with 1 |`,
    `| slash commands typed / Approve clicks (incl. repeats after a dead bot) | ${f.slashAttempts} / ${f.approveClicks} | — |`,
    `| requests resumed after their worker died (sum) | ${f.resumes} | — |`,
    `| audit records lost / doubled | ${f.auditLost} / ${f.auditDoubled} | 0 / 0 |`,
    `| Security Hub polls / ticks of its 30 s scheduler / least time between two polls | ${f.polls} / ${f.pollTicks} / ${f.minSecondsBetweenPolls ?? '—'} s | ≤ ticks + a repeat of a tick whose worker died; ≥ 5 s (never two pollers at once) |`,
    `| time to quiet after the last kill | ${f.secondsToQuietAfterLastKill} s | — |`,
    `| Slack 429s met | ${f.slack429s} | all retried |`,
    `| problems | ${r.problems.length ? r.problems.slice(0, 5).join('; ') : 'none'} | none |`,
    '',
  ].join('\n');
  if (process.env.KILL_RECORD !== '0') writeSection('## Kill test: several bots and workers (issue 16)', section);
  process.exit(r.problems.length ? 1 : 0);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});

/**
 * Hunt benchmark (issue 5): for queries that finish after a given time, the delay between Athena
 * finishing and the result reaching the thread, and how many status checks it took, against
 * checking every second.
 */
import { FakeAws } from '../test/support/fake-aws';
import { startHarness, SIGNING_SECRET } from '../test/support/harness';
import { startRedisServer } from '../test/support/redis-server';
import { slackSignature, slashCommandBody } from '../test/support/slack-signing';
import { progress, until } from './pipeline';
import { machine, writeSection } from './results';

const RUN_SECONDS = (process.env.BENCH_HUNT_SECONDS ?? '2.5,10.5,30.5,60.5').split(',').map(Number);

async function main() {
  const redis = await startRedisServer({ aof: false });
  process.env.TEST_REDIS_URL = redis.url;
  const aws = new FakeAws();
  aws.queryRows = Array.from({ length: 50 }, (_, i) => [`arn:aws:iam::123456789012:user/u${i}`, 'RunInstances', '', '1']);
  const h = await startHarness({
    file: {
      athena: { workgroup: 'primary', database: 'security_logs', outputLocation: 's3://example-athena-results/ir-bot/', tables: { cloudtrail: 'cloudtrail_logs', vpcflow: 'vpc_flow_logs' } },
      access: { responders: ['U01ANA'], approvers: [], requireApproval: [] },
    },
  });
  const rows: { seconds: number; delayMs: number; polls: number; fixedPolls: number; targetMs: number }[] = [];
  try {
    for (const [n, seconds] of RUN_SECONDS.entries()) {
      aws.queryRunMs = seconds * 1000;
      const before = aws.queries.size;
      const body = slashCommandBody(`hunt principal-calls principal=arn:aws:iam::123456789012:user/bench${n}`, { responseUrl: `${h.slack.baseUrl}/respond/bench` });
      await fetch(`${h.baseUrl}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SIGNING_SECRET, body) }, body });
      progress(`hunt ${n + 1} of ${RUN_SECONDS.length}: query runs ${seconds} s`);
      const [id, q] = await until(h, () => [...aws.queries.entries()][before], 'the query', 60_000);
      // The n-th hunt's result is the n-th Slack call that carries results.
      const shown = await until(
        h,
        () => h.slack.calls.filter((c) => c.status === 200 && ['chat.update', 'chat.postMessage'].includes(c.method) && JSON.stringify(c.args.blocks ?? '').includes('*Results*'))[n],
        'the result in Slack',
        seconds * 1000 + 30_000,
      );
      const finishedAt = q.startedAt + aws.queryRunMs;
      const polls = aws.callsOf('GetQueryExecution').filter((c) => c.input.QueryExecutionId === id).length;
      rows.push({ seconds, delayMs: shown.at - finishedAt, polls, fixedPolls: Math.floor(seconds) + 2, targetMs: Math.max(1000, seconds * 100) });
    }
  } finally {
    await h.stop();
    aws.restore();
    await redis.stop();
  }
  console.log(JSON.stringify(rows, null, 2));
  writeSection(
    '## Hunts (issue 5)',
    [
      `## Hunts (issue 5) — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `Machine: ${machine()}. Bot and worker in one process against the in-memory AWS account; its Athena finishes each query after a set time. Delay = from the moment Athena finished to the Slack call that put the result in the thread (it includes reading the results, rendering and the Slack limiter). "Every second" is what checking right after the start and then once a second would need.`,
      '',
      '| query runs | delay until the result is in the thread | target (10% of run time or 1 s) | status checks | checking every second |',
      '|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.seconds} s | ${(r.delayMs / 1000).toFixed(2)} s | ≤ ${(r.targetMs / 1000).toFixed(1)} s | ${r.polls} | ${r.fixedPolls} |`),
      '',
      'Checks come once a second at first, then every 9% of the run time so far. The run times end half-way between seconds, a typical case: a query that ends just after a check waits up to a second (or 9% of its run time) for the next one.',
      '',
      'Run with `npm run bench:hunt` (`BENCH_HUNT_SECONDS=2.5,10.5,30.5,60.5` picks the run times).',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

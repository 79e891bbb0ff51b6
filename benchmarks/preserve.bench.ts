/**
 * Preservation benchmark (issue 4): snapshotting the playbook's ten instances, two EBS volumes
 * each, with 100 ms injected into every AWS call, against one after another.
 */
import { performance } from 'node:perf_hooks';
import { FakeAws } from '../test/support/fake-aws';
import { startHarness, type Harness } from '../test/support/harness';
import { startRedisServer } from '../test/support/redis-server';
import type { ActionRequest } from '../src/requests/model';
import { progress, runCommands } from './pipeline';
import { machine, percentile, writeSection } from './results';

const INSTANCES = 10;
const LATENCY_MS = 100;
const POLL_MS = 500;
const POLLS_TO_COMPLETE = 3;

const ids = (base: number) => Array.from({ length: INSTANCES }, (_, i) => `i-0${(base + i).toString(16).padStart(16, '0')}`);

function checkSnapshots(expected: number) {
  return (r: ActionRequest) => {
    const ok = r.result?.lines.filter((l) => l.endsWith('completed ✓')).length;
    if (!r.result?.ok || ok !== expected) throw new Error(`${r.id}: unexpected result ${JSON.stringify(r.result)}`);
  };
}

async function main() {
  const redis = await startRedisServer({ aof: false });
  process.env.TEST_REDIS_URL = redis.url;
  const aws = new FakeAws();
  const seq = ids(0xc000);
  const separate = ids(0xd000);
  const together = ids(0xe000);
  for (const id of [...seq, ...separate, ...together]) aws.addWebServer(id, { eip: false, targetGroup: false });
  aws.snapshotPolls = POLLS_TO_COMPLETE;
  aws.latencyMs = LATENCY_MS;
  let h: Harness | undefined;
  try {
    h = await startHarness({
      file: { access: { responders: ['U01ANA'], approvers: [], requireApproval: [] }, snapshot: { pollIntervalMs: POLL_MS, maxPollIntervalMs: POLL_MS } },
    });
    const calls0 = aws.calls.length;
    progress(`snapshots of ${INSTANCES} instances one after another`);
    const s0 = performance.now();
    const singles: number[] = [];
    for (const id of seq) singles.push((await runCommands(h, [{ text: `snapshot ${id}`, action: 'snapshot', firstInstance: id }], checkSnapshots(2))).wallMs);
    const sequentialMs = performance.now() - s0;
    const callsPerInstance = (aws.calls.length - calls0) / INSTANCES;
    progress('ten /ir snapshot commands at once');
    const tenCommands = await runCommands(h, separate.map((id) => ({ text: `snapshot ${id}`, action: 'snapshot', firstInstance: id })), checkSnapshots(2));
    progress('one /ir snapshot of ten instances');
    const oneCommand = await runCommands(h, [{ text: `snapshot ${together.join(' ')}`, action: 'snapshot', firstInstance: together[0] }], checkSnapshots(2 * INSTANCES));
    const sorted = [...singles].sort((a, b) => a - b);
    const f = (ms: number) => (ms / 1000).toFixed(2);
    const figures = {
      sequentialSeconds: f(sequentialMs),
      tenCommandsSeconds: f(tenCommands.wallMs),
      oneCommandSeconds: f(oneCommand.wallMs),
      speedupTenCommands: (sequentialMs / tenCommands.wallMs).toFixed(1),
      speedupOneCommand: (sequentialMs / oneCommand.wallMs).toFixed(1),
      medianSingleSeconds: f(percentile(sorted, 50)),
      slowestSingleSeconds: f(sorted.at(-1)!),
      awsCallsPerInstance: Math.round(callsPerInstance),
    };
    console.log(JSON.stringify(figures, null, 2));
    writeSection(
      '## Preservation (issue 4)',
      [
        `## Preservation (issue 4) — ${new Date().toISOString().slice(0, 10)}`,
        '',
        `Machine: ${machine()}. Bot and worker in one process against the in-memory AWS account (test/support/fake-aws.ts) with ${LATENCY_MS} ms injected into every call. Ten instances, two EBS volumes each; a snapshot completes on the ${POLLS_TO_COMPLETE}rd progress check, checks ${POLL_MS} ms apart (\`snapshot.pollIntervalMs\`), so one snapshot set takes about a second of waiting whatever the parallelism. No approval. About ${figures.awsCallsPerInstance} AWS calls per instance (plan, re-plan, CreateSnapshots, device tags, progress checks). Every result is checked: 2 snapshots completed per instance.`,
        '',
        '| figure | result |',
        '|---|---|',
        `| one after another (\`/ir snapshot\` per instance, waiting for each) | ${figures.sequentialSeconds} s |`,
        `| ten \`/ir snapshot\` commands at once | ${figures.tenCommandsSeconds} s (${figures.speedupTenCommands}× faster) |`,
        `| one \`/ir snapshot\` with all ten instances (the story's "Snapshot all") | ${figures.oneCommandSeconds} s (${figures.speedupOneCommand}× faster) |`,
        `| single instance, median / slowest | ${figures.medianSingleSeconds} s / ${figures.slowestSingleSeconds} s |`,
        '',
        'Run with `npm run bench:preserve`.',
        '',
      ].join('\n'),
    );
  } finally {
    await h?.stop();
    aws.restore();
    await redis.stop();
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

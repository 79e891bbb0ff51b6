/**
 * Response pipeline benchmark (issue 3).
 * A: acknowledgement latency of 1,000 Isolate button clicks and 1,000 `/ir isolate` commands,
 *    signed as Slack signs them, into the bot running as its own process (HTTP mode).
 * B: isolating the playbook's ten instances with 100 ms injected into every AWS call, all at once
 *    through the pipeline, against one after another as the playbook's shell loop does.
 */
import { execSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { encodePayload } from '../src/views/action-ids';
import { FakeAws } from '../test/support/fake-aws';
import { startHarness, type Harness } from '../test/support/harness';
import { freePort, startRedisServer } from '../test/support/redis-server';
import { SlackApiServer } from '../test/support/slack-api-server';
import { blockActionBody, slackSignature, slashCommandBody } from '../test/support/slack-signing';
import { progress, runCommands } from './pipeline';
import { machine, percentile, waitHealthy, writeSection } from './results';

const ROOT = join(__dirname, '..');
const SECRET = 'bench-signing-secret';
const CLICKS = Number(process.env.BENCH_CLICKS ?? 1000);
const CONCURRENCY = 10;
const INSTANCES = 10;
const LATENCY_MS = 100;

const instanceId = (i: number) => `i-0${i.toString(16).padStart(16, '0')}`;

async function ackLatency(redisUrl: string) {
  const slack = new SlackApiServer();
  await slack.start();
  const dir = mkdtempSync(join(tmpdir(), 'irbot-bench-'));
  const configPath = join(dir, 'ir-bot.yaml');
  writeFileSync(configPath, stringify({ channels: { default: 'C01ALERTS' }, access: { responders: ['U01ANA'], approvers: ['U02LEAD'] } }));
  const port = await freePort();
  const bot = spawn(process.execPath, ['dist/main.js', 'bot'], {
    cwd: ROOT,
    env: {
      ...process.env,
      SLACK_BOT_TOKEN: 'xoxb-bench',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_MODE: 'http',
      SLACK_API_URL: slack.url,
      PORT: String(port),
      METRICS_PORT: '0',
      REDIS_URL: redisUrl,
      REDIS_PREFIX: 'benchack',
      INGEST_API_KEY: 'bench-ingest-key-0123456789abcdef',
      IR_CONFIG: configPath,
      LOG_LEVEL: 'warn',
      AWS_REGION: 'us-east-1',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(base);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const send = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const req = request(
        `${base}/slack/events`,
        { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...slackSignature(SECRET, body) } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const responseUrl = `${slack.baseUrl}/respond/bench`;
  const run = async (bodies: string[]) => {
    const out: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) out.push(await send(bodies[next++]));
      }),
    );
    return out.sort((a, b) => a - b);
  };
  // Warm-up (JIT, connections), not counted.
  await run(Array.from({ length: 50 }, () => slashCommandBody('help', { responseUrl })));
  const clicks = Array.from({ length: CLICKS }, (_, i) =>
    blockActionBody(
      { type: 'button', action_id: 'ir_isolate', value: encodePayload({ a: 'isolate', k: 'ab'.repeat(12), r: instanceId(i) }), text: { type: 'plain_text', text: 'Isolate' } },
      { responseUrl, messageTs: '1700000000.000100' },
    ),
  );
  const commands = Array.from({ length: CLICKS }, (_, i) => slashCommandBody(`isolate ${instanceId(CLICKS + i)} bench`, { responseUrl }));
  const clickMs = await run(clicks);
  const commandMs = await run(commands);
  // Every request was really queued (the handlers do their work after the acknowledgement).
  await new Promise((r) => setTimeout(r, 1000));
  bot.kill('SIGTERM');
  await new Promise((r) => bot.once('exit', r));
  await slack.stop();
  return { clickMs, commandMs };
}

function isolationRun(h: Harness, ids: string[]) {
  return runCommands(
    h,
    ids.map((id) => ({ text: `isolate ${id} bench`, action: 'isolate', firstInstance: id })),
    (r) => {
      // Guard against a bench that isolates nothing: both interfaces must be verified in quarantine.
      if (!r.result?.ok || r.result.lines.filter((l) => /^eni-.*only ✓$/.test(l)).length !== 2) throw new Error(`${r.target}: unexpected result ${JSON.stringify(r.result)}`);
    },
  );
}

async function isolation() {
  const aws = new FakeAws();
  const ids = Array.from({ length: INSTANCES }, (_, i) => `i-0${(0xa000 + i).toString(16).padStart(16, '0')}`);
  const seqIds = Array.from({ length: INSTANCES }, (_, i) => `i-0${(0xb000 + i).toString(16).padStart(16, '0')}`);
  for (const id of [...ids, ...seqIds]) aws.addWebServer(id, { asg: 'web-asg' });
  aws.latencyMs = LATENCY_MS;
  const h = await startHarness({ file: { access: { responders: ['U01ANA'], approvers: [], requireApproval: [] } }, slackOptions: {} });
  try {
    const callsBefore = aws.calls.length;
    // The playbook's loop: one instance, wait until it is done, the next.
    const sequential: number[] = [];
    const s0 = performance.now();
    for (const id of seqIds) sequential.push((await isolationRun(h, [id])).wallMs);
    const sequentialMs = performance.now() - s0;
    const callsPerInstance = (aws.calls.length - callsBefore) / INSTANCES;
    const parallel = await isolationRun(h, ids);
    return { sequentialMs, sequential, parallel, callsPerInstance };
  } finally {
    await h.stop();
    aws.restore();
  }
}

async function main() {
  execSync('npm run build --silent', { cwd: ROOT, stdio: 'inherit' });
  const redis = await startRedisServer({ aof: false });
  process.env.TEST_REDIS_URL = redis.url;
  try {
    progress(`acknowledgement latency: ${CLICKS} clicks, then ${CLICKS} commands`);
    const { clickMs, commandMs } = await ackLatency(redis.url);
    progress(`isolating ${INSTANCES} instances one after another, then all at once`);
    const iso = await isolation();
    const slowestSingle = Math.max(...iso.sequential);
    const speedup = iso.sequentialMs / iso.parallel.wallMs;
    const f = (n: number) => n.toFixed(1);
    const figures = {
      clicks: { p50: f(percentile(clickMs, 50)), p99: f(percentile(clickMs, 99)), max: f(clickMs.at(-1)!) },
      commands: { p50: f(percentile(commandMs, 50)), p99: f(percentile(commandMs, 99)), max: f(commandMs.at(-1)!) },
      sequentialSeconds: (iso.sequentialMs / 1000).toFixed(2),
      parallelSeconds: (iso.parallel.wallMs / 1000).toFixed(2),
      slowestSingleSeconds: (slowestSingle / 1000).toFixed(2),
      medianSingleSeconds: (percentile([...iso.sequential].sort((a, b) => a - b), 50) / 1000).toFixed(2),
      speedup: speedup.toFixed(1),
      parallelOverSlowestSingle: (iso.parallel.wallMs / slowestSingle).toFixed(2),
      awsCallsPerIsolation: Math.round(iso.callsPerInstance),
    };
    console.log(JSON.stringify(figures, null, 2));
    const date = new Date().toISOString().slice(0, 10);
    writeSection(
      '## Response pipeline (issue 3)',
      [
        `## Response pipeline (issue 3) — ${date}`,
        '',
        `Machine: ${machine()}.`,
        '',
        `**Acknowledgement latency.** The bot runs as its own process (\`node dist/main.js bot\`, HTTP mode) against Redis; the load generator sends ${CLICKS} signed Isolate button clicks, then ${CLICKS} signed \`/ir isolate <instance>\` commands, each for a different instance (so each one authorizes, stores a request and queues a plan job), ${CONCURRENCY} at a time. Latency is from sending the request to Slack's HTTP response (the acknowledgement).`,
        '',
        '| figure | p50 | p99 | max | target |',
        '|---|---|---|---|---|',
        `| button click → ack | ${figures.clicks.p50} ms | ${figures.clicks.p99} ms | ${figures.clicks.max} ms | p99 < 50 ms |`,
        `| \`/ir isolate\` → ack | ${figures.commands.p50} ms | ${figures.commands.p99} ms | ${figures.commands.max} ms | p99 < 50 ms |`,
        '',
        `**Isolating the playbook's ten instances.** Bot and worker in one process against an in-memory EC2/Auto Scaling/ELBv2 account (test/support/fake-aws.ts) that waits ${LATENCY_MS} ms on every call. Each instance has two interfaces, an Elastic IP, an Auto Scaling group and a target group; no approval (\`requireApproval: []\`), so the figures are plan + re-plan + execute + verify. About ${figures.awsCallsPerIsolation} AWS calls per isolation. "One after another" sends \`/ir isolate\` for one instance and waits until it is done before the next, as the playbook's shell loop does; "all at once" sends the ten commands together.`,
        '',
        '| figure | result | target |',
        '|---|---|---|',
        `| one after another (10 instances) | ${figures.sequentialSeconds} s | — |`,
        `| all at once (10 instances) | ${figures.parallelSeconds} s | — |`,
        `| speed-up | ${figures.speedup}× | ≥ 5× |`,
        `| single isolation, median / slowest (the slowest is usually the first: cold clients and JIT) | ${figures.medianSingleSeconds} s / ${figures.slowestSingleSeconds} s | — |`,
        `| all at once ÷ slowest single | ${figures.parallelOverSlowestSingle} | ≤ 1.5 |`,
        `| all at once ÷ median single | ${(iso.parallel.wallMs / percentile([...iso.sequential].sort((a, b) => a - b), 50)).toFixed(2)} | — |`,
        '',
        'Run with `npm run bench:respond` (or `npm run bench` for every benchmark).',
        '',
      ].join('\n'),
    );
  } finally {
    await redis.stop();
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

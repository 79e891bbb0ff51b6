/**
 * Intake benchmark (issue 2): 10,000 findings (2,000 distinct, each updated 5 times) posted to
 * /aws/events one event per request, as EventBridge API destinations send them, over 50
 * connections at once, against a local Slack server that enforces ~1 post/s per channel with
 * 429s. Bot and worker run as two child processes, as docker-compose runs them.
 *
 * BENCH_INTAKE_CLIENT=node-http sends through node:http's keep-alive Agent instead of the lean
 * client, to show how much of the latency a heavier load generator on the same cores adds.
 */
import { spawn, execSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { ACCOUNTS, TYPES, findingEvent as event, findingKeyOf } from './findings-load';
import { KeepAliveConnection } from './keep-alive-client';
import { SlackApiServer } from '../test/support/slack-api-server';
import { machine, percentile, waitHealthy, writeSection } from './results';
import { freePort, startRedisServer } from '../test/support/redis-server';

const DISTINCT = Number(process.env.BENCH_DISTINCT ?? 2000);
const UPDATES = 5;
const CONNECTIONS = 50;
const WARMUP = 500;
const KEY = 'bench-ingest-key-0123456789abcdef';
const ROOT = join(__dirname, '..');
const CLIENT = process.env.BENCH_INTAKE_CLIENT === 'node-http' ? 'node-http' : 'keep-alive';
/** Redis persists as docker-compose runs it (AOF, appendfsync always); BENCH_REDIS_AOF=everysec|no changes that. */
const AOF = process.env.BENCH_REDIS_AOF === 'no' ? undefined : process.env.BENCH_REDIS_AOF === 'everysec' ? 'everysec' : 'always';
/** CPU time (user + system) a process has used so far, in ms. */
function cpuMs(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** One lane per connection; `send(i)` posts request i and resolves with its status. */
interface Lanes {
  send(lane: number, i: number): Promise<number>;
  close(): void;
}

async function openLanes(port: number, bodies: string[]): Promise<Lanes> {
  const headers = { 'x-api-key': KEY };
  if (CLIENT === 'node-http') {
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const send = (_lane: number, i: number) =>
      new Promise<number>((resolve, reject) => {
        const body = bodies[i];
        const req = request(
          `http://127.0.0.1:${port}/aws/events`,
          { method: 'POST', agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    return { send, close: () => agent.destroy() };
  }
  const encoded = bodies.map((b) => KeepAliveConnection.encodePost('/aws/events', headers, b));
  const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => KeepAliveConnection.open('127.0.0.1', port)));
  return { send: (lane, i) => conns[lane].send(encoded[i]), close: () => conns.forEach((c) => c.close()) };
}

async function main() {
  execSync('npm run build --silent', { cwd: ROOT, stdio: 'inherit' });
  const redisServer = await startRedisServer({ aof: !!AOF, fsync: AOF });
  const slack = new SlackApiServer({ postIntervalMs: 1000 });
  await slack.start();
  const dir = mkdtempSync(join(tmpdir(), 'irbot-bench-'));
  const configPath = join(dir, 'ir-bot.yaml');
  writeFileSync(
    configPath,
    stringify({
      channels: { default: 'C01ALERTS', routes: [{ minSeverity: 7, channel: 'C02CRIT' }, { minSeverity: 4, channel: 'C03MED' }] },
      // No AWS account is reachable here: the instance stories would only measure credential look-ups failing.
      story: { enabled: false },
    }),
  );
  const port = await freePort();
  const workerPort = await freePort();
  const prefix = 'bench';
  // As docker-compose runs them: one bot process (HTTP intake) and one worker process.
  const startProcess = (mode: 'bot' | 'worker', p: number) => spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), 'dist/main.js', mode], {
    cwd: ROOT,
    env: {
      ...process.env,
      SLACK_BOT_TOKEN: 'xoxb-bench',
      SLACK_SIGNING_SECRET: 'bench-secret',
      SLACK_MODE: 'http',
      SLACK_API_URL: slack.url,
      PORT: String(p),
      METRICS_PORT: '0',
      REDIS_URL: redisServer.url,
      REDIS_PREFIX: prefix,
      INGEST_API_KEY: KEY,
      IR_CONFIG: configPath,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const child = startProcess('bot', port);
  const worker = startProcess('worker', workerPort);
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(base);

  // 5 rounds; each round updates every distinct finding once (count and updatedAt rise).
  const bodies: string[] = [];
  for (let v = 0; v < UPDATES; v++) for (let i = 0; i < DISTINCT; i++) bodies.push(event(i, v));
  const lanes = await openLanes(port, bodies);
  const latencies: number[] = [];
  const started: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  // Every lane takes the next request in order, so each finding's versions arrive oldest first.
  const drive = (upTo: number, timed?: number) =>
    Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, lane) => {
        while (next < upTo) {
          const i = next++;
          const s = performance.now();
          const status = await lanes.send(lane, i);
          if (timed !== undefined) {
            latencies.push(performance.now() - s);
            started.push(s - timed);
          }
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
  // Warm-up: the first WARMUP requests open the connections and JIT-compile the hot path; they
  // are part of the 10,000 (answered and checked like the rest) but not of the timed figures.
  await drive(WARMUP);
  const warmupAccepted = statuses.get(202) ?? 0;
  await new Promise((r) => setTimeout(r, 1000));
  const pids = { bot: child.pid, worker: worker.pid, redis: redisServer.pid(), generator: process.pid };
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
  const t0 = performance.now();
  await drive(bodies.length, t0);
  const intakeSeconds = (performance.now() - t0) / 1000;
  // CPU each process spent per timed request: the four share two cores.
  const cpuPerRequest = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, Number(((cpuMs(pid) - cpuBefore[k]) / (bodies.length - WARMUP)).toFixed(3))]),
  ) as Record<keyof typeof pids, number>;
  lanes.close();

  // Final: every card posted and its last change rendered, nothing left on the queues.
  const redis = new Redis(redisServer.url);
  const cardKeys = async () => (await redis.keys(`${prefix}:card:*`)).filter((k) => !k.endsWith(':f'));
  let finalAt = 0;
  for (;;) {
    const keys = await cardKeys();
    const states = await Promise.all(keys.map((k) => redis.hmget(k, 'ts', 'v', 'rv')));
    const allFinal = keys.length > 0 && states.every(([ts, v, rv]) => ts && Number(rv) >= Number(v));
    // Every card shown at its latest version (the worker's own record agrees), no finding still queued.
    const waiting = (await redis.zcard(`${prefix}:cards:unsettled`)) + (await redis.llen(`${prefix}:bull:findings:wait`)) + (await redis.llen(`${prefix}:bull:findings:active`));
    if (allFinal && waiting === 0) {
      finalAt = performance.now();
      break;
    }
    if (performance.now() - t0 > 15 * 60_000) throw new Error('cards not final after 15 minutes');
    await new Promise((r) => setTimeout(r, 200));
  }
  const untilFinalSeconds = (finalAt - t0) / 1000;

  // Zero lost: every distinct finding stored at its last version and on a posted card.
  let lost = 0;
  let stale = 0;
  for (let i = 0; i < DISTINCT; i++) {
    const key = findingKeyOf(i);
    const [card, n] = await redis.hmget(`${prefix}:f:${key}`, 'c', 'n');
    const ts = card ? await redis.hget(`${prefix}:card:${card}`, 'ts') : null;
    if (!ts) lost += 1;
    else if (Number(n) !== UPDATES) stale += 1;
  }
  const peak = (pid?: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)?.[1] ?? 0);
  const rss = peak(child.pid);
  const workerRss = peak(worker.pid);
  const cards = (await cardKeys()).length;
  for (const c of [child, worker]) {
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  }
  redis.disconnect();
  await slack.stop();
  await redisServer.stop();

  const sorted = [...latencies].sort((a, b) => a - b);
  // Latency once warm: requests started after the first second (JIT, connection set-up, pools).
  const warm = latencies.filter((_, i) => started[i] >= 1000).sort((a, b) => a - b);
  const slowest = latencies.map((l, i) => [l, started[i]]).sort((a, b) => b[0] - a[0]).slice(0, 5).map(([l, st]) => `${l.toFixed(0)}ms@${st.toFixed(0)}ms`);
  const ok = statuses.get(202) ?? 0;
  const posts = slack.callsOf('chat.postMessage').length;
  const updates = slack.callsOf('chat.update').length;
  const r429 = slack.rateLimited().length;
  const figures = {
    requests: bodies.length,
    accepted202: ok,
    otherStatuses: Object.fromEntries([...statuses].filter(([s]) => s !== 202)),
    acceptedPerSecond: Math.round((ok - warmupAccepted) / intakeSeconds),
    p50ms: Number(percentile(sorted, 50).toFixed(2)),
    p99ms: Number(percentile(sorted, 99).toFixed(2)),
    warmP50ms: Number(percentile(warm, 50).toFixed(2)),
    warmP99ms: Number(percentile(warm, 99).toFixed(2)),
    slowest,
    cpuMsPerTimedRequest: cpuPerRequest,
    peakRssMiB: { bot: Math.round(rss / 1024), worker: Math.round(workerRss / 1024) },
    intakeSeconds: Number(intakeSeconds.toFixed(2)),
    secondsUntilEveryCardFinal: Number(untilFinalSeconds.toFixed(1)),
    cards,
    slackPosts: posts,
    slackUpdates: updates,
    slack429s: r429,
    findingsLost: lost,
    findingsNotAtLastVersion: stale,
  };
  console.log(JSON.stringify(figures, null, 2));

  const date = new Date().toISOString().slice(0, 10);
  const section = [
    `## Intake (issue 2) — ${date}`,
    '',
    `Machine: ${machine()}. Bot and worker as two processes (\`node dist/main.js bot\` and \`… worker\`, as docker-compose runs them), all on the same 2 cores as Redis and the load generator (${CLIENT === 'keep-alive' ? 'a lean keep-alive HTTP/1.1 client, benchmarks/keep-alive-client.ts' : "node:http's keep-alive Agent"}), ${AOF ? `Redis with AOF (appendfsync ${AOF})` : 'Redis without persistence'}, local Slack API server enforcing 1 \`chat.postMessage\`/s per channel with 429s; instance stories off (no AWS here), otherwise bot defaults (\`slack.updatesPerMinute: 50\`, \`coalesceMs: 2000\`, storm threshold 10 cards per channel per 15 min). Load: ${DISTINCT} distinct GuardDuty findings × ${UPDATES} versions = ${bodies.length} requests, one event each, ${CONNECTIONS} keep-alive connections. The first ${WARMUP} requests warm the bot up (connections, JIT, Lua scripts) and are not timed; the other ${bodies.length - WARMUP} are. Every one of the ${bodies.length} is checked for a 202 and for its finding on a final card. Findings spread over ${TYPES.length} types × ${ACCOUNTS.length} accounts and 3 channels (by severity).`,
    '',
    '| figure | result | target |',
    '|---|---|---|',
    `| findings accepted per second | ${figures.acceptedPerSecond} | ≥ 2,000 |`,
    `| request latency p50 / p99, timed requests | ${figures.p50ms} ms / ${figures.p99ms} ms | p99 < 50 ms |`,
    `| request latency p50 / p99, timed requests after their first second | ${figures.warmP50ms} ms / ${figures.warmP99ms} ms | — |`,
    `| CPU per timed request: bot / worker / Redis / load generator | ${cpuPerRequest.bot} / ${cpuPerRequest.worker} / ${cpuPerRequest.redis} / ${cpuPerRequest.generator} ms | — |`,
    `| peak RSS, bot / worker process | ${figures.peakRssMiB.bot} MiB / ${figures.peakRssMiB.worker} MiB | — |`,
    `| requests answered 202 | ${ok} of ${bodies.length}${Object.keys(figures.otherStatuses).length ? ` (others: ${JSON.stringify(figures.otherStatuses)})` : ''} | all |`,
    `| time until every card is final (from the first timed request) | ${figures.secondsUntilEveryCardFinal} s (intake itself ${figures.intakeSeconds} s) | — |`,
    `| cards / Slack posts / Slack updates | ${cards} / ${posts} / ${updates} | — |`,
    `| Slack 429s met (all retried: every card final) | ${r429} | 0 left unretried |`,
    `| findings lost / not at their last version | ${lost} / ${stale} | 0 / 0 |`,
    '',
    'Run with `npm run bench` (set `BENCH_DISTINCT` for a smaller run, `BENCH_INTAKE_CLIENT=node-http` to load through node:http instead, `BENCH_REDIS_AOF=everysec|no` for other Redis persistence).',
    '',
  ].join('\n');
  writeSection('## Intake (issue 2)', section);
  process.exit(lost === 0 && stale === 0 && ok === bodies.length ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

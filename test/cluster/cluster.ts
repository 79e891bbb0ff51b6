/**
 * The kill test (issue 16): several bot and worker processes on one Redis (AOF, fsync always)
 * under load, one of them SIGKILLed at random every few seconds and started again after a short
 * pause. The load is the intake bench's findings, posted round-robin to the bots' POST /aws/events
 * and retried on 503 or a broken connection as EventBridge retries, and N isolation requests made
 * through the Slack surface (signed `/ir isolate` on any bot, then Approve by a second person on
 * any bot, each asked again when no answer came, as a person would). Once load and kills stop and
 * everything is quiet, `checkCluster` says what a responder would notice: a finding without its
 * card, a card or status message posted twice, a request that never ended or whose result AWS
 * contradicts, an audit record lost or doubled, two workers polling Security Hub at once.
 *
 * Children are the real entry points, configured only through the environment: bots run
 * `src/main.ts bot`; workers run test/cluster/worker-child.ts (startWorker, with short BullMQ
 * locks and the AWS SDK forwarded to the one AWS stand-in in this process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { AuditLog } from '../../src/audit/log';
import { createLogger } from '../../src/log';
import { isTerminal, type ActionRequest } from '../../src/requests/model';
import { RequestStore } from '../../src/requests/store';
import { APPROVE_ACTION_ID } from '../../src/views/action-ids';
import { findingEvent, findingKeyOf } from '../../benchmarks/findings-load';
import { FakeAws } from '../support/fake-aws';
import { BASE_FILE_CONFIG, INGEST_KEY, SIGNING_SECRET, testEnv, writeConfigFile } from '../support/harness';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server';
import { SlackApiServer, type SlackMessage } from '../support/slack-api-server';
import { blockActionBody, slackSignature, slashCommandBody } from '../support/slack-signing';
import { buttonIn } from '../support/slack-user';
import { terminate } from '../support/worker-process';
import { serveAws, type AwsServer } from './aws-remote';

const ROOT = resolve(__dirname, '../..');
const QUARANTINE = 'ir-quarantine';
/** /ir commands are typed in these channels, so their status messages share Slack's 1 post/s per channel. */
const OPS_CHANNELS = ['C04OPS1', 'C04OPS2', 'C04OPS3', 'C04OPS4', 'C04OPS5'];
const POLL_SECONDS = 30;
/** Two polls closer than this are two workers polling the same tick. */
const CONCURRENT_POLLS_S = 5;

export interface KillTestOptions {
  bots: number;
  workers: number;
  /** Distinct findings, each sent in `versions` versions (oldest first). */
  findings: number;
  versions: number;
  /** Concurrent /aws/events senders. */
  senders: number;
  isolations: number;
  /** Each isolation is asked at a random moment within this long after the start (0: all at once). */
  spreadMs: number;
  /** A kill every killMinMs…killMaxMs; the child starts again pauseMs later. */
  killMinMs: number;
  killMaxMs: number;
  pauseMs: number;
  /** Kills go on at least this long, and stop once the load is done (or after maxKillMs). */
  minKillMs: number;
  maxKillMs: number;
  /** After the kills stop: how long everything may take to become quiet. */
  quietTimeoutMs: number;
  /** Every AWS call takes this long, so a kill finds isolations half done. */
  awsLatencyMs: number;
  seed: number;
  log?: (line: string) => void;
}

export interface KillTestResult {
  options: KillTestOptions;
  problems: string[];
  figures: {
    wallSeconds: number;
    kills: { bot: number; worker: number };
    childrenStarted: number;
    findingsSent: number;
    findingRequests: number;
    answered202: number;
    findingsOnCard: number;
    findingsAtLastVersion: number;
    cards: number;
    cardPostsDoubled: number;
    ingest503: number;
    ingestConnectionErrors: number;
    ingestRetries: number;
    slashAttempts: number;
    approveClicks: number;
    requests: number;
    requestsByState: Record<string, number>;
    statusMessagesPerRequest: Record<string, number>;
    isolatedInAws: number;
    auditLost: number;
    auditDoubled: number;
    /** Executions picked up again after their worker died (audit `resumed`). */
    resumes: number;
    polls: number;
    minSecondsBetweenPolls: number | null;
    pollTicks: number;
    secondsToQuietAfterLastKill: number;
    slack429s: number;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

interface Child {
  name: string;
  kind: 'bot' | 'worker';
  port?: number;
  proc?: ChildProcess;
  /** Killed by us and not yet started again. */
  down: boolean;
}

/** The bot and worker processes: started, killed and started again; any other exit is a problem. */
class Fleet {
  readonly children: Child[] = [];
  started = 0;
  kills = { bot: 0, worker: 0 };
  lastKillAt = 0;
  crashes: string[] = [];
  private stopping = false;
  private restarts = new Set<NodeJS.Timeout>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {}

  add(kind: 'bot' | 'worker', port?: number): void {
    const c: Child = { name: `${kind}${this.children.filter((x) => x.kind === kind).length + 1}`, kind, port, down: false };
    this.children.push(c);
    this.start(c);
  }

  private start(c: Child): void {
    const script = c.kind === 'bot' ? [join(ROOT, 'src/main.ts'), 'bot'] : [join(__dirname, 'worker-child.ts')];
    const out = openSync(join(this.logDir, `${c.name}.log`), 'a');
    const proc = spawn(process.execPath, ['--import', 'tsx', ...script], {
      cwd: ROOT,
      env: { ...this.env, ...(c.port ? { PORT: String(c.port) } : {}) },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    this.started += 1;
    c.proc = proc;
    c.down = false;
    proc.on('exit', (code, signal) => {
      if (this.stopping || c.proc !== proc || signal === 'SIGKILL') return;
      this.crashes.push(`${c.name} exited by itself (${code ?? signal}); see ${join(this.logDir, `${c.name}.log`)}`);
      this.start(c);
    });
  }

  /** SIGKILLs one running child; it starts again after `pauseMs`. */
  kill(c: Child, pauseMs: number): void {
    if (!c.proc || c.down) return;
    c.down = true;
    c.proc.kill('SIGKILL');
    this.kills[c.kind] += 1;
    this.lastKillAt = performance.now();
    const t = setTimeout(() => {
      this.restarts.delete(t);
      if (!this.stopping) this.start(c);
    }, pauseMs);
    this.restarts.add(t);
  }

  running(): Child[] {
    return this.children.filter((c) => !c.down);
  }

  allUp(): boolean {
    return this.children.every((c) => !c.down);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.restarts.forEach(clearTimeout);
    await Promise.all(this.children.map((c) => terminate(c.proc, 15_000)));
  }
}

/** Where the findings and isolation load stand. */
class Load {
  findingRequests = 0;
  answered = new Map<number, number>();
  ingest503 = 0;
  ingestConnectionErrors = 0;
  ingestRetries = 0;
  ingestOther: string[] = [];
  findingsDone = false;
  slashAttempts = 0;
  approveClicks = 0;
  requestIds = new Map<string, string>();
  requestsDone = 0;
}

/** Runs the kill test once and returns what it saw; the caller decides what to assert or record. */
export async function runKillTest(o: KillTestOptions): Promise<KillTestResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => undefined);
  const random = rng(o.seed);
  const problems: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'irbot-cluster-'));
  let redisServer: RedisServer | undefined;
  let slack: SlackApiServer | undefined;
  let awsServer: AwsServer | undefined;
  let fleet: Fleet | undefined;
  let redis: Redis | undefined;
  const aws = new FakeAws();
  aws.account = '123456789012';
  try {
    redisServer = await startRedisServer({ aof: true, fsync: 'always' });
    // Slack's own limit: one top-level post per second per channel, answered 429 beyond it.
    slack = new SlackApiServer({ postIntervalMs: 1000 });
    await slack.start();
    const instances = Array.from({ length: o.isolations }, (_, n) => `i-0c1a${(n + 1).toString(16).padStart(13, '0')}`);
    for (const id of instances) aws.addWebServer(id, { asg: 'web-asg' });
    aws.latencyMs = o.awsLatencyMs;
    awsServer = await serveAws(aws, (api) => (api === 'GetFindings' ? { Findings: [] } : undefined));

    const configPath = writeConfigFile({
      ...BASE_FILE_CONFIG,
      access: { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: ['isolate'] },
      // The account limiter would pace 100 isolations at 4 mutations/s (minutes); this test is
      // about kills, not pacing (the storm bench measures that).
      aws: { mutationsPerSecond: 100, mutationBurst: 1000, maxAttempts: 3, jobAttempts: 8, jobBackoffMs: 200 },
      // One kill every few seconds is far beyond any real fleet: a request may lose its worker
      // several times, and the reconciler looks often so that recovery fits in the test.
      requests: { reconcileSeconds: 2, maxResumes: 10 },
      slack: { ...BASE_FILE_CONFIG.slack, sweepSeconds: 5 },
      securityHub: { poll: { enabled: true, intervalSeconds: POLL_SECONDS } },
    });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...testEnv({
        SLACK_API_URL: slack.url,
        IR_CONFIG: configPath,
        REDIS_URL: redisServer.url,
        LOG_LEVEL: process.env.CLUSTER_LOG_LEVEL ?? 'warn',
      }),
      CLUSTER_AWS_URL: awsServer.url,
    };
    const prefix = env.REDIS_PREFIX!;
    redis = new Redis(redisServer.url);
    const store = new RequestStore(redis, prefix, 3600);
    fleet = new Fleet(env, dir);
    const bots: number[] = [];
    for (let i = 0; i < o.bots; i++) {
      const port = await freePort();
      bots.push(port);
      fleet.add('bot', port);
    }
    for (let i = 0; i < o.workers; i++) fleet.add('worker');
    await waitUntil(async () => (await Promise.all(bots.map((p) => fetch(`http://127.0.0.1:${p}/healthz`).then((r) => r.ok, () => false)))).every(Boolean), 120_000, 'the bots to start');
    log(`${o.bots} bots and ${o.workers} workers up in ${((performance.now() - t0) / 1000).toFixed(1)} s; logs in ${dir}`);

    const load = new Load();
    const pollsFrom = performance.now();
    let nextBot = 0;
    const bot = () => bots[nextBot++ % bots.length];

    // Findings: every lane takes the next request in order (each finding's versions oldest first).
    const bodies: { i: number; body: string }[] = [];
    for (let v = 0; v < o.versions; v++) for (let i = 0; i < o.findings; i++) bodies.push({ i, body: findingEvent(i, v) });
    let next = 0;
    const sendFinding = async (n: number) => {
      for (let attempt = 0; attempt < 200; attempt++) {
        if (attempt > 0) {
          load.ingestRetries += 1;
          await sleep(Math.min(2000, 100 * attempt));
        }
        load.findingRequests += 1;
        let status: number;
        try {
          const res = await fetch(`http://127.0.0.1:${bot()}/aws/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': INGEST_KEY }, body: bodies[n].body });
          status = res.status;
          await res.text();
        } catch {
          load.ingestConnectionErrors += 1;
          continue;
        }
        if (status === 202) {
          load.answered.set(bodies[n].i, Math.max(load.answered.get(bodies[n].i) ?? 0, n));
          return;
        }
        if (status === 503) load.ingest503 += 1;
        else if (status !== 502 && status !== 504) {
          load.ingestOther.push(`finding ${bodies[n].i}: ${status}`);
          return;
        }
      }
      load.ingestOther.push(`finding ${bodies[n].i}: no 202 after 200 attempts`);
    };
    const findingsLoad = Promise.all(
      Array.from({ length: o.senders }, async () => {
        while (next < bodies.length) await sendFinding(next++);
      }),
    ).then(() => {
      load.findingsDone = true;
      log(`findings: ${bodies.length} answered 202 after ${load.findingRequests} requests (${load.ingest503} × 503, ${load.ingestConnectionErrors} broken connections)`);
    });

    // Isolations: all asked at once, each on its own instance, typed in one of the ops channels.
    const deadline = t0 + o.maxKillMs + o.quietTimeoutMs;
    const isolationsLoad = Promise.all(instances.map((id, n) => isolate(id, OPS_CHANNELS[n % OPS_CHANNELS.length], n))).then(() => log('every isolation ended'));
    async function sendSlack(body: string): Promise<number> {
      const res = await fetch(`http://127.0.0.1:${bot()}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SIGNING_SECRET, body) }, body });
      await res.text();
      return res.status;
    }
    async function isolate(instance: string, channel: string, n: number): Promise<void> {
      await sleep(random() * o.spreadMs);
      let id: string | undefined;
      for (let attempt = 1; !id && performance.now() < deadline; attempt++) {
        load.slashAttempts += 1;
        const path = `/respond/iso-${n}-${attempt}`;
        const status = await sendSlack(slashCommandBody(`isolate ${instance} kill test`, { userId: 'U01ANA', channelId: channel, responseUrl: `${slack!.baseUrl}${path}` })).catch(() => 0);
        if (status !== 200) {
          await sleep(500);
          continue;
        }
        // No answer in the response URL: the bot died after its ack; the analyst types it again.
        const text = await waitUntil(async () => slack!.responses.find((r) => r.path === path)?.body.text as string | undefined, 20_000).catch(() => undefined);
        id = text && /as `(isolate-[^`]+)`/.exec(text)?.[1];
        if (text && !id) await sleep(1000);
      }
      if (!id) return;
      load.requestIds.set(instance, id);
      // Approve every approval card the request shows (a new plan asks again); click again when a
      // click was answered but nothing came of it (the bot died after its ack).
      const clicked = new Map<string, number>();
      while (performance.now() < deadline) {
        const r = await store.get(id);
        if (r && isTerminal(r.state)) break;
        const msg = r?.state === 'awaiting-approval' && r.statusTs && r.renderedVersion >= r.version ? slack!.messages.get(`${r.channel}/${r.statusTs}`) : undefined;
        const button = msg && buttonIn(msg, APPROVE_ACTION_ID);
        if (msg && button && performance.now() - (clicked.get(button.value) ?? -Infinity) > 10_000) {
          clicked.set(button.value, performance.now());
          load.approveClicks += 1;
          const body = blockActionBody(
            { type: 'button', action_id: APPROVE_ACTION_ID, value: button.value, text: { type: 'plain_text', text: 'Approve' } },
            { userId: 'U02LEAD', channelId: msg.channel, messageTs: msg.ts, threadTs: msg.thread_ts, responseUrl: `${slack!.baseUrl}/respond/approve-${n}` },
          );
          if ((await sendSlack(body).catch(() => 0)) !== 200) clicked.delete(button.value);
        }
        await sleep(250);
      }
      load.requestsDone += 1;
    }

    // The killer: one random running child every killMinMs…killMaxMs, while the load runs.
    const loadDone = () => load.findingsDone && load.requestsDone === o.isolations;
    while (performance.now() - t0 < o.maxKillMs && (performance.now() - t0 < o.minKillMs || !loadDone())) {
      await sleep(o.killMinMs + random() * (o.killMaxMs - o.killMinMs));
      const up = fleet.running();
      const victim = up[Math.floor(random() * up.length)];
      if (victim) {
        fleet.kill(victim, o.pauseMs);
        log(`killed ${victim.name} (${fleet.kills.bot + fleet.kills.worker} kills; ${load.answered.size}/${o.findings} findings, ${load.requestsDone}/${o.isolations} requests ended)`);
      }
    }
    const killsStoppedAt = performance.now();
    log(`kills stopped after ${((killsStoppedAt - t0) / 1000).toFixed(0)} s`);
    await waitUntil(async () => fleet!.allUp(), o.pauseMs + 5000, 'every child to be started again');
    await Promise.all([findingsLoad, isolationsLoad]);

    // Quiet: every request ended and shown, every answered finding on a final card, nothing queued.
    const keys = [...load.answered.keys()].map((i) => ({ i, key: findingKeyOf(i) }));
    const findingState = async () => {
      const p = redis!.pipeline();
      for (const k of keys) p.hmget(`${prefix}:f:${k.key}`, 'c', 'n');
      const rows = (await p.exec())!.map(([, v]) => v as [string | null, string | null]);
      const q = redis!.pipeline();
      for (const [card] of rows) q.hmget(`${prefix}:card:${card ?? 'none'}`, 'ts', 'v', 'rv');
      const cards = (await q.exec())!.map(([, v]) => v as [string | null, string | null, string | null]);
      return keys.map((k, n) => ({ ...k, card: rows[n][0], count: Number(rows[n][1]), ts: cards[n][0], final: !!cards[n][0] && Number(cards[n][2]) >= Number(cards[n][1]) }));
    };
    const quiet = async () => {
      const ids = [...load.requestIds.values()];
      const reqs = await Promise.all(ids.map((id) => store.get(id)));
      if (!reqs.every((r) => r && isTerminal(r.state) && r.statusTs && r.renderedVersion >= r.version)) return false;
      const waiting = (await redis!.zcard(`${prefix}:cards:unsettled`)) + (await redis!.llen(`${prefix}:bull:findings:wait`)) + (await redis!.llen(`${prefix}:bull:findings:active`));
      return waiting === 0 && (await findingState()).every((f) => f.final);
    };
    const isQuiet = await waitUntil(quiet, o.quietTimeoutMs).then(() => true, () => false);
    const quietAt = performance.now();
    if (!isQuiet) problems.push(`not quiet ${Math.round(o.quietTimeoutMs / 1000)} s after the kills stopped`);
    // Anything still scheduled (a late retry, a sweep) gets its chance to double something.
    await sleep(3000);
    log(`quiet ${((quietAt - fleet.lastKillAt) / 1000).toFixed(1)} s after the last kill`);

    // Findings: each answered one on its card, the card posted once and final at the last version.
    const fs = await findingState();
    const postsByKey = new Map<string, SlackMessage[]>();
    for (const m of slack.messages.values()) {
      const key = m.metadata?.event_payload?.key;
      if (typeof key === 'string') postsByKey.set(key, [...(postsByKey.get(key) ?? []), m]);
    }
    const onCard = fs.filter((f) => f.card && f.ts && postsByKey.get(`card:${f.card}`)?.some((m) => m.ts === f.ts));
    const lastVersion = fs.filter((f) => f.count === o.versions);
    const missing = fs.filter((f) => !onCard.includes(f));
    if (missing.length) problems.push(`${missing.length} answered findings not on a posted card (e.g. finding ${missing[0].i}: card ${missing[0].card}, ts ${missing[0].ts})`);
    if (lastVersion.length !== fs.length) problems.push(`${fs.length - lastVersion.length} findings not at their last version`);
    if (load.answered.size !== o.findings) problems.push(`${o.findings - load.answered.size} findings never answered 202 (${load.ingestOther.slice(0, 3).join('; ')})`);
    const cardIds = new Set(fs.map((f) => f.card).filter(Boolean));
    const cardPostsDoubled = [...postsByKey].filter(([k, list]) => k.startsWith('card:') && list.length > 1).length;
    if (cardPostsDoubled) problems.push(`${cardPostsDoubled} cards posted more than once`);

    // Requests: one per instance, ended, one status message, AWS agreeing, audit complete.
    const requestsByState: Record<string, number> = {};
    const statusMessagesPerRequest: Record<string, number> = {};
    let isolated = 0;
    let auditLost = 0;
    let auditDoubled = 0;
    let resumes = 0;
    const audit = new AuditLog(redis, prefix, createLogger('silent'));
    const quarantineIds = new Set([...aws.groups.values()].filter((g) => g.name === QUARANTINE).map((g) => g.id));
    if (quarantineIds.size > 1) problems.push(`${quarantineIds.size} quarantine groups in one VPC`);
    for (const instance of instances) {
      const id = load.requestIds.get(instance);
      const all = await store.about({ targets: [instance] });
      if (all.length !== 1) problems.push(`${instance}: ${all.length} requests (${all.map((r) => `${r.id} ${r.state}`).join(', ')})`);
      const r: ActionRequest | undefined = id ? await store.get(id) : undefined;
      if (!r) {
        problems.push(`${instance}: no request was made`);
        requestsByState.missing = (requestsByState.missing ?? 0) + 1;
        continue;
      }
      requestsByState[r.state] = (requestsByState[r.state] ?? 0) + 1;
      const posts = postsByKey.get(`req:${r.id}`)?.length ?? 0;
      statusMessagesPerRequest[posts] = (statusMessagesPerRequest[posts] ?? 0) + 1;
      if (posts !== 1 || !postsByKey.get(`req:${r.id}`)?.some((m) => m.ts === r.statusTs)) problems.push(`${r.id}: ${posts} status messages`);
      const groups = [...aws.enis.values()].filter((e) => e.instanceId === instance).map((e) => e.groups);
      const inQuarantine = groups.length > 0 && groups.every((g) => g.length === 1 && quarantineIds.has(g[0]));
      if (inQuarantine) isolated += 1;
      if (r.state !== 'done' || !r.result?.ok) problems.push(`${r.id}: ended ${r.state}${r.failure ? `: ${r.failure.message}` : ''}`);
      if (r.state === 'done' && !inQuarantine) problems.push(`${r.id}: done, but AWS shows ${instance} in ${JSON.stringify(groups)}`);
      const events = (await audit.find([{ requestId: r.id }])).map((e) => e.event);
      resumes += events.filter((e) => e === 'resumed').length;
      const rounds = 1 + events.filter((e) => e === 'plan-changed').length;
      const count = (e: string) => events.filter((x) => x === e).length;
      const need = ['requested', 'approval-requested', 'approved', 'started', r.state === 'done' ? 'succeeded' : 'failed'];
      const lost = need.filter((e) => count(e) === 0);
      const once = ['requested', 'succeeded', 'failed'];
      const doubled = [...new Set(events)].filter((e) => e !== 'resumed' && e !== 'retrying' && count(e) > (once.includes(e) ? 1 : rounds));
      auditLost += lost.length;
      auditDoubled += doubled.length;
      if (lost.length || doubled.length) problems.push(`${r.id}: audit ${events.join(' → ')}`);
    }

    // One poller: never two workers polling at once (their calls would come within moments of
    // each other), and no more polls than ticks. A tick whose worker was killed runs again once
    // BullMQ sees the job stalled (a lock later), so a late poll and a repeated one are allowed.
    const polls = awsServer.calls.filter((c) => c.api === 'GetFindings').map((c) => c.at);
    const gaps = polls.slice(1).map((at, n) => (at - polls[n]) / 1000);
    const minGap = gaps.length ? Math.min(...gaps) : null;
    const ticks = Math.ceil((performance.now() - pollsFrom) / 1000 / POLL_SECONDS);
    const pollList = polls.map((p) => ((p - polls[0]) / 1000).toFixed(1)).join(', ');
    if (minGap !== null && minGap < CONCURRENT_POLLS_S) problems.push(`Security Hub polled twice within ${minGap.toFixed(1)} s (polls at ${pollList} s)`);
    if (polls.length > ticks + Math.ceil(ticks / 4)) problems.push(`${polls.length} Security Hub polls in ${ticks} ticks (polls at ${pollList} s)`);
    if (polls.length === 0) problems.push('Security Hub was never polled');
    problems.push(...fleet.crashes);
    if (fleet.kills.bot + fleet.kills.worker === 0) problems.push('no process was killed');

    return {
      options: o,
      problems,
      figures: {
        wallSeconds: Math.round((performance.now() - t0) / 1000),
        kills: fleet.kills,
        childrenStarted: fleet.started,
        findingsSent: bodies.length,
        findingRequests: load.findingRequests,
        answered202: [...load.answered.keys()].length,
        findingsOnCard: onCard.length,
        findingsAtLastVersion: lastVersion.length,
        cards: cardIds.size,
        cardPostsDoubled,
        ingest503: load.ingest503,
        ingestConnectionErrors: load.ingestConnectionErrors,
        ingestRetries: load.ingestRetries,
        slashAttempts: load.slashAttempts,
        approveClicks: load.approveClicks,
        requests: load.requestIds.size,
        requestsByState,
        statusMessagesPerRequest,
        isolatedInAws: isolated,
        auditLost,
        auditDoubled,
        resumes,
        polls: polls.length,
        minSecondsBetweenPolls: minGap === null ? null : Number(minGap.toFixed(1)),
        pollTicks: ticks,
        secondsToQuietAfterLastKill: Number(((quietAt - fleet.lastKillAt) / 1000).toFixed(1)),
        slack429s: slack.rateLimited().length,
      },
    };
  } finally {
    await fleet?.stop();
    redis?.disconnect();
    await awsServer?.stop();
    await slack?.stop();
    await redisServer?.stop();
    aws.restore();
    if (!process.env.CLUSTER_KEEP_LOGS) rmSync(dir, { recursive: true, force: true });
  }
}

async function waitUntil<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what = 'a condition'): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

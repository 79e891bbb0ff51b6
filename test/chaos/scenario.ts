import { verbatimBlocks } from '../../src/views/mrkdwn';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Queue } from 'bullmq';
import { AuditLog } from '../../src/audit/log';
import { QUEUE, bullPrefix } from '../../src/queues';
import { createLogger } from '../../src/log';
import { isTerminal, type ActionRequest } from '../../src/requests/model';
import { RequestStore } from '../../src/requests/store';
import { renderRequestStatus } from '../../src/views/request-status';
import { FakeAws } from '../support/fake-aws';
import { BASE_FILE_CONFIG, startHarness, testEnv, writeConfigFile, type Harness } from '../support/harness';
import type { RedisServer } from '../support/redis-server';
import { click, slash, textOf } from '../support/slack-user';
import { terminate } from '../support/worker-process';
import { normalizedAws, saveAws } from './aws-state';

export const CHAOS_ACTIONS = ['isolate', 'release', 'snapshot', 'stop', 'disable-key', 'deny-principal', 'revoke-sessions'] as const;
export type ChaosAction = (typeof CHAOS_ACTIONS)[number];

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const KEY = 'AKIAEXAMPLEKEY123456';
const USER_ARN = 'arn:aws:iam::123456789012:user/ci-deploy';
const ROOT = resolve(__dirname, '../..');

function webServer(aws: FakeAws): void {
  aws.addWebServer(INSTANCE, { asg: 'web-asg' });
  aws.roles.set('web-role', { policies: new Map() });
  aws.users.set('ci-deploy', { keys: [{ id: KEY, status: 'Active' }, { id: 'AKIAOTHERKEY12345678', status: 'Active' }], policies: new Map([['deploy', '{"Statement":[]}']]) });
}

/** What each action is asked as, and what has to exist before (release undoes an isolation). */
const SETUPS: Record<ChaosAction, { command: string; pre?: string }> = {
  isolate: { command: `isolate ${INSTANCE}` },
  release: { pre: `isolate ${INSTANCE}`, command: `release ${INSTANCE}` },
  snapshot: { command: `snapshot ${INSTANCE}` },
  stop: { command: `stop ${INSTANCE}` },
  'disable-key': { command: `disable-key ${KEY}` },
  'deny-principal': { command: `deny ${USER_ARN}` },
  'revoke-sessions': { command: `revoke-sessions ${INSTANCE}` },
};
const NEEDS_APPROVAL: string[] = ['isolate', 'stop', 'disable-key', 'deny-principal'];

export type Kill = { progress: number | 'end' } | { afterMs: number };
export type Fault =
  | { kind: 'redis-restart'; atStep: number; downMs: number }
  | { kind: 'slack-outage'; status: 429 | 500; ms: number }
  | { kind: 'aws-throttle'; bursts: number }
  | { kind: 'aws-expired-token'; atMutation: number };

export interface Scenario {
  action: ChaosAction;
  /** One entry per worker generation: generation n dies at kills[n]; later ones run to the end. */
  kills?: Kill[];
  fault?: Fault;
  /** A private Redis (with AOF) for the Redis fault. */
  redis?: RedisServer;
}

/** What a run without faults ends with, to compare every faulted run against. */
export interface Baseline {
  aws: unknown;
  audit: string[];
  posts: number;
  boundaries: number;
  executeMs: number;
}

export interface Outcome {
  name: string;
  action: ChaosAction;
  killsDelivered: number;
  workersStarted: number;
  state: string;
  wrongEndState: boolean;
  stuck: boolean;
  auditLost: number;
  auditDoubled: number;
  slackDoubled: number;
  threadWrong: boolean;
  problems: string[];
  /** The baseline facts, when this was a run without faults. */
  baseline?: Baseline;
  ms: number;
}

export function describeKill(k: Kill): string {
  return 'afterMs' in k ? `kill ${k.afterMs} ms into execute` : k.progress === 'end' ? 'kill after execute, before done' : `kill at boundary ${k.progress}`;
}

export function scenarioName(s: Scenario): string {
  const parts = (s.kills ?? []).map(describeKill);
  if (s.fault) parts.push(JSON.stringify(s.fault));
  return `${s.action}: ${parts.join(', ') || 'no fault (baseline)'}`;
}

/** Worker processes, one at a time: when one dies (SIGKILL), the next starts with the next kill point. */
class Workers {
  started = 0;
  kills = 0;
  boundaries = 0;
  /** AWS errors the workers injected. */
  faults = 0;
  private child?: ChildProcess;
  private stopping = false;
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private kills_: Kill[],
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  start(): void {
    const kill = this.kills_[this.started];
    const env: NodeJS.ProcessEnv = { ...this.env, ...(this.started === 0 ? this.extraEnv : {}) };
    if (kill) {
      if ('afterMs' in kill) env.CHAOS_KILL_AFTER_MS = String(kill.afterMs);
      else env.CHAOS_KILL_PROGRESS = String(kill.progress);
    }
    this.started += 1;
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'worker-child.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        const m = /^EXECUTED (\d+)/.exec(line);
        if (m) this.boundaries = Number(m[1]);
        if (line.startsWith('FAULT ')) this.faults += 1;
      }
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('exit', (code, signal) => {
      if (this.stopping || this.child !== child) return;
      if (signal === 'SIGKILL') this.kills += 1;
      else process.stderr.write(`chaos worker exited (${code ?? signal}): ${err}\n`);
      this.start();
    });
  }

  /** No more kills from now on (the next worker runs clean). */
  noMoreKills(): void {
    this.kills_ = [];
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await terminate(this.child, 10_000);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // Redis may be down on purpose: a failed read is "not yet".
    const v = await check().catch(() => undefined);
    if (v) return v;
    await sleep(50);
  }
  return undefined;
}

interface Ctx {
  h: Harness;
  store: RequestStore;
}

/** Types the command, clicks Approve when a card asks, and returns the new request's id. */
async function ask(c: Ctx, command: string, approve: boolean, known: Set<string>): Promise<string | undefined> {
  await slash(c.h, command);
  const r = await poll(async () => (await c.store.recent(10)).find((x) => !known.has(x.id)), 20_000);
  if (!r) return undefined;
  known.add(r.id);
  if (approve) {
    const card = await poll(async () => {
      const x = await c.store.get(r.id);
      const msg = x?.statusTs ? c.h.slack.messages.get(`${x.channel}/${x.statusTs}`) : undefined;
      return msg && textOf(msg).includes('ir_approve') ? msg : undefined;
    }, 60_000);
    if (card) await click(c.h, card, 'ir_approve', 'U02LEAD');
  }
  return r.id;
}

/** Ended, and its one status message shows the ending. */
async function settled(c: Ctx, id: string, timeoutMs: number): Promise<ActionRequest | undefined> {
  return poll(async () => {
    const r = await c.store.get(id);
    return r && isTerminal(r.state) && r.statusTs && r.renderedVersion >= r.version ? r : undefined;
  }, timeoutMs);
}

export async function runScenario(s: Scenario, baseline: Baseline | undefined, opts: { settleMs?: number; log?: (line: string) => void } = {}): Promise<Outcome> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'irbot-chaos-'));
  const stateFile = join(dir, 'aws.json');
  const seed = new FakeAws();
  seed.account = '123456789012';
  webServer(seed);
  saveAws(seed, stateFile);
  seed.restore();

  const fault = s.fault;
  const file = {
    ...BASE_FILE_CONFIG,
    access: { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: NEEDS_APPROVAL, undoNeedsApproval: false },
    aws: { maxAttempts: 1, jobAttempts: 8, jobBackoffMs: 100, ...(fault?.kind === 'aws-expired-token' ? { responderRoleArn: 'arn:aws:iam::123456789012:role/ir-responder' } : {}) },
    requests: { reconcileSeconds: 1, maxResumes: 3 },
    snapshot: { pollIntervalMs: 50, maxPollIntervalMs: 100 },
    stop: { pollIntervalMs: 20 },
    iam: { verifyAttempts: 5, verifyIntervalMs: 20 },
  };
  const configPath = writeConfigFile(file);
  const redisEnv = s.redis ? { REDIS_URL: s.redis.url } : {};
  const h = await startHarness({ worker: false, env: { IR_CONFIG: configPath, ...redisEnv } });
  const c: Ctx = { h, store: new RequestStore(h.redis, h.config.redisPrefix, 3600) };
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...testEnv({ SLACK_API_URL: h.slack.url, IR_CONFIG: configPath, REDIS_PREFIX: h.config.redisPrefix, REDIS_URL: h.config.redis.kind === 'url' ? h.config.redis.url : undefined, LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'silent' }),
    CHAOS_STATE: stateFile,
  };
  const extra: Record<string, string> = {};
  if (fault?.kind === 'aws-throttle') extra.CHAOS_THROTTLE = String(fault.bursts);
  if (fault?.kind === 'aws-expired-token') extra.CHAOS_EXPIRE_AT = String(fault.atMutation);

  const problems: string[] = [];
  const known = new Set<string>();
  const setup = SETUPS[s.action];
  const requestIds: string[] = [];
  let workers: Workers | undefined;
  const out: Outcome = {
    name: scenarioName(s),
    action: s.action,
    killsDelivered: 0,
    workersStarted: 0,
    state: 'none',
    wrongEndState: false,
    stuck: false,
    auditLost: 0,
    auditDoubled: 0,
    slackDoubled: 0,
    threadWrong: false,
    problems,
    ms: 0,
  };
  try {
    if (setup.pre) {
      // The state to undo, made without faults.
      const pre = new Workers(childEnv, []);
      pre.start();
      const preId = await ask(c, setup.pre, NEEDS_APPROVAL.includes(setup.pre.split(' ')[0]), known);
      const preR = preId ? await settled(c, preId, 60_000) : undefined;
      await pre.stop();
      if (!preR || preR.state !== 'done') throw new Error(`the set-up (${setup.pre}) did not end done: ${preR?.state ?? 'stuck'}`);
      requestIds.push(preId!);
    }
    const postsBefore = h.slack.callsOf('chat.postMessage').length;
    workers = new Workers(childEnv, s.kills ?? [], extra);
    workers.start();
    const id = await ask(c, setup.command, NEEDS_APPROVAL.includes(s.action), known);
    if (!id) throw new Error('the command made no request');
    requestIds.push(id);
    if (fault?.kind === 'slack-outage') {
      // Slack goes away while the result is being posted.
      await poll(async () => ((await c.store.get(id))?.state === 'running' ? true : undefined), 30_000);
      h.slack.outageFor(fault.ms, fault.status);
    }
    if (fault?.kind === 'redis-restart') {
      const mid = await poll(async () => ((await c.store.get(id))?.progress?.step ?? 0) >= fault.atStep || undefined, 30_000);
      const before = await c.store.get(id);
      if (!mid || !before || isTerminal(before.state)) problems.push(`Redis was not killed mid-job (state ${before?.state})`);
      await s.redis!.kill();
      await sleep(fault.downMs);
      await s.redis!.start();
    }
    const settleMs = (opts.settleMs ?? 60_000) + (fault?.kind === 'slack-outage' ? fault.ms : 0);
    const r = await settled(c, id, settleMs);
    const last = await c.store.get(id).catch(() => undefined);
    out.state = last?.state ?? 'missing';
    out.killsDelivered = workers.kills;
    out.workersStarted = workers.started;
    if (!r) {
      out.stuck = true;
      problems.push(`not ended within ${Math.round(settleMs / 1000)} s (state ${out.state}, progress ${JSON.stringify(last?.progress)}, rendered ${last?.renderedVersion}/${last?.version}; status jobs ${await statusJobs(h, id)})`);
      return out;
    }
    // Let anything still queued (a re-delivered render, a late retry) run before counting.
    await sleep(1500);
    await workers.stop();

    // AWS end state: what the run without faults ended with, and the action's own verify passed.
    const awsNow = normalizedAws(stateFile, requestIds);
    if (r.state !== 'done' || !r.result?.ok) {
      out.wrongEndState = true;
      problems.push(`ended ${r.state}${r.failure ? `: ${r.failure.message}` : ''}${r.result && !r.result.ok ? ': result not verified' : ''}`);
    }
    if (baseline && !isDeepStrictEqual(awsNow, baseline.aws)) {
      out.wrongEndState = true;
      problems.push(`AWS differs from the run without faults: ${firstDifference(baseline.aws, awsNow)}`);
    }

    // Audit: every transition once (resumed/retrying may repeat).
    const events = (await new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).find([{ requestId: id }])).map((e) => e.event);
    const core = events.filter((e) => e !== 'resumed' && e !== 'retrying');
    const expected = baseline?.audit ?? core;
    for (const e of new Set([...expected, ...core])) {
      const want = expected.filter((x) => x === e).length;
      const got = core.filter((x) => x === e).length;
      if (got < want) out.auditLost += want - got;
      if (got > want) out.auditDoubled += got - want;
    }
    if (out.auditLost || out.auditDoubled) problems.push(`audit ${core.join(' → ')} (expected ${expected.join(' → ')})`);

    // The fault was really met: AWS answered with the errors; Slack refused calls.
    if ((fault?.kind === 'aws-throttle' || fault?.kind === 'aws-expired-token') && workers.faults === 0) problems.push('no AWS call met the fault');
    if (fault?.kind === 'slack-outage' && !h.slack.calls.some((x) => x.status === fault.status)) problems.push('no Slack call met the outage');

    // Slack: one status message, showing the request as it is.
    const posts = h.slack.callsOf('chat.postMessage').slice(postsBefore);
    const expectedPosts = baseline?.posts ?? posts.length;
    if (posts.length > expectedPosts) {
      out.slackDoubled = posts.length - expectedPosts;
      problems.push(`${posts.length} messages posted, expected ${expectedPosts}`);
    }
    const msg = h.slack.messages.get(`${r.channel}/${r.statusTs}`);
    const final = (await c.store.get(id))!;
    if (!msg || !isDeepStrictEqual(msg.blocks, JSON.parse(JSON.stringify(verbatimBlocks(renderRequestStatus(final).blocks))))) {
      out.threadWrong = true;
      problems.push('the status message does not show the request as stored');
    }
    if (!baseline) out.baseline = { aws: awsNow, audit: core, posts: posts.length, boundaries: workers.boundaries, executeMs: (r.finishedAt ?? 0) - (r.startedAt ?? 0) };
    return out;
  } catch (err) {
    out.stuck = true;
    problems.push(`scenario error: ${(err as Error).message}`);
    return out;
  } finally {
    await workers?.stop();
    await h.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    out.ms = Date.now() - started;
    opts.log?.(`${out.name}: ${out.state} in ${(out.ms / 1000).toFixed(1)} s, ${out.killsDelivered} kill(s)${problems.length ? ` — ${problems.join('; ')}` : ''}`);
  }
}

/** Where the request's status renders are in BullMQ (for a stuck report). */
async function statusJobs(h: Harness, id: string): Promise<string> {
  const q = new Queue(QUEUE.status, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
  try {
    const jobs = await q.getJobs(['active', 'waiting', 'delayed', 'failed', 'completed', 'prioritized']);
    const mine = jobs.filter((j) => j?.data?.requestId === id);
    const states = await Promise.all(mine.map(async (j) => `${j.id}:${await j.getState()}:${j.attemptsMade}:${j.failedReason ?? ''}`));
    const dedup = await q.getDeduplicationJobId(`st-${id}`);
    return `[${states.join(', ')}] dedup→${dedup}`;
  } catch (err) {
    return `unreadable (${(err as Error).message})`;
  } finally {
    await q.close();
  }
}

function firstDifference(a: unknown, b: unknown, path = ''): string {
  if (isDeepStrictEqual(a, b)) return '';
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference((a as any)[k], (b as any)[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return `${path}: ${JSON.stringify(a)?.slice(0, 200)} ≠ ${JSON.stringify(b)?.slice(0, 200)}`;
}

/** Figures over many runs, for benchmarks/RESULTS.md. */
export function summarize(outcomes: Outcome[]): Record<string, number> {
  const count = (f: (o: Outcome) => boolean | number) => outcomes.reduce((n, o) => n + Number(f(o)), 0);
  return {
    runs: outcomes.length,
    'kills delivered': count((o) => o.killsDelivered),
    'wrong end states': count((o) => o.wrongEndState),
    'stuck requests': count((o) => o.stuck),
    'audit records lost': count((o) => o.auditLost),
    'audit records doubled': count((o) => o.auditDoubled),
    'Slack messages doubled': count((o) => o.slackDoubled),
    'status message not showing the truth': count((o) => o.threadWrong),
  };
}

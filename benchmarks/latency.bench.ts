/**
 * Latency benchmark (issue 24): a fixed latency injected into every AWS call (default 50 ms, a
 * realistic in-region round trip), bot and worker in one process against Redis, the local Slack
 * API server and the in-memory AWS account (test/support/fake-aws.ts).
 *   one:      one isolation alone, approve → verified
 *   separate: ten separate `/ir isolate` requests in one VPC, approved at the same moment → all verified
 *   bulk:     ten instances in one `/ir isolate`, one approval → all verified
 *   budget:   100 instances against the EC2 mutation budget (EC2's own throttle emulated)
 *   storm:    300 findings with stories while CloudTrail answers LookupEvents at 2/s
 * Every scenario isolates in a VPC whose quarantine groups do not exist yet (the slowest case).
 *
 * `npm run bench:latency` prints the figures; `-- --write` records them in RESULTS.md.
 * test/bench-smoke.test.ts runs a small form in `npm test`, so a bench that hangs fails CI.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import type { ActionRequest } from '../src/requests/model';
import { QUEUE, bullPrefix } from '../src/queues';
import { encodeDecision } from '../src/views/action-ids';
import { FakeAws, awsError } from '../test/support/fake-aws';
import { SIGNING_SECRET, fixture, startHarness, type Harness } from '../test/support/harness';
import { runInstancesEvent } from '../test/support/scenes';
import { blockActionBody, slackSignature } from '../test/support/slack-signing';
import { command, progress, requestFor, until } from './pipeline';
import { machine, writeSection } from './results';

export interface LatencyOptions {
  latencyMs: number;
  /** Instances in the "separate" and "bulk" scenarios. */
  ten: number;
  many: number;
  mutationsPerSecond: number;
  storm: number;
  /** The fake CloudTrail's own LookupEvents limit (AWS: 2/s per account and region). */
  lookupsPerSecond: number;
  /** Which scenarios: any of one, separate, bulk, budget, storm. */
  parts: string[];
  /** Each wait's bound (ms). */
  timeoutMs: number;
}

export const DEFAULTS: LatencyOptions = {
  latencyMs: Number(process.env.BENCH_LATENCY_MS ?? 50),
  ten: 10,
  many: Number(process.env.BENCH_BULK_INSTANCES ?? 100),
  mutationsPerSecond: Number(process.env.BENCH_MUTATIONS_PER_SECOND ?? 5),
  storm: Number(process.env.BENCH_STORM_FINDINGS ?? 300),
  lookupsPerSecond: 2,
  parts: (process.env.BENCH_PARTS ?? 'one,separate,bulk,budget,storm').split(','),
  timeoutMs: Number(process.env.BENCH_TIMEOUT_SECONDS ?? 600) * 1000,
};

const ACCOUNT = '123456789012';
const OUR_BURST = 100;
const hex = (i: number, n: number) => i.toString(16).padStart(n, '0');
const instanceId = (base: number, i: number) => `i-${hex(base + i, 17)}`;

async function click(h: Harness, r: ActionRequest): Promise<void> {
  const body = blockActionBody(
    { type: 'button', action_id: 'ir_approve', value: encodeDecision({ q: r.id, v: r.rev }), text: { type: 'plain_text', text: 'Approve' } },
    { userId: 'U02LEAD', responseUrl: `${h.slack.baseUrl}/respond/bench` },
  );
  const res = await fetch(`${h.baseUrl}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SIGNING_SECRET, body) }, body });
  if (res.status !== 200) throw new Error(`Approve ${r.id}: the bot answered ${res.status}`);
}

function checkIsolated(r: ActionRequest, n: number): void {
  // A bench that isolates nothing proves nothing: every instance's interfaces verified in quarantine.
  const verified = r.result?.lines.filter((l) => /(^|: )verified: |only ✓$/.test(l)).length ?? 0;
  if (!r.result?.ok || (n > 1 && verified !== n)) throw new Error(`${r.id}: not verified: ${JSON.stringify(r.result)}`);
}

/**
 * Each group of ids is one `/ir isolate` (a bulk when it holds several); all are approved at the
 * same moment once every plan is up. Returns the time from those clicks to the last verified result.
 */
async function approveAtOnce(h: Harness, groups: string[][], timeoutMs: number): Promise<number> {
  await Promise.all(groups.map((ids) => command(h, `isolate ${ids.join(' ')} bench`)));
  const pending = await Promise.all(groups.map((ids) => requestFor(h, 'isolate', ids[0], (r) => r.state === 'awaiting-approval', timeoutMs)));
  const t0 = performance.now();
  await Promise.all(pending.map((r) => click(h, r)));
  const done = await Promise.all(groups.map((ids) => requestFor(h, 'isolate', ids[0], (r) => r.state === 'done', timeoutMs)));
  const ms = performance.now() - t0;
  done.forEach((r, i) => checkIsolated(r, groups[i].length));
  return ms;
}

/** One VPC per scenario, with instances the playbook's way: two interfaces, an Elastic IP, an Auto Scaling group. */
function inVpc(aws: FakeAws, vpc: number, base: number, n: number): string[] {
  const ids = Array.from({ length: n }, (_, i) => instanceId(base, i));
  for (const id of ids) aws.addWebServer(id, { vpcId: `vpc-0${hex(vpc, 7)}`, asg: 'web-asg', targetGroup: false });
  return ids;
}

/**
 * Each scenario gets its own bot and worker (a fresh Redis prefix): the mutation budget one
 * scenario spent must not slow the next, and nothing verified earlier is reused.
 */
async function scenario<T>(fn: (h: Harness) => Promise<T>): Promise<T> {
  const h = await startHarness({ file: { access: { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: ['isolate'] } } });
  try {
    return await fn(h);
  } finally {
    await h.stop();
  }
}

async function isolations(o: LatencyOptions) {
  const aws = new FakeAws();
  aws.account = ACCOUNT;
  const warm = inVpc(aws, 1, 0xa000, 1);
  const one = inVpc(aws, 2, 0xb000, 1);
  const separate = inVpc(aws, 3, 0xc000, o.ten);
  const bulk = inVpc(aws, 4, 0xd000, o.ten);
  aws.latencyMs = o.latencyMs;
  try {
    progress('warm-up isolation (clients, JIT)');
    await scenario((h) => approveAtOnce(h, [warm], o.timeoutMs));
    const out: { oneMs?: number; separateMs?: number; bulkMs?: number; callsPerIsolation?: number } = {};
    if (o.parts.includes('one')) {
      progress('one isolation alone');
      const c0 = aws.calls.length;
      out.oneMs = await scenario((h) => approveAtOnce(h, [one], o.timeoutMs));
      out.callsPerIsolation = aws.calls.length - c0;
    }
    if (o.parts.includes('separate')) {
      progress(`${o.ten} separate requests approved at once`);
      out.separateMs = await scenario((h) => approveAtOnce(h, separate.map((id) => [id]), o.timeoutMs));
    }
    if (o.parts.includes('bulk')) {
      progress(`${o.ten} instances in one request`);
      out.bulkMs = await scenario((h) => approveAtOnce(h, [bulk], o.timeoutMs));
    }
    return out;
  } finally {
    aws.restore();
  }
}

async function mutationBudget(o: LatencyOptions) {
  const aws = new FakeAws();
  aws.account = ACCOUNT;
  const ids = Array.from({ length: o.many }, (_, i) => instanceId(0xe000, i));
  for (const id of ids) aws.addWebServer(id, { vpcId: 'vpc-0e000000', eip: false, targetGroup: false, secondEni: false });
  // EC2's bucket for mutating calls: 200 deep, refilled at the rate ir-bot paces itself to.
  aws.mutationBudget = { perSecond: o.mutationsPerSecond, burst: 200 };
  aws.latencyMs = o.latencyMs;
  const h = await startHarness({ file: { access: { responders: ['U01ANA'], approvers: [], requireApproval: [] }, aws: { mutationsPerSecond: o.mutationsPerSecond, mutationBurst: OUR_BURST } } });
  try {
    progress(`${o.many} instances against ${o.mutationsPerSecond} mutations/s`);
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += 50) chunks.push(ids.slice(i, i + 50));
    const t0 = performance.now();
    await Promise.all(chunks.map((c) => command(h, `isolate ${c.join(' ')} bench`)));
    const done = await Promise.all(chunks.map((c) => requestFor(h, 'isolate', c[0], (r) => r.state === 'done', o.timeoutMs)));
    const wallMs = performance.now() - t0;
    done.forEach((r, i) => checkIsolated(r, chunks[i].length));
    const mutating = aws.calls.filter((c) => /^(Modify|Create|Associate|Disassociate|Authorize|Revoke|Detach|Attach|Deregister|Register|Stop)/.test(c.api)).length;
    return { wallMs, mutating, throttled: aws.throttled, floorMs: (Math.max(0, mutating - OUR_BURST) / o.mutationsPerSecond) * 1000 };
  } finally {
    await h.stop();
    aws.restore();
  }
}

function probeEvent(i: number): any {
  const e = fixture('guardduty-port-probe');
  e.detail.id = `${hex(i, 8)}${'f'.repeat(24)}`;
  e.detail.severity = 5;
  e.detail.type = `Recon:EC2/PortProbe${i % 4}`;
  e.detail.resource.instanceDetails.instanceId = instanceId(0xf000, i);
  return e;
}

/** Jobs that ended failed, on every queue. */
async function failedJobs(h: Harness): Promise<number> {
  let n = 0;
  for (const name of Object.values(QUEUE)) {
    const q = new Queue(name, { connection: h.redis, prefix: bullPrefix(h.config.redisPrefix) });
    n += (await q.getJobCounts('failed')).failed;
    await q.close();
  }
  return n;
}

async function storm(o: LatencyOptions) {
  const aws = new FakeAws();
  aws.account = ACCOUNT;
  const events = Array.from({ length: o.storm }, (_, i) => probeEvent(i));
  const instances = events.map((e) => e.detail.resource.instanceDetails.instanceId as string);
  for (const id of instances) aws.addWebServer(id, { vpcId: 'vpc-0f000000', eip: false, targetGroup: false });
  // One attacker key launched them all, in batches: each story looks up its instance, and the key once (cached).
  const launched = new Date(Date.now() - 86400_000).toISOString();
  for (let i = 0; i < instances.length; i += 50) aws.trail.push(runInstancesEvent(instances.slice(i, i + 50), launched, { accessKeyId: 'AKIASTORMKEY00000001', arn: `arn:aws:iam::${ACCOUNT}:user/leaked` }));
  aws.latencyMs = o.latencyMs;
  // CloudTrail's own limit on LookupEvents for the account and region: a call that would make more
  // than `lookupsPerSecond` in the last second fails with ThrottlingException.
  const answered: number[] = [];
  let lookupsThrottled = 0;
  aws.beforeCall = (api) => {
    if (api !== 'LookupEvents') return;
    const now = Date.now();
    if (answered.filter((t) => now - t < 1000).length >= o.lookupsPerSecond) {
      lookupsThrottled++;
      throw awsError('ThrottlingException', 'Rate exceeded', 400);
    }
    answered.push(now);
  };
  // Shipped defaults for Slack pacing, storms and stories; the Slack server enforces 1 post/s per channel.
  const h = await startHarness({ slackOptions: { postIntervalMs: 1000, updatesPerMinute: 50 }, file: { story: { enabled: true }, slack: {} } });
  try {
    progress(`storm: sending ${o.storm} findings`);
    for (let i = 0; i < events.length; i += 50) {
      const res = await h.postEvents(events.slice(i, i + 50));
      if (res.status !== 202) throw new Error(`intake answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
    const lastAccepted = performance.now();
    const ids = events.map((e) => e.detail.id as string);
    const stories = () =>
      [...h.slack.messages.values()].filter((m) => m.channel === 'C01ALERTS' && m.thread_ts && /Instance stories|The story of/.test(JSON.stringify(m.blocks))).map((m) => JSON.stringify(m.blocks));
    const seen = { findings: 0, stories: 0 };
    let findingsAt: number | undefined;
    let storiesAt: number | undefined;
    let launchersAt: number | undefined;
    let lastNote = 0;
    await until(
      h,
      () => {
        const messages = [...h.slack.messages.values()].filter((m) => m.channel === 'C01ALERTS');
        const text = [...messages.map((m) => JSON.stringify(m.blocks)), ...[...h.slack.files.values()].filter((f) => f.channel === 'C01ALERTS').map((f) => f.content)].join('\n');
        const told = stories();
        const all = told.join('\n');
        seen.findings = ids.filter((id) => text.includes(id)).length;
        seen.stories = instances.filter((id) => all.includes(id)).length;
        const now = performance.now();
        if (seen.findings === ids.length) findingsAt ??= now;
        if (seen.stories === instances.length) storiesAt ??= now;
        if (storiesAt !== undefined && !told.some((t) => t.includes('looking up'))) launchersAt ??= now;
        if (now - lastNote > 10_000) {
          lastNote = now;
          progress(`storm: ${seen.findings}/${ids.length} findings readable, ${seen.stories}/${instances.length} stories, ${answered.length} lookups`);
        }
        return findingsAt !== undefined && launchersAt !== undefined;
      },
      `storm (${seen.findings} findings readable, ${seen.stories} stories)`,
      o.timeoutMs,
    );
    return {
      findingsMs: findingsAt! - lastAccepted,
      storiesMs: storiesAt! - lastAccepted,
      launchersMs: launchersAt! - lastAccepted,
      lookups: answered.length,
      lookupsThrottled,
      failedJobs: await failedJobs(h),
      rateLimited: h.slack.rateLimited().length,
      slackUpdates: h.slack.callsOf('chat.update').length,
    };
  } finally {
    await h.stop();
    aws.restore();
  }
}

export async function runLatencyBench(o: LatencyOptions) {
  const iso = o.parts.some((p) => ['one', 'separate', 'bulk'].includes(p)) ? await isolations(o) : undefined;
  const budget = o.parts.includes('budget') ? await mutationBudget(o) : undefined;
  const s = o.parts.includes('storm') ? await storm(o) : undefined;
  return { iso, budget, storm: s };
}

type Figures = Awaited<ReturnType<typeof runLatencyBench>>;

function report(o: LatencyOptions, f: Figures, load: { before: number; after: number }): string {
  const sec = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);
  const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
  const rows: string[] = [];
  const one = f.iso?.oneMs;
  if (one !== undefined && f.iso?.separateMs !== undefined) {
    const r = f.iso.separateMs / one;
    rows.push(`| ${o.ten} separate requests in one VPC, approved at once → all verified | ${sec(f.iso.separateMs)} (${r.toFixed(2)}× one) | ≤ 1.5× one | ${verdict(r <= 1.5)} |`);
  }
  if (one !== undefined && f.iso?.bulkMs !== undefined) {
    const r = f.iso.bulkMs / one;
    rows.push(`| ${o.ten} instances in one bulk request → all verified | ${sec(f.iso.bulkMs)} (${r.toFixed(2)}× one) | ≤ 1.2× one | ${verdict(r <= 1.2)} |`);
  }
  if (f.budget) {
    const r = f.budget.wallMs / f.budget.floorMs;
    rows.push(`| ${o.many} instances: wall time / floor ((${f.budget.mutating} mutating calls − burst ${OUR_BURST}) ÷ ${o.mutationsPerSecond}/s = ${sec(f.budget.floorMs)}) | ${sec(f.budget.wallMs)} (${r.toFixed(2)}×) | ≤ 1.2× | ${verdict(r <= 1.2)} |`);
    rows.push(`| ${o.many} instances: throttling errors from EC2 | ${f.budget.throttled} | 0 | ${verdict(f.budget.throttled === 0)} |`);
  }
  if (f.storm) {
    const t = f.storm;
    rows.push(`| storm of ${o.storm}: last finding accepted → every finding readable | ${sec(t.findingsMs)} | ≤ 60 s | ${verdict(t.findingsMs <= 60_000)} |`);
    rows.push(`| storm: → every instance's story (sections without CloudTrail) | ${sec(t.storiesMs)} | ≤ 90 s | ${verdict(t.storiesMs <= 90_000)} |`);
    rows.push(`| storm: → every launcher line filled in | ${sec(t.launchersMs)} | as the budget allows | — |`);
    rows.push(`| storm: LookupEvents calls answered / throttled by CloudTrail | ${t.lookups} / ${t.lookupsThrottled} | — / 0 | ${verdict(t.lookupsThrottled === 0)} |`);
    rows.push(`| storm: jobs failed (any queue) | ${t.failedJobs} | 0 | ${verdict(t.failedJobs === 0)} |`);
    rows.push(`| storm: Slack chat.update calls / 429s met | ${t.slackUpdates} / ${t.rateLimited} | — | — |`);
  }
  return [
    `## Latency: ${o.latencyMs} ms per AWS call (issue 24) — ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${machine()}. Load average (1 min) ${load.before.toFixed(1)} at the start, ${load.after.toFixed(1)} at the end: ${load.before > 2 || load.after > 2 ? 'the machine was shared with other work while measuring (its 2 cores were oversubscribed), so the times include waiting for CPU' : 'the machine was otherwise idle'}.`,
    '',
    `Bot and worker in one process (test harness) against Redis, the local Slack API server and the in-memory AWS account (test/support/fake-aws.ts), which waits ${o.latencyMs} ms on every AWS call. Instances have two interfaces, an Elastic IP and an Auto Scaling group; each isolation scenario runs in its own VPC whose quarantine groups do not exist yet. Times run from the Approve click(s) to the last verified result. One isolation alone: ${sec(one)}${f.iso?.callsPerIsolation ? `, ${f.iso.callsPerIsolation} AWS calls` : ''}.`,
    '',
    '| figure | result | target | |',
    '|---|---|---|---|',
    ...rows,
    '',
    `Storm: ${o.storm} port-probe findings on ${o.storm} instances (four finding types), sent as fast as intake takes them, with stories on and the shipped defaults; the Slack server enforces 1 post/s per channel and 50 updates/min with 429s; CloudTrail answers at most ${o.lookupsPerSecond} LookupEvents in any second and throttles the rest (ThrottlingException); one access key launched every instance (so its lookup is cached after the first).`,
    '',
    'Run with `npm run bench:latency` (`-- --write` to record; `BENCH_LATENCY_MS`, `BENCH_PARTS=one,separate,bulk,budget,storm`, `BENCH_BULK_INSTANCES`, `BENCH_STORM_FINDINGS`, `BENCH_TIMEOUT_SECONDS`).',
    '',
  ].join('\n');
}

async function main() {
  const { startRedisServer } = await import('../test/support/redis-server');
  const redis = await startRedisServer({ aof: false });
  process.env.TEST_REDIS_URL = redis.url;
  try {
    const before = loadavg()[0];
    const figures = await runLatencyBench(DEFAULTS);
    console.log(JSON.stringify(figures, null, 2));
    writeSection('## Latency: ', report(DEFAULTS, figures, { before, after: loadavg()[0] }));
  } finally {
    await redis.stop();
  }
  process.exit(0);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

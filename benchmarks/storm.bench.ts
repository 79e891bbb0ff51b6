/**
 * Storm benchmark (issue 13).
 * A: the playbook's ten instances isolated through one bulk request and one approval, 100 ms on
 *    every AWS call: approve click → last verified result, against one instance alone.
 * B: 100 instances in one account and region, where the mutation budget is the floor: wall time
 *    against mutating calls ÷ refill rate, with EC2's own throttle emulated (errors must stay 0).
 * C: a 300-finding storm against a Slack server enforcing 1 post/s per channel with 429s: time
 *    from the last finding accepted to every finding id readable in the channel; Slack calls; 429s.
 */
import { performance } from 'node:perf_hooks';
import type { ActionRequest } from '../src/requests/model';
import { encodeDecision } from '../src/views/action-ids';
import { FakeAws } from '../test/support/fake-aws';
import { SIGNING_SECRET, fixture, startHarness, type Harness } from '../test/support/harness';
import { command, progress, requestFor } from './pipeline';
import { startRedisServer } from '../test/support/redis-server';
import { blockActionBody, slackSignature } from '../test/support/slack-signing';
import { machine, writeSection } from './results';

const LATENCY_MS = 100;
const BULK = 10;
const MANY = Number(process.env.BENCH_BULK_INSTANCES ?? 100);
const RATE = Number(process.env.BENCH_MUTATIONS_PER_SECOND ?? 5);
const OUR_BURST = 100;
const STORM = Number(process.env.BENCH_STORM_FINDINGS ?? 300);
const ACCOUNT = '123456789012';
/** `BENCH_PARTS=c` runs only the storm (figures printed, RESULTS.md left alone unless all three ran). */
const PARTS = process.env.BENCH_PARTS ?? 'abc';

const hex = (i: number, n: number) => i.toString(16).padStart(n, '0');
const instanceId = (base: number, i: number) => `i-${hex(base + i, 17)}`;

async function click(h: Harness, body: string): Promise<void> {
  const res = await fetch(`${h.baseUrl}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SIGNING_SECRET, body) }, body });
  if (res.status !== 200) throw new Error(`bot answered ${res.status}`);
}

function checkIsolated(r: ActionRequest, n: number): void {
  // A bench that isolates nothing proves nothing: every instance's interfaces verified in quarantine.
  const verified = r.result?.lines.filter((l) => /(^|: )verified: |only ✓$/.test(l)).length ?? 0;
  if (!r.result?.ok || (n > 1 && verified !== n)) throw new Error(`${r.id}: unexpected result ${JSON.stringify(r.result)}`);
}

/** `/ir isolate …` for the ids, the approval once the plan is up, and the time from that click to the verified result. */
async function isolateWithApproval(h: Harness, ids: string[]): Promise<{ approveToDoneMs: number; request: ActionRequest }> {
  const responseUrl = `${h.slack.baseUrl}/respond/bench`;
  await command(h, `isolate ${ids.join(' ')} bench`);
  const pending = await requestFor(h, 'isolate', ids[0], (r) => r.state === 'awaiting-approval');
  const t0 = performance.now();
  await click(h, blockActionBody({ type: 'button', action_id: 'ir_approve', value: encodeDecision({ q: pending.id, v: pending.rev }), text: { type: 'plain_text', text: 'Approve' } }, { userId: 'U02LEAD', responseUrl }));
  const done = await requestFor(h, 'isolate', ids[0], (r) => r.state === 'done');
  const approveToDoneMs = performance.now() - t0;
  checkIsolated(done, ids.length);
  return { approveToDoneMs, request: done };
}

async function bulkApproval() {
  const aws = new FakeAws();
  aws.account = ACCOUNT;
  const single = [instanceId(0xc000, 0), instanceId(0xc000, 1)];
  const ten = Array.from({ length: BULK }, (_, i) => instanceId(0xd000, i));
  for (const id of [...single, ...ten]) aws.addWebServer(id, { asg: 'web-asg' });
  aws.latencyMs = LATENCY_MS;
  const h = await startHarness({ file: { access: { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: ['isolate'] } } });
  try {
    // The first isolation warms clients and JIT; the second is the "one instance alone" figure.
    await isolateWithApproval(h, [single[0]]);
    const alone = await isolateWithApproval(h, [single[1]]);
    const calls0 = aws.calls.length;
    const bulk = await isolateWithApproval(h, ten);
    return { aloneMs: alone.approveToDoneMs, bulkMs: bulk.approveToDoneMs, callsPerInstance: (aws.calls.length - calls0) / BULK };
  } finally {
    await h.stop();
    aws.restore();
  }
}

async function mutationFloor() {
  const aws = new FakeAws();
  aws.account = ACCOUNT;
  const ids = Array.from({ length: MANY }, (_, i) => instanceId(0xe000, i));
  for (const id of ids) aws.addWebServer(id, { eip: false, targetGroup: false, secondEni: false });
  // EC2's bucket for mutating calls: 200 deep, refilled at the same rate ir-bot paces itself to.
  aws.mutationBudget = { perSecond: RATE, burst: 200 };
  const h = await startHarness({
    file: { access: { responders: ['U01ANA'], approvers: [], requireApproval: [] }, aws: { mutationsPerSecond: RATE, mutationBurst: OUR_BURST } },
  });
  try {
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += 50) chunks.push(ids.slice(i, i + 50));
    const t0 = performance.now();
    // One `/ir isolate` of 100 ids makes one request per 50 (the per-request limit), same account and region.
    await Promise.all(chunks.map((c) => command(h, `isolate ${c.join(' ')} bench`)));
    const done = await Promise.all(chunks.map((c) => requestFor(h, 'isolate', c[0], (r) => r.state === 'done')));
    const wallMs = performance.now() - t0;
    done.forEach((r, i) => checkIsolated(r, chunks[i].length));
    const mutating = aws.calls.filter((c) => /^(Modify|Create|Associate|Disassociate|Authorize|Revoke|Detach|Attach|Deregister|Register|Stop)/.test(c.api)).length;
    return { wallMs, mutating, throttled: aws.throttled, floorMs: ((mutating - OUR_BURST) / RATE) * 1000, plainFloorMs: (mutating / RATE) * 1000 };
  } finally {
    await h.stop();
    aws.restore();
  }
}

function probeEvent(i: number): any {
  const e = fixture('guardduty-port-probe');
  e.detail.id = `${hex(i, 8)}${'e'.repeat(24)}`;
  e.detail.severity = 5;
  e.detail.type = `Recon:EC2/PortProbe${i % 4}`;
  e.detail.resource.instanceDetails.instanceId = instanceId(0xf000, i);
  return e;
}

async function storm() {
  const aws = new FakeAws();
  aws.account = ACCOUNT;
  const events = Array.from({ length: STORM }, (_, i) => probeEvent(i));
  for (const e of events) aws.addWebServer(e.detail.resource.instanceDetails.instanceId, { eip: false, targetGroup: false });
  // Shipped defaults for Slack pacing, storms and stories; the Slack server enforces 1 post/s per channel.
  const h = await startHarness({ slackOptions: { postIntervalMs: 1000, updatesPerMinute: 50 }, file: { story: { enabled: true }, slack: {} } });
  try {
    const t0 = performance.now();
    for (let i = 0; i < events.length; i += 50) {
      const res = await h.postEvents(events.slice(i, i + 50));
      if (res.status !== 202) throw new Error(`intake answered ${res.status}`);
    }
    const lastAccepted = performance.now();
    const ids = events.map((e) => e.detail.id as string);
    const instances = events.map((e) => e.detail.resource.instanceDetails.instanceId as string);
    const readable = () => {
      const messages = [...h.slack.messages.values()].filter((m) => m.channel === 'C01ALERTS');
      const text = [...messages.map((m) => JSON.stringify(m.blocks)), ...[...h.slack.files.values()].filter((f) => f.channel === 'C01ALERTS').map((f) => f.content)].join('\n');
      const stories = messages.filter((m) => m.thread_ts && /Instance stories|The story of/.test(JSON.stringify(m.blocks))).map((m) => JSON.stringify(m.blocks)).join('\n');
      return { findings: ids.every((id) => text.includes(id)), stories: instances.every((id) => stories.includes(id)) };
    };
    let findingsAt: number | undefined;
    let storiesAt: number | undefined;
    while (findingsAt === undefined || storiesAt === undefined) {
      if (performance.now() - lastAccepted > 600_000) throw new Error('storm: not every finding and story readable in 10 minutes');
      const r = readable();
      if (r.findings) findingsAt ??= performance.now();
      if (r.stories) storiesAt ??= performance.now();
      await new Promise((res) => setTimeout(res, 100));
    }
    const slackCalls = h.slack.calls.length;
    const byMethod: Record<string, number> = {};
    for (const c of h.slack.calls) byMethod[c.method] = (byMethod[c.method] ?? 0) + 1;
    return {
      intakeMs: lastAccepted - t0,
      findingsMs: findingsAt - lastAccepted,
      storiesMs: storiesAt - lastAccepted,
      slackCalls,
      byMethod,
      rateLimited: h.slack.rateLimited().length,
      cards: h.slack.channelMessages('C01ALERTS').length,
    };
  } finally {
    await h.stop();
    aws.restore();
  }
}

async function main() {
  const redis = await startRedisServer({ aof: false });
  process.env.TEST_REDIS_URL = redis.url;
  try {
    progress('A: ten instances, one bulk approval');
    const a = PARTS.includes('a') ? await bulkApproval() : undefined;
    console.log(JSON.stringify({ a }));
    progress(`B: ${MANY} instances against the mutation budget`);
    const b = PARTS.includes('b') ? await mutationFloor() : undefined;
    console.log(JSON.stringify({ b }));
    progress(`C: a ${STORM}-finding storm`);
    const c = PARTS.includes('c') ? await storm() : undefined;
    console.log(JSON.stringify({ c }));
    if (!a || !b || !c) {
      await redis.stop();
      process.exit(0);
    }
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const date = new Date().toISOString().slice(0, 10);
    writeSection(
      '## Storms (issue 13)',
      [
        `## Storms (issue 13) — ${date}`,
        '',
        `Machine: ${machine()}. Bot and worker in one process (test harness) against Redis, the local Slack API server and the in-memory AWS account (test/support/fake-aws.ts).`,
        '',
        `**A. Ten instances, one bulk approval.** \`/ir isolate\` with ${BULK} ids (one request, one plan, one approval), ${LATENCY_MS} ms on every AWS call, each instance with two interfaces, an Elastic IP, an Auto Scaling group and a target group; about ${Math.round(a.callsPerInstance)} AWS calls per instance. Time from the signed Approve click to the verified result of the last instance, against the same for one instance alone (after one warm-up isolation).`,
        '',
        '| figure | result | target |',
        '|---|---|---|',
        `| one instance alone, approve → verified | ${s(a.aloneMs)} | — |`,
        `| ten instances in one request, approve → last verified | ${s(a.bulkMs)} | — |`,
        `| ten ÷ one | ${(a.bulkMs / a.aloneMs).toFixed(2)} | ≤ 1.5 |`,
        '',
        `**B. ${MANY} instances in one account and region.** One \`/ir isolate\` per 50 ids (the per-request limit), no approval, no injected latency; ir-bot paces mutations at ${RATE}/s with a burst of ${OUR_BURST} (\`aws.mutationsPerSecond\`, \`aws.mutationBurst\`), and the fake EC2 throttles mutating calls itself (bucket of 200, refilled at ${RATE}/s, RequestLimitExceeded past it). The floor is the time the budget allows: (mutating calls − burst) ÷ refill rate.`,
        '',
        '| figure | result | target |',
        '|---|---|---|',
        `| mutating calls | ${b.mutating} | — |`,
        `| floor: (calls − ${OUR_BURST}) ÷ ${RATE}/s | ${s(b.floorMs)} | — |`,
        `| calls ÷ ${RATE}/s (no burst) | ${s(b.plainFloorMs)} | — |`,
        `| wall time, commands → last verified | ${s(b.wallMs)} | — |`,
        `| wall ÷ floor | ${(b.wallMs / b.floorMs).toFixed(2)} | ≤ 1.2 |`,
        `| throttling errors from EC2 | ${b.throttled} | 0 |`,
        '',
        `**C. A ${STORM}-finding storm.** ${STORM} port-probe findings on ${STORM} instances, four finding types (three cards, then the channel's storm roll-up), sent as fast as intake takes them, with stories on and the shipped defaults (\`slack.postIntervalMs\` 1100, \`storm.listQuietSeconds\` 15, \`story.fullStoriesPerCard\` 10). The Slack server enforces 1 post/s per channel and 50 updates/min with 429s. "Readable" means the finding id is in a message or a file in the channel.`,
        '',
        '| figure | result | target |',
        '|---|---|---|',
        `| intake of all ${STORM} | ${s(c.intakeMs)} | — |`,
        `| last finding accepted → every finding id readable in the channel | ${s(c.findingsMs)} | ≤ 60 s |`,
        `| last finding accepted → every instance's story in its card's thread | ${s(c.storiesMs)} | — |`,
        `| cards | ${c.cards} | — |`,
        `| Slack calls (by method) | ${c.slackCalls} (${Object.entries(c.byMethod).map(([m, n]) => `${m} ${n}`).join(', ')}) | — |`,
        `| 429s met | ${c.rateLimited} | all retried |`,
        '',
        'Run with `npm run bench:storm` (`BENCH_BULK_INSTANCES`, `BENCH_MUTATIONS_PER_SECOND`, `BENCH_STORM_FINDINGS` for other sizes).',
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

/**
 * A Redis failover under load: bot and worker (the real startBot/startWorker) reach Redis through
 * three sentinels; findings stream into POST /aws/events and isolations run when the primary is
 * SIGKILLed. The sender retries every 503 (and every refused connection) as EventBridge would.
 * Afterwards: which findings answered 202 are not on a card, how each request ended, what AWS
 * and the audit trail say, and how many status messages each request got.
 */
import { isDeepStrictEqual } from 'node:util';
import { AuditLog } from '../../src/audit/log';
import { createLogger } from '../../src/log';
import { isTerminal, type ActionRequest } from '../../src/requests/model';
import { RequestStore } from '../../src/requests/store';
import { FakeAws } from '../support/fake-aws';
import { fixture, startHarness, type Harness } from '../support/harness';
import { startSentinelGroup, type SentinelGroup } from '../support/sentinel-group';
import { slash } from '../support/slack-user';

export interface FailoverOptions {
  /** Distinct findings sent, one per request. */
  findings: number;
  /** Senders in parallel. */
  lanes: number;
  /** Instances isolated, each by its own `/ir isolate`. */
  isolations: number;
  /** The primary dies once this many findings were answered 202 (and an isolation is running). */
  killAfter: number;
  /** REDIS_WAIT_REPLICAS. */
  waitReplicas: number;
  log?: (line: string) => void;
}

export interface FailoverFigures {
  waitReplicas: number;
  findingsSent: number;
  /** Answered 202 (each finding once, however many tries it took). */
  accepted: number;
  /** Answered 202 but not stored after the failover: lost with the old primary. */
  lost: number;
  /** Stored but its card never posted. */
  notShown: number;
  status503: number;
  /** Connections refused or cut: the bot's own answer never came. */
  networkErrors: number;
  /** From the SIGKILL until the sentinels name the new primary and it answers. */
  gapMs: number;
  /** From the SIGKILL until a finding sent after it is answered 202. */
  firstAcceptAfterKillMs: number;
  /** From the SIGKILL until the killed node is back as a replica in sync (only then can WAIT 1 succeed). */
  replicaBackMs: number;
  requests: { total: number; done: number; wrongEnd: number; lost: number; doubledStatus: number; auditLost: number; auditDoubled: number; awsWrong: number };
  problems: string[];
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const AUDIT_CORE = ['requested', 'planned', 'started', 'succeeded'];

async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // Redis may be between primaries: a failed read is "not yet".
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(100);
  }
  return undefined;
}

function findingEvent(i: number): string {
  const e = fixture('guardduty-crypto-dns');
  const hex = i.toString(16).padStart(8, '0');
  e.detail.id = `fa11${hex}${'d'.repeat(20)}`;
  e.detail.resource.instanceDetails.instanceId = `i-0f${hex}${'e'.repeat(7)}`;
  return JSON.stringify(e);
}

const instanceId = (k: number) => `i-0a1b2c3d4e5f${(0x60700 + k).toString(16)}`;

export async function runFailover(opts: FailoverOptions): Promise<FailoverFigures> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const problems: string[] = [];
  const figures: FailoverFigures = {
    waitReplicas: opts.waitReplicas,
    findingsSent: opts.findings,
    accepted: 0,
    lost: 0,
    notShown: 0,
    status503: 0,
    networkErrors: 0,
    gapMs: NaN,
    firstAcceptAfterKillMs: NaN,
    replicaBackMs: NaN,
    requests: { total: opts.isolations, done: 0, wrongEnd: 0, lost: 0, doubledStatus: 0, auditLost: 0, auditDoubled: 0, awsWrong: 0 },
    problems,
    ms: 0,
  };
  let group: SentinelGroup | undefined;
  let h: Harness | undefined;
  const aws = new FakeAws();
  try {
    group = await startSentinelGroup();
    log(`sentinel group up: primary on ${await group.primaryPort()}`);
    for (let k = 0; k < opts.isolations; k++) aws.addWebServer(instanceId(k), { eip: false, targetGroup: false });
    // Slow AWS answers keep isolations running while the primary dies.
    aws.latencyMs = 40;
    h = await startHarness({
      env: { REDIS_URL: undefined, ...group.env, REDIS_WAIT_REPLICAS: String(opts.waitReplicas) },
      file: {
        access: { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: [] },
        aws: { maxAttempts: 1, jobAttempts: 10, jobBackoffMs: 200 },
        requests: { reconcileSeconds: 1, maxResumes: 5 },
        storm: { maxCardsPerWindow: 1000 },
      },
      // A job whose lock died with the primary comes back within seconds.
      workerOptions: { lock: { lockDuration: 4000, stalledInterval: 2000 } },
    });
    const hh = h;
    const store = new RequestStore(hh.redis, hh.config.redisPrefix, 3600);

    // Findings: each sent until answered 202, as EventBridge retries (here every 100 ms, not minutes).
    const acceptedKeys = new Map<number, string>();
    let killedAt = 0;
    let next = 0;
    const send = async (i: number) => {
      const body = findingEvent(i);
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const sentAt = Date.now();
        try {
          const res = await fetch(`${hh.baseUrl}/aws/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'test-ingest-key-0123456789abcdef' }, body });
          const text = await res.text();
          if (res.status === 202) {
            acceptedKeys.set(i, (JSON.parse(text) as { accepted: { key: string }[] }).accepted[0].key);
            // Sent after the kill: an answer already on its way when the primary died does not count.
            if (killedAt && sentAt > killedAt && Number.isNaN(figures.firstAcceptAfterKillMs)) figures.firstAcceptAfterKillMs = Date.now() - killedAt;
            return;
          }
          if (res.status === 503) figures.status503 += 1;
          else {
            problems.push(`finding ${i}: answered ${res.status} ${text}`);
            return;
          }
        } catch {
          figures.networkErrors += 1;
        }
        await sleep(100);
      }
      problems.push(`finding ${i} never answered 202`);
    };
    // The later findings wait for the kill, so the stream meets the failover however fast the
    // machine got through the first ones.
    const heldFrom = Math.min(opts.findings, opts.killAfter * 2);
    const stream = Promise.all(
      Array.from({ length: opts.lanes }, async () => {
        while (next < opts.findings) {
          const i = next++;
          if (i >= heldFrom) await poll(async () => (killedAt ? true : undefined), 180_000);
          await send(i);
        }
      }),
    );

    // Isolations, asked in Slack while the findings stream (once the stream is well under way).
    await poll(async () => (acceptedKeys.size >= opts.killAfter ? true : undefined), 120_000);
    const requestIds: string[] = [];
    for (let k = 0; k < opts.isolations; k++) {
      const known = new Set(requestIds);
      await slash(hh, `isolate ${instanceId(k)} failover test`);
      const r = await poll(async () => (await store.recent(50)).find((x) => x.target === instanceId(k) && !known.has(x.id)), 20_000);
      if (!r) throw new Error(`the isolation of ${instanceId(k)} made no request`);
      requestIds.push(r.id);
    }
    const running = await poll(async () => {
      const all = await Promise.all(requestIds.map((id) => store.get(id)));
      return all.some((r) => r?.state === 'running') ? true : undefined;
    }, 60_000);
    const states = await Promise.all(requestIds.map((id) => store.get(id)));
    if (!running) problems.push(`the primary was not killed mid-isolation (states ${states.map((r) => r?.state).join(', ')})`);
    log(`killing the primary: ${acceptedKeys.size} findings accepted, requests ${states.map((r) => r?.state).join(', ')}`);

    killedAt = Date.now();
    const oldPort = await group.killPrimary();
    const newPort = await group.waitForNewPrimary(oldPort);
    figures.gapMs = Date.now() - killedAt;
    log(`new primary on ${newPort} after ${figures.gapMs} ms`);
    await group.restartAsReplica(oldPort);
    await poll(async () => ((await group!.replicasOnline()) >= 1 ? true : undefined), 30_000);
    figures.replicaBackMs = Date.now() - killedAt;
    log(`old primary back as a replica after ${figures.replicaBackMs} ms`);

    await stream;
    figures.accepted = acceptedKeys.size;

    // Every finding answered 202 is stored and on a posted card.
    const prefix = hh.config.redisPrefix;
    const cardOf = async (key: string) => {
      const card = await hh.redis.hget(`${prefix}:f:${key}`, 'c');
      return { stored: card !== null, shown: card ? Boolean(await hh.redis.hget(`${prefix}:card:${card}`, 'ts')) : false };
    };
    await poll(async () => {
      for (const key of acceptedKeys.values()) {
        const c = await cardOf(key);
        if (c.stored && !c.shown) return undefined;
      }
      return true;
    }, 90_000);
    for (const [i, key] of acceptedKeys) {
      const c = await cardOf(key);
      if (!c.stored) figures.lost += 1;
      else if (!c.shown) figures.notShown += 1;
      if (!c.stored && figures.lost <= 5) problems.push(`finding ${i} was answered 202 and is gone`);
    }
    if (figures.notShown) problems.push(`${figures.notShown} stored findings never reached a card`);

    // Every request ended done, verified, shown in one status message, its audit trail whole.
    const ended = await Promise.all(
      requestIds.map((id) => poll(async () => {
        const r = await store.get(id);
        return r && isTerminal(r.state) && r.statusTs && r.renderedVersion >= r.version ? r : undefined;
      }, 120_000)),
    );
    // Anything still queued (a re-run render, a late retry) runs before counting.
    await sleep(1500);
    const audit = new AuditLog(hh.redis, prefix, createLogger('silent'));
    const quarantine = [...aws.groups.values()].filter((g) => g.name.startsWith('ir-quarantine'));
    if (quarantine.length !== 2) {
      figures.requests.awsWrong += 1;
      problems.push(`quarantine groups: ${quarantine.map((g) => g.name).join(', ')} (expected ir-quarantine and ir-quarantine-untracked once each)`);
    }
    const q = quarantine.find((g) => g.name === 'ir-quarantine');
    for (const [k, id] of requestIds.entries()) {
      const r: ActionRequest | undefined = ended[k] ?? (await store.get(id).catch(() => undefined));
      if (!r) {
        figures.requests.lost += 1;
        problems.push(`request ${id} is gone`);
        continue;
      }
      if (!ended[k]) problems.push(`request ${id} did not end (state ${r.state})`);
      if (r.state === 'done' && r.result?.ok) figures.requests.done += 1;
      else {
        figures.requests.wrongEnd += 1;
        problems.push(`request ${id} ended ${r.state}${r.failure ? `: ${r.failure.message}` : ''}`);
      }
      const enis = [...aws.enis.values()].filter((e) => e.instanceId === instanceId(k));
      if (!q || enis.length === 0 || !enis.every((e) => isDeepStrictEqual(e.groups, [q.id]))) {
        figures.requests.awsWrong += 1;
        problems.push(`${instanceId(k)} is not in quarantine: ${JSON.stringify(enis.map((e) => e.groups))}`);
      }
      const posts = hh.slack.callsOf('chat.postMessage').filter((c) => {
        const m = c.args.metadata;
        const meta = (typeof m === 'string' ? JSON.parse(m) : m) as { event_payload?: { key?: string } } | undefined;
        return meta?.event_payload?.key === `req:${id}`;
      });
      if (posts.length !== 1) {
        figures.requests.doubledStatus += Math.max(0, posts.length - 1);
        problems.push(`request ${id}: ${posts.length} status messages posted`);
      }
      const events = (await audit.find([{ requestId: id }])).map((e) => e.event).filter((e) => e !== 'resumed' && e !== 'retrying');
      for (const e of AUDIT_CORE) {
        const n = events.filter((x) => x === e).length;
        if (n === 0) figures.requests.auditLost += 1;
        if (n > 1) figures.requests.auditDoubled += n - 1;
      }
      if (!isDeepStrictEqual(events, AUDIT_CORE)) problems.push(`request ${id}: audit ${events.join(' → ')}`);
    }
    return figures;
  } catch (err) {
    problems.push(`scenario error: ${(err as Error).message}`);
    return figures;
  } finally {
    await h?.stop().catch(() => undefined);
    aws.restore();
    await group?.stop();
    figures.ms = Date.now() - started;
    log(`${JSON.stringify({ ...figures, problems: problems.length })}${problems.length ? `\n  ${problems.join('\n  ')}` : ''}`);
  }
}

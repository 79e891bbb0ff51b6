import { Worker, type Job } from 'bullmq';
import { CardStore } from '../cards/store';
import { recordLifetimes, type Config } from '../config/load';
import { AwsClients } from '../aws/clients';
import { createHttpServer } from '../http/server';
import { pollProcessor } from '../ingest/securityhub-poller';
import { enqueueRender, findingProcessor } from '../jobs/intake';
import { IncidentClock } from '../jobs/incident-clock';
import { AUDIT_RETENTION_JOB, QUEUE, bullPrefix, launcherJob, makeQueue, type ActionJob, type CardJob, type FindingJob, type PolicyJob, type StatusJob, type StoryJob } from '../queues';
import { policyHook, policyProcessor } from '../policy/intake';
import { AutonomyState } from '../policy/state';
import { OuPaths } from '../policy/ou';
import { organizationPaths } from '../aws/organizations';
import { RequestService } from '../requests/service';
import { afterCardShown, renderCardProcessor } from '../jobs/render-card';
import { SWEEP_JOB, sweepProcessor } from '../jobs/sweep';
import { RECONCILE_JOB, reconcileProcessor } from '../jobs/reconcile';
import { renderStatusProcessor } from '../jobs/render-status';
import { actionProcessor, type RespondDeps } from '../jobs/respond';
import { launchFactsOf, storyProcessor } from '../jobs/story';
import { taskProcessor } from '../jobs/tasks';
import { DOCTOR_SCHEDULE, doctorProcessor } from '../jobs/doctor';
import { sdkDoctorAws, type DoctorAws } from '../doctor/checks';
import type { DoctorJob } from '../queues';
import type { TaskJob } from '../queues';
import { AuditLog } from '../audit/log';
import { MutationLimiter } from '../aws/mutation-limiter';
import { CloudTrailBudget } from '../aws/cloudtrail-budget';
import { Pipeline } from '../requests/pipeline';
import { Lifecycle } from '../requests/lifecycle';
import { Locks } from '../requests/locks';
import { SingleFlight } from '../requests/single-flight';
import { RedisRecords } from '../requests/records';
import { RequestStore } from '../requests/store';
import type { Logger } from '../log';
import { redisConnection } from '../redis';
import type { Metrics } from '../metrics';
import { PostLedger } from '../slack/post-ledger';
import { SlackRateLimiter } from '../slack/rate-limit';
import { workerWebClient } from '../slack/web-client';
import { UserNames } from '../slack/user-names';
import { IncidentService, type IncidentJob } from '../incidents/service';
import { IncidentStore } from '../incidents/store';
import { JiraClient } from '../incidents/jira';
import { autoDeclare, incidentProcessor, incidentRequestDone } from '../incidents/worker';
import { closeServer, listen, startMetricsServer, type Running } from './bot';
import { redisHealth, slackHealth } from './health';

export interface WorkerOptions {
  /** Serve /healthz and /metrics on config.port (worker-only processes). */
  serveHttp: boolean;
  concurrency?: { findings?: number; cards?: number; actions?: number };
  aws?: AwsClients;
  /** Tests swap in actions; production uses the real ones. */
  actions?: RespondDeps['actions'];
  /** BullMQ lock settings for every queue (maxStalledCount: the actions queue only); tests shorten them to exercise stalled-job recovery. */
  lock?: { lockDuration: number; stalledInterval: number; maxStalledCount?: number };
  /** Where the doctor reads AWS; tests pass a stand-in. */
  doctorAws?: DoctorAws;
}

/** The AWS- and Slack-calling process: intake grouping, card rendering, Security Hub polling. */
export async function startWorker(config: Config, log: Logger, metrics: Metrics, opts: WorkerOptions): Promise<Running> {
  const conn = redisConnection(config.redis, 'worker', log.child({ component: 'redis' }));
  const prefix = bullPrefix(config.redisPrefix);
  const store = new CardStore(conn, config.redisPrefix);
  const findingsQ = makeQueue<FindingJob>(QUEUE.findings, conn, config.redisPrefix, log);
  const cardsQ = makeQueue<CardJob>(QUEUE.cards, conn, config.redisPrefix, log);
  const pollQ = makeQueue(QUEUE.poll, conn, config.redisPrefix, log);
  const slack = workerWebClient(config.slackApp.botToken, config.slackApp.apiUrl, log);
  // What every Slack-posting processor needs: the client, the shared rate limits, the post ledger.
  const publishing = { slack, limiter: new SlackRateLimiter(conn, config.redisPrefix, config.slack), posts: new PostLedger(conn, config.redisPrefix), metrics };
  const actionsQ = makeQueue<ActionJob>(QUEUE.actions, conn, config.redisPrefix, log);
  const storyQ = makeQueue<StoryJob>(QUEUE.story, conn, config.redisPrefix, log);
  const tasksQ = makeQueue<TaskJob>(QUEUE.tasks, conn, config.redisPrefix, log);
  const audit = new AuditLog(conn, config.redisPrefix, log.child({ component: 'audit' }));
  const statusQ = makeQueue<StatusJob>(QUEUE.status, conn, config.redisPrefix, log);
  const doctorQ = makeQueue<DoctorJob>(QUEUE.doctor, conn, config.redisPrefix, log);
  const aws = opts.aws ?? new AwsClients(config);
  const requestStore = new RequestStore(conn, config.redisPrefix, config.retentionDays * 86400);
  const pipeline = new Pipeline(actionsQ, statusQ, tasksQ, config);
  const clock = new IncidentClock({ redis: conn, prefix: config.redisPrefix, cards: store, metrics });
  const incidentQ = makeQueue<IncidentJob>(QUEUE.incidents, conn, config.redisPrefix, log);
  const incidents = new IncidentService(new IncidentStore(conn, config.redisPrefix), store, incidentQ, metrics, requestStore, !!(config.jira && config.incidents.jira));
  const policyQ = makeQueue<PolicyJob>(QUEUE.autonomy, conn, config.redisPrefix, log);
  const autonomy = new AutonomyState(conn, config.redisPrefix);
  const records = new RedisRecords(conn, config.redisPrefix, recordLifetimes(config));
  const afterStored = policyHook(config, policyQ);
  // Only a policy that matches on OUs calls Organizations.
  const organizations = config.autonomy.rules.some((r) => r.match.ou) ? organizationPaths(config.aws.maxAttempts) : undefined;
  const ous = new OuPaths(conn, config.redisPrefix, config.autonomy.ouCacheSeconds, organizations?.lookup);

  // The card follows its requests and workflow: a new version, rendered like any other change.
  const cardChanged = async (cardId: string | undefined) => {
    if (cardId) await enqueueRender(cardsQ, cardId, config.slack.coalesceMs);
  };
  const workerLog = (name: string) => log.child({ component: 'worker', queue: name });
  const names = new UserNames(slack, conn, config.redisPrefix, workerLog(QUEUE.tasks));
  // A dead worker's jobs on every queue (a status render too) come back after the lock, not BullMQ's 30 s default.
  const locks = opts.lock ? { lockDuration: opts.lock.lockDuration, stalledInterval: opts.lock.stalledInterval } : {};
  const common = { connection: conn, prefix, ...locks };
  const sweepMs = config.slack.sweepSeconds * 1000;
  const sweep = sweepProcessor({ cards: store, cardQueue: cardsQ, requests: requestStore, pipeline, intervalMs: sweepMs, log: workerLog(QUEUE.cards) });
  const reconcile = reconcileProcessor({
    store: requestStore,
    life: new Lifecycle(requestStore, audit, pipeline, config.access.approvalTimeoutMinutes, workerLog(QUEUE.actions)),
    pipeline,
    actions: actionsQ,
    maxResumes: config.requests.maxResumes,
    log: workerLog(QUEUE.actions),
  });
  const workers = [
    new Worker<FindingJob>(QUEUE.findings, findingProcessor({ config, store, cards: cardsQ, metrics, log: workerLog(QUEUE.findings), afterStored }), {
      ...common,
      concurrency: opts.concurrency?.findings ?? 8,
    }),
    new Worker<CardJob>(
      QUEUE.cards,
      dispatchByName(SWEEP_JOB, sweep, renderCardProcessor({
        config,
        store,
        requests: requestStore,
        ...publishing,
        log: workerLog(QUEUE.cards),
        onShown: async (state) => {
          await afterCardShown(state, { config, stories: storyQ, tasks: tasksQ, store });
          await autoDeclare(incidents, config.incidents, state);
        },
      })),
      { ...common, concurrency: opts.concurrency?.cards ?? 10 },
    ),
    new Worker<ActionJob>(
      QUEUE.actions,
      dispatchByName(RECONCILE_JOB, reconcile, actionProcessor({
        config,
        store: requestStore,
        pipeline,
        audit,
        records,
        aws,
        autonomy: {
          state: autonomy,
          limits: config.autonomy,
          protectedTags: config.autonomy.protectedTags,
          countdownMs: config.autonomy.countdownSeconds * 1000,
          onOutcome: (r, outcome) => metrics.autonomy.inc({ rule: r.auto?.rule ?? 'unknown', outcome, action: r.action }),
        },
        limiter: new MutationLimiter(conn, config.redisPrefix, config.aws),
        locks: new Locks(conn, config.redisPrefix),
        once: new SingleFlight(conn, config.redisPrefix, new Locks(conn, config.redisPrefix)),
        cloudTrail: new CloudTrailBudget(conn, config.redisPrefix, { lookupsPerSecond: config.aws.cloudTrailLookupsPerSecond, cacheMs: 0 }),
        log: workerLog(QUEUE.actions),
        actions: opts.actions,
        onFinished: async (r, outcome) => {
          await clock.requestDone(r, outcome);
          await incidentRequestDone(incidents, r, outcome);
        },
      })),
      // Isolating ten instances at once is the playbook's case; the account limiter paces AWS.
      { ...common, ...opts.lock, concurrency: opts.concurrency?.actions ?? 20 },
    ),
    new Worker<TaskJob>(
      QUEUE.tasks,
      taskProcessor({
        cards: store,
        requests: requestStore,
        audit,
        aws,
        names,
        clock,
        ...publishing,
        log: workerLog(QUEUE.tasks),
        onWorkflow: async (findingKey, status, user) => cardChanged(await store.markWorkflow(findingKey, status, user)),
      }),
      { ...common, concurrency: 5 },
    ),
    new Worker<IncidentJob>(
      QUEUE.incidents,
      incidentProcessor({ incidents, audit, config, names, prefix: config.redisPrefix, jira: config.jira && config.incidents.jira ? new JiraClient(config.jira) : undefined, jiraBaseUrl: config.jira?.baseUrl, ...publishing, log: workerLog(QUEUE.incidents) }),
      { ...common, concurrency: 5 },
    ),
    // A policy's automatic requests are asked by the rule through the same service as a click.
    // No REDIS_WAIT_REPLICAS mark here: nobody outside Redis is told "queued" by this submit, and
    // the policy job that asks was itself confirmed at intake; a failover that loses the request
    // loses this job's completion too (a primary replicates in order), so the job runs again.
    new Worker<PolicyJob>(
      QUEUE.autonomy,
      policyProcessor({
        config,
        cards: store,
        requests: new RequestService(config, requestStore, pipeline, audit, store, records, new Lifecycle(requestStore, audit, pipeline, config.access.approvalTimeoutMinutes, workerLog(QUEUE.autonomy)), undefined),
        state: autonomy,
        audit,
        ous,
        ...publishing,
        log: workerLog(QUEUE.autonomy),
      }),
      { ...common, concurrency: 5 },
    ),
    new Worker<StoryJob>(
      QUEUE.story,
      storyProcessor({
        config,
        cards: store,
        aws,
        redis: conn,
        prefix: config.redisPrefix,
        ...publishing,
        log: workerLog(QUEUE.story),
        onStory: async (cardId, s) => {
          if (await store.recordLaunch(cardId, s.instanceId, launchFactsOf(s))) await cardChanged(cardId);
        },
        queueLauncher: async (data) => {
          const j = launcherJob(data);
          await storyQ.add(j.name, j.data, j.opts);
        },
      }),
      { ...common, concurrency: 5 },
    ),
    new Worker<StatusJob>(
      QUEUE.status,
      afterStatus(
        renderStatusProcessor({
          store: requestStore,
          defaultChannel: config.channels.default,
          threadOf: (k) => store.threadOf(k),
          onStateChange: async (r) => {
            if (r.findingKey) await cardChanged(await store.touch(r.findingKey, Date.now(), `${r.id}:${r.state}`));
          },
          ...publishing,
          log: workerLog(QUEUE.status),
        }),
        (id) => incidents.requestChanged(id),
      ),
      { ...common, concurrency: 10 },
    ),
    new Worker<DoctorJob>(
      QUEUE.doctor,
      doctorProcessor({ config, aws: opts.doctorAws ?? sdkDoctorAws(config), redis: conn, prefix: config.redisPrefix, ...publishing, log: workerLog(QUEUE.doctor) }),
      { ...common, concurrency: 1 },
    ),
    new Worker(
      QUEUE.poll,
      dispatchByName(AUDIT_RETENTION_JOB, () => audit.exportAndTrim(config.audit.exportDir, config.audit.retentionDays), pollProcessor({
        config,
        securityHub: (r) => aws.securityHub(r),
        redis: conn,
        prefix: config.redisPrefix,
        findings: findingsQ,
        metrics,
        log: workerLog(QUEUE.poll),
      })),
      { ...common, concurrency: 1 },
    ),
  ];
  for (const w of workers) {
    const wl = workerLog(w.name);
    w.on('failed', (job, err) => wl.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'job failed'));
    // While Redis is down every worker reports each reconnect attempt: say each distinct error
    // once a minute, with how many were left out, instead of hundreds of lines.
    // Remembered per message: a reconnect loop alternates between errors (refused, closed), and
    // remembering only the last one logged each again on every turn.
    const said = new Map<string, { at: number; repeated: number }>();
    w.on('error', (err) => {
      const now = Date.now();
      const last = said.get(err.message);
      if (last && now - last.at < 60_000) {
        last.repeated += 1;
        return;
      }
      if (said.size > 50) said.clear();
      wl.error({ err: err.message, ...(last?.repeated ? { repeatedBefore: last.repeated } : {}) }, 'worker error');
      said.set(err.message, { at: now, repeated: 0 });
    });
  }

  // A scheduler rather than a timer per replica: Redis hands each tick to exactly one worker.
  const poll = config.securityHub.poll;
  if (poll.enabled) {
    await pollQ.upsertJobScheduler(
      'securityhub-poll',
      { every: poll.intervalSeconds * 1000 },
      { name: 'poll', opts: { attempts: 3, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: true, removeOnFail: 100 } },
    );
  } else {
    await pollQ.removeJobScheduler('securityhub-poll');
  }

  const schedule = config.doctor.schedule;
  if (schedule.enabled) {
    await doctorQ.upsertJobScheduler(DOCTOR_SCHEDULE, { every: schedule.intervalHours * 3_600_000 }, { name: 'doctor', data: { scheduled: true }, opts: { attempts: 3, backoff: { type: 'exponential', delay: 60_000 }, removeOnComplete: 10, removeOnFail: 100 } });
  } else {
    await doctorQ.removeJobScheduler(DOCTOR_SCHEDULE);
  }

  await actionsQ.upsertJobScheduler(
    'request-reconcile',
    { every: config.requests.reconcileSeconds * 1000 },
    { name: RECONCILE_JOB, data: { requestId: '' }, opts: { removeOnComplete: true, removeOnFail: 100 } },
  );
  // Hourly, on the poll queue's single-file worker: whole days past audit.retentionDays are
  // exported to JSONL and then trimmed (a missed tick is simply caught up by the next).
  await pollQ.upsertJobScheduler('audit-retention', { every: 3_600_000 }, { name: AUDIT_RETENTION_JOB, opts: { attempts: 3, backoff: { type: 'exponential', delay: 60_000 }, removeOnComplete: true, removeOnFail: 100 } });
  await cardsQ.upsertJobScheduler('slack-sweep', { every: sweepMs }, { name: SWEEP_JOB, data: { cardId: '' }, opts: { removeOnComplete: true, removeOnFail: 100 } });

  let server: ReturnType<typeof createHttpServer> | undefined;
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  let port = 0;
  if (opts.serveHttp) {
    metrics.watchQueues([findingsQ, cardsQ, actionsQ, statusQ]);
    metrics.watchUnshown(async () => ({ card: await store.unshownCount(), 'request-status': await requestStore.unshownCount() }));
    const health = { redis: redisHealth(conn), slack: slackHealth(slack) };
    server = createHttpServer({ log, metrics, health, metricsToken: config.metrics.token });
    port = await listen(server, config.port);
    metricsServer = await startMetricsServer(config, { log, metrics, health });
  }
  log.info({ port: port || undefined, pollEnabled: poll.enabled }, 'worker running');
  let killed = false;
  const queues = [findingsQ, cardsQ, pollQ, actionsQ, statusQ, storyQ, tasksQ, doctorQ, incidentQ, policyQ];
  return {
    port,
    metricsPort: metricsServer?.port,
    async stop() {
      if (killed) return;
      if (server) await closeServer(server);
      if (metricsServer) await closeServer(metricsServer.server);
      // close() lets running jobs finish; anything it cannot finish is re-run from Redis later.
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(queues.map((q) => q.close()));
      if (!opts.aws) aws.destroy();
      organizations?.destroy();
      await conn.quit().catch(() => conn.disconnect());
    },
    /**
     * As a crash would: connections dropped, nothing waited for (bounded at 2 s), and a later
     * stop() does nothing. The connections are dropped as well as force-closed because BullMQ
     * hands a second close() the promise of the first: after a stop() stuck on a reconnecting
     * connection, close(true) alone would wait on that same stuck stop.
     */
    async kill() {
      killed = true;
      conn.disconnect();
      // Open HTTP connections too (a /metrics scrape waiting on the dropped Redis would hold close()).
      for (const s of [server, metricsServer?.server]) s?.closeAllConnections();
      const dropped = [...workers.map((w) => w.close(true)), ...[...workers, ...queues].map((q) => q.disconnect()), ...(server ? [closeServer(server)] : []), ...(metricsServer ? [closeServer(metricsServer.server)] : [])];
      await Promise.race([Promise.all(dropped.map((p) => p.catch(() => undefined))), new Promise((r) => setTimeout(r, 2_000).unref())]);
      if (!opts.aws) aws.destroy();
      organizations?.destroy();
    },
  };
}

/** A request's status render, then whatever follows a request change (its incident's summary); a failure of the latter never fails the render. */
function afterStatus<R>(render: (job: Job<StatusJob>, token?: string) => Promise<R>, then: (requestId: string) => Promise<void>) {
  return async (job: Job<StatusJob>, token?: string): Promise<R> => {
    const res = await render(job, token);
    await then(job.data.requestId).catch(() => undefined);
    return res;
  };
}

/** One queue, two kinds of job: the scheduler's `name` jobs go to `special`, the rest to `main`. */
function dispatchByName<T, R>(name: string, special: () => Promise<unknown>, main: (job: Job<T>, token?: string) => Promise<R>) {
  return (job: Job<T>, token?: string) => (job.name === name ? special() : main(job, token));
}

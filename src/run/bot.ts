import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordLifetimes, type Config } from '../config/load';
import { createBoltApp } from '../bot/app';
import { createHttpServer, type HttpDeps } from '../http/server';
import { awsEventsRoute } from '../ingest/aws-events-route';
import { AuditLog } from '../audit/log';
import { Authorizer } from '../bot/authz';
import { IncidentService, type IncidentJob } from '../incidents/service';
import { IncidentStore } from '../incidents/store';
import { jiraWebhookRoute } from '../incidents/jira-webhook';
import { CardStore } from '../cards/store';
import { QUEUE, makeQueue, type ActionJob, type CardJob, type FindingJob, type PolicyJob, type StatusJob } from '../queues';
import { policyHook } from '../policy/intake';
import { AutonomyService } from '../policy/service';
import { AutonomyState } from '../policy/state';
import { OuPaths } from '../policy/ou';
import { intakeFinding } from '../jobs/intake';
import type { DoctorJob, TaskJob } from '../queues';
import { Lifecycle } from '../requests/lifecycle';
import { Pipeline } from '../requests/pipeline';
import { RedisRecords } from '../requests/records';
import { RequestService } from '../requests/service';
import { approverShortfall, submitCustomAction } from '../requests/custom-action';
import { RequestStore } from '../requests/store';
import type { Logger } from '../log';
import { ReplicaWait, redisConnection, whenReady } from '../redis';
import type { Metrics } from '../metrics';
import { workerWebClient } from '../slack/web-client';
import { redisHealth, slackHealth } from './health';
import { hostOf, slackStartupError } from './startup-checks';

export interface Running {
  port: number;
  /** The loopback metrics server's port, when this process serves HTTP. */
  metricsPort?: number;
  stop(): Promise<void>;
  /** Drop everything at once, as a crash would: running jobs are left to stall and be re-run. */
  kill?(): Promise<void>;
}

export function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** /metrics and detailed /healthz on their own port (loopback by default), never on the public one. */
export async function startMetricsServer(config: Config, deps: Pick<HttpDeps, 'log' | 'metrics' | 'health'>): Promise<{ server: Server; port: number }> {
  const server = createHttpServer({ ...deps, trusted: true });
  return { server, port: await listen(server, config.metrics.port, config.metrics.host) };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** The Slack-facing process: Bolt listeners, POST /aws/events, health and metrics. */
/** `host`: the interface to listen on (the demo: loopback only); unset = every interface, as a deployment needs. */
export async function startBot(config: Config, log: Logger, metrics: Metrics, opts: { host?: string } = {}): Promise<Running> {
  const redisLog = log.child({ component: 'redis' });
  const producer = redisConnection(config.redis, 'producer', redisLog);
  const findings = makeQueue<FindingJob>(QUEUE.findings, producer, config.redisPrefix, log);
  const cards = makeQueue<CardJob>(QUEUE.cards, producer, config.redisPrefix, log);
  const actions = makeQueue<ActionJob>(QUEUE.actions, producer, config.redisPrefix, log);
  const status = makeQueue<StatusJob>(QUEUE.status, producer, config.redisPrefix, log);
  const tasks = makeQueue<TaskJob>(QUEUE.tasks, producer, config.redisPrefix, log);
  const doctor = makeQueue<DoctorJob>(QUEUE.doctor, producer, config.redisPrefix, log);
  const incidentQ = makeQueue<IncidentJob>(QUEUE.incidents, producer, config.redisPrefix, log);
  const policy = makeQueue<PolicyJob>(QUEUE.autonomy, producer, config.redisPrefix, log);
  metrics.watchQueues([findings, cards, actions, status]);
  const intakeRedis = redisConnection(config.redis, 'intake', redisLog);
  // Its own connection: a WAIT blocks the connection it is sent on (see ReplicaWait).
  const waitRedis = config.redisWait.replicas > 0 ? redisConnection(config.redis, 'producer', redisLog) : undefined;
  const replicated = new ReplicaWait(waitRedis, `${config.redisPrefix}:replicated`, config.redisWait.replicas, config.redisWait.timeoutMs);
  const cardStore = new CardStore(producer, config.redisPrefix);
  const requestStore = new RequestStore(producer, config.redisPrefix, config.retentionDays * 86400);
  metrics.watchUnshown(async () => ({ card: await cardStore.unshownCount(), 'request-status': await requestStore.unshownCount() }));
  const pipeline = new Pipeline(actions, status, tasks, config);
  const audit = new AuditLog(producer, config.redisPrefix, log.child({ component: 'audit' }));
  const lifecycle = new Lifecycle(requestStore, audit, pipeline, config.access.approvalTimeoutMinutes, log.child({ component: 'lifecycle' }));
  const requests = new RequestService(
    config,
    requestStore,
    pipeline,
    audit,
    cardStore,
    new RedisRecords(producer, config.redisPrefix, recordLifetimes(config)),
    lifecycle,
    () => replicated.mark(),
  );
  const autonomy = new AutonomyService(config, requestStore, lifecycle, new AutonomyState(producer, config.redisPrefix), cardStore, audit, new OuPaths(producer, config.redisPrefix, config.autonomy.ouCacheSeconds), (r) =>
    metrics.autonomy.inc({ rule: r.auto?.rule ?? 'unknown', outcome: 'held', action: r.action }),
  );
  const authz = new Authorizer(config.access, log.child({ component: 'authz' }));
  authz.logPolicy();
  const incidents = new IncidentService(new IncidentStore(producer, config.redisPrefix), cardStore, incidentQ, metrics, requestStore, !!(config.jira && config.incidents.jira));
  const shortfall = approverShortfall(config.access.approvers, config.securityHub);
  if (shortfall) log.warn(shortfall);
  const bolt = createBoltApp(config, log, {
    requests,
    authz,
    athena: config.athena,
    incidents,
    incidentConfig: config.incidents,
    autonomy,
    doctor: async (run) => {
      await doctor.add('doctor', run, { attempts: 3, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: 10, removeOnFail: 100 });
    },
  });
  const health = {
    redis: redisHealth(producer),
    slack: slackHealth(workerWebClient(config.slackApp.botToken, config.slackApp.apiUrl, log)),
  };
  const server = createHttpServer({
    log,
    metrics,
    health,
    metricsToken: config.metrics.token,
    awsEvents: awsEventsRoute({
      apiKey: config.ingestApiKey,
      maxBodyBytes: config.ingest.maxBodyBytes,
      maxEventsPerRequest: config.ingest.maxEventsPerRequest,
      maxFindingsPerRequest: config.ingest.maxFindingsPerRequest,
      maxJsonDepth: config.ingest.maxJsonDepth,
      maxJsonNodes: config.ingest.maxJsonNodes,
      intake: intakeFinding({ config, store: new CardStore(intakeRedis, config.redisPrefix), cards, metrics, log: log.child({ component: 'intake' }), afterStored: policyHook(config, policy) }),
      customAction: (event, findings) => submitCustomAction(requests, config.securityHub, event, findings),
      replicaMark: () => replicated.mark(),
      metrics,
      log: log.child({ component: 'ingest' }),
    }),
    slackEvents: bolt.slackRequestListener,
    jiraWebhook: config.jira?.webhookSecret ? jiraWebhookRoute({ secret: config.jira.webhookSecret, incidents, config: config.incidents, log: log.child({ component: 'jira-webhook' }) }) : undefined,
  });
  server.keepAliveTimeout = 65_000;
  await Promise.all([producer, intakeRedis, waitRedis].map((c) => c && whenReady(c, 5000)));
  const port = await listen(server, config.port, opts.host);
  const metricsServer = await startMetricsServer(config, { log, metrics, health });
  const close = async () => {
    await closeServer(server);
    await closeServer(metricsServer.server);
    await Promise.all([findings, cards, actions, status, tasks, doctor, incidentQ, policy].map((q) => q.close()));
    producer.disconnect();
    intakeRedis.disconnect();
    waitRedis?.disconnect();
  };
  if (config.slackApp.mode === 'socket') {
    try {
      await bolt.app.start();
    } catch (err) {
      await close();
      throw slackStartupError(err, 'SLACK_APP_TOKEN', 'apps.connections.open', hostOf(config.slackApp.apiUrl ?? 'https://slack.com/api/'));
    }
  }
  log.info({ port, metricsPort: metricsServer.port, metricsHost: config.metrics.host, slackMode: config.slackApp.mode }, 'bot listening');
  return {
    port,
    metricsPort: metricsServer.port,
    async stop() {
      if (config.slackApp.mode === 'socket') await bolt.app.stop();
      await close();
    },
  };
}

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/load';
import { createBoltApp } from '../bot/app';
import { createHttpServer } from '../http/server';
import { awsEventsRoute } from '../ingest/aws-events-route';
import { QUEUE, makeQueue, redisConnection, type FindingJob, type CardJob } from '../jobs/queues';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { workerWebClient } from '../slack/web-client';
import { redisHealth, slackHealth } from './health';

export interface Running {
  port: number;
  stop(): Promise<void>;
}

export function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve((server.address() as AddressInfo).port));
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** The Slack-facing process: Bolt listeners, POST /aws/events, health and metrics. */
export async function startBot(config: Config, log: Logger, metrics: Metrics): Promise<Running> {
  const producer = redisConnection(config.redisUrl, 'producer', log.child({ component: 'redis' }));
  const findings = makeQueue<FindingJob>(QUEUE.findings, producer, config.redisPrefix, log);
  const cards = makeQueue<CardJob>(QUEUE.cards, producer, config.redisPrefix, log);
  metrics.watchQueues([findings, cards]);
  const bolt = createBoltApp(config, log);
  const server = createHttpServer({
    log,
    metrics,
    health: {
      redis: redisHealth(producer),
      slack: slackHealth(workerWebClient(config.slackApp.botToken, config.slackApp.apiUrl, log)),
    },
    awsEvents: awsEventsRoute({
      apiKey: config.ingestApiKey,
      maxBodyBytes: config.ingest.maxBodyBytes,
      maxEventsPerRequest: config.ingest.maxEventsPerRequest,
      findings,
      metrics,
      log: log.child({ component: 'ingest' }),
    }),
    slackEvents: bolt.slackRequestListener,
  });
  server.keepAliveTimeout = 65_000;
  const port = await listen(server, config.port);
  if (config.slackApp.mode === 'socket') await bolt.app.start();
  log.info({ port, slackMode: config.slackApp.mode }, 'bot listening');
  return {
    port,
    async stop() {
      await closeServer(server);
      if (config.slackApp.mode === 'socket') await bolt.app.stop();
      await findings.close();
      await cards.close();
      producer.disconnect();
    },
  };
}

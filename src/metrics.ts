import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

interface WatchedQueue {
  name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

/** 1 min to 3 days: responders work in minutes, findings may wait a weekend. */
const INCIDENT_BUCKETS = [60, 300, 600, 1800, 3600, 7200, 14_400, 43_200, 86_400, 259_200];

/** One registry per process; jobs-by-state is read from Redis at scrape time. */
export class Metrics {
  readonly registry = new Registry();
  readonly findingsReceived = new Counter({
    name: 'ir_findings_received_total',
    help: 'Findings accepted for processing, by how they arrived',
    labelNames: ['via'] as const,
    registers: [this.registry],
  });
  readonly findingsRejected = new Counter({
    name: 'ir_findings_rejected_total',
    help: 'Events or findings refused at intake (malformed, unknown type)',
    registers: [this.registry],
  });
  readonly findingsPosted = new Counter({
    name: 'ir_findings_posted_total',
    help: 'Distinct findings placed on a card for the first time',
    registers: [this.registry],
  });
  readonly findingsDeduplicated = new Counter({
    name: 'ir_findings_deduplicated_total',
    help: 'Findings seen again (updates and repeats) that updated their existing card instead of posting',
    registers: [this.registry],
  });
  readonly cardMessages = new Counter({
    name: 'ir_card_messages_total',
    help: 'Slack messages sent for cards',
    labelNames: ['method'] as const,
    registers: [this.registry],
  });
  readonly slackErrors = new Counter({
    name: 'ir_slack_call_errors_total',
    help: 'Slack Web API calls that failed, by method and error',
    labelNames: ['method', 'error'] as const,
    registers: [this.registry],
  });
  /** Automatic containment (docs/autonomy.md): `would-run` counts shadow mode's trial decisions per action. */
  readonly autonomy = new Counter({
    name: 'ir_autonomy_decisions_total',
    help: 'Policy decisions by rule and outcome: would-run (shadow), ran, held (by a person), breaker, autonomy-off, braked',
    labelNames: ['rule', 'outcome', 'action'] as const,
    registers: [this.registry],
  });
  readonly awsErrors = new Counter({
    name: 'ir_aws_call_errors_total',
    help: 'AWS API calls that failed, by service and error',
    labelNames: ['service', 'error'] as const,
    registers: [this.registry],
  });
  readonly ingestLatency = new Histogram({
    name: 'ir_ingest_request_seconds',
    help: 'POST /aws/events handling time',
    labelNames: ['status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  /** Per incident (card), from its first finding's first-seen time; see jobs/incident-clock.ts. */
  readonly timeToAcknowledge = new Histogram({
    name: 'ir_incident_time_to_acknowledge_seconds',
    help: 'Time from an incident\'s first finding (first seen) to its first Acknowledge',
    buckets: INCIDENT_BUCKETS,
    registers: [this.registry],
  });
  readonly timeToContain = new Histogram({
    name: 'ir_incident_time_to_contain_seconds',
    help: 'Time from an incident\'s first finding (first seen) to its first verified containment (isolate, stop, disable key, deny, revoke sessions)',
    buckets: INCIDENT_BUCKETS,
    registers: [this.registry],
  });
  /** Per declared incident (src/incidents), from its start to each milestone. */
  readonly incidentResponse = new Histogram({
    name: 'ir_declared_incident_response_seconds',
    help: 'Time from a declared incident\'s start (earliest finding first seen) to acknowledged, contained, eradicated and closed',
    labelNames: ['milestone'] as const,
    buckets: INCIDENT_BUCKETS,
    registers: [this.registry],
  });
  private watched: WatchedQueue[] = [];
  private unshown?: () => Promise<Record<string, number>>;
  readonly jobs: Gauge<'queue' | 'state'>;
  readonly notShown: Gauge<'kind'>;

  constructor(defaults = true) {
    const watched = () => this.watched;
    this.jobs = new Gauge({
      name: 'ir_jobs',
      help: 'BullMQ jobs by queue and state',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        for (const q of watched()) {
          const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
          for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
        }
      },
    });
    const unshown = () => this.unshown;
    this.notShown = new Gauge({
      name: 'ir_slack_messages_not_shown',
      help: 'Cards and request status messages whose latest version Slack does not show yet (a lasting rise means Slack is refusing them)',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        const counts = (await unshown()?.()) ?? {};
        for (const [kind, n] of Object.entries(counts)) this.set({ kind }, n);
      },
    });
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'ir_process_' });
  }

  /** Counts of messages not yet shown in Slack, by kind; read when /metrics is scraped. */
  watchUnshown(count: () => Promise<Record<string, number>>): void {
    this.unshown = count;
  }

  /** Queues whose job counts are reported; counted when /metrics is scraped. */
  watchQueues(queues: WatchedQueue[]): void {
    this.watched = queues;
  }
}

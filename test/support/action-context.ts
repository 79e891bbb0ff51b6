import { AthenaClient } from '@aws-sdk/client-athena';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { ActionContext, RecordStore } from '../../src/actions/types';
import { Responder, type ResponderClients } from '../../src/aws/responder';
import { globalEventRegion } from '../../src/aws/identifiers';
import { fileSchema } from '../../src/config/schema';

/** Records kept in memory, with the same write-once and retire semantics as RedisRecords. */
export class MemoryRecords implements RecordStore {
  readonly values = new Map<string, unknown>();

  async get<T>(name: string): Promise<T | undefined> {
    const v = this.values.get(name);
    return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as T);
  }

  async putIfAbsent(name: string, value: unknown): Promise<boolean> {
    if (this.values.has(name)) return false;
    this.values.set(name, value);
    return true;
  }

  async replace(name: string, value: unknown, at: number): Promise<void> {
    const before = this.values.get(name);
    if (before !== undefined) this.values.set(`${name}:replaced:${at}`, before);
    this.values.set(name, value);
  }

  async retire(name: string, at: number): Promise<void> {
    const v = this.values.get(name);
    if (v === undefined) return;
    this.values.delete(name);
    this.values.set(`${name}:retired:${at}`, v);
  }
}

/** A clock a test moves by hand; `sleep` moves it instead of waiting. */
export class TestClock {
  constructor(public ms = Date.parse('2026-11-22T08:00:00Z')) {}
  now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** SDK clients in one region: the FakeAws stand-in (aws-sdk-client-mock) answers every one of them. */
export function testClients(region = 'us-east-1'): ResponderClients {
  const opts = { region, credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'test' }, maxAttempts: 1 };
  const cloudTrail = new CloudTrailClient(opts);
  const globalRegion = globalEventRegion(region);
  return {
    ec2: new EC2Client(opts),
    autoScaling: new AutoScalingClient(opts),
    elbv2: new ElasticLoadBalancingV2Client(opts),
    kms: new KMSClient(opts),
    iam: new IAMClient(opts),
    cloudTrail,
    cloudTrailGlobal: globalRegion === region ? cloudTrail : new CloudTrailClient({ ...opts, region: globalRegion }),
    securityHub: new SecurityHubClient(opts),
    athena: new AthenaClient(opts),
    ssm: new SSMClient(opts),
    s3: new S3Client(opts),
  };
}

const DEFAULTS = fileSchema.parse({ channels: { default: 'C01ALERTS' } });

/** The `athena:` section as the config loader completes it (defaults filled in). */
export function athenaConfig(section: unknown): ActionContext['athena'] {
  return fileSchema.parse({ channels: { default: 'C01ALERTS' }, athena: section }).athena;
}

/**
 * What the worker hands an action for one request, without Redis, Slack or a queue: for tests of
 * one action's plan and execute against the AWS stand-in, with a clock the test controls.
 */
export function actionContext(opts: {
  account: string;
  requestId: string;
  planRevision?: number;
  undoes?: string;
  records?: RecordStore;
  clock?: TestClock;
  aws?: Responder;
  config?: Partial<Pick<ActionContext, 'iam' | 'snapshot' | 'hunts' | 'athena'>>;
}): ActionContext {
  const clock = opts.clock ?? new TestClock();
  return {
    aws: opts.aws ?? new Responder(testClients(), opts.account, 'us-east-1', async () => undefined),
    requestId: opts.requestId,
    startedAt: clock.now(),
    planRevision: opts.planRevision ?? 1,
    undoes: opts.undoes,
    requestedBy: 'U01ANA',
    caseId: opts.requestId,
    records: opts.records ?? new MemoryRecords(),
    isolation: DEFAULTS.isolation,
    snapshot: { ...DEFAULTS.snapshot, pollIntervalMs: 10, ...opts.config?.snapshot },
    stop: DEFAULTS.stop,
    iam: { verifyAttempts: 3, verifyIntervalMs: 10, ...opts.config?.iam },
    athena: opts.config?.athena,
    hunts: { ...DEFAULTS.hunts, ...opts.config?.hunts },
    memory: DEFAULTS.memory,
    blastRadius: DEFAULTS.blastRadius,
    sleep: async (ms) => clock.advance(ms),
    now: () => new Date(clock.now()),
    progress: async () => undefined,
    // One test drives one job at a time: nothing to serialize against.
    serialize: (_name, fn) => fn(),
  };
}

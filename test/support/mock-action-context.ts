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
import { Responder } from '../../src/aws/responder';
import { fileSchema } from '../../src/config/schema';

/** Records in memory, with the same write-once and retire rules as the Redis store. */
export class MemoryRecords implements RecordStore {
  readonly values = new Map<string, unknown>();
  async get<T>(name: string): Promise<T | undefined> {
    return this.values.get(name) as T | undefined;
  }
  async putIfAbsent(name: string, value: unknown): Promise<boolean> {
    if (this.values.has(name)) return false;
    this.values.set(name, structuredClone(value));
    return true;
  }
  async replace(name: string, value: unknown, at: number): Promise<void> {
    if (this.values.has(name)) this.values.set(`${name}:replaced:${at}`, this.values.get(name));
    this.values.set(name, structuredClone(value));
  }
  async retire(name: string, at: number): Promise<void> {
    if (!this.values.has(name)) return;
    this.values.set(`${name}:retired:${at}`, this.values.get(name));
    this.values.delete(name);
  }
}

/**
 * An action context over real SDK clients (mock them with aws-sdk-client-mock) with static
 * credentials, so presigned URLs can be built; sleeps are instant and progress is recorded.
 */
export function actionContext(over: Partial<ActionContext> & { file?: Record<string, unknown> } = {}): ActionContext & { progressLog: string[]; records: MemoryRecords } {
  const opts = { region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, maxAttempts: 1 };
  const clients = {
    ec2: new EC2Client(opts),
    autoScaling: new AutoScalingClient(opts),
    elbv2: new ElasticLoadBalancingV2Client(opts),
    kms: new KMSClient(opts),
    iam: new IAMClient(opts),
    cloudTrail: new CloudTrailClient(opts),
    securityHub: new SecurityHubClient(opts),
    athena: new AthenaClient(opts),
    ssm: new SSMClient(opts),
    s3: new S3Client(opts),
  };
  const config = fileSchema.parse({ channels: { default: 'C01ALERTS' }, ...(over.file ?? {}) });
  const progressLog: string[] = [];
  const rest: Partial<ActionContext> & { file?: unknown } = { ...over };
  delete rest.file;
  return {
    aws: new Responder(clients, '111122223333', 'us-east-1', async () => undefined),
    requestId: 'memory-i-0a1b2c3d4e5f60718-1',
    requestedBy: 'U01ANA',
    startedAt: Date.parse('2026-12-01T07:00:00Z'),
    planRevision: 1,
    caseId: 'case-7cc4f1c3',
    isolation: config.isolation,
    snapshot: config.snapshot,
    stop: config.stop,
    iam: config.iam,
    athena: config.athena,
    hunts: config.hunts,
    memory: config.memory,
    blastRadius: config.blastRadius,
    serialize: (_name, fn) => fn(),
    sleep: async () => undefined,
    now: () => new Date('2026-12-01T07:00:00Z'),
    progress: async (step, total, label) => {
      progressLog.push(`${step}/${total} ${label}`);
    },
    ...rest,
    records: (rest.records as MemoryRecords | undefined) ?? new MemoryRecords(),
    progressLog,
  };
}

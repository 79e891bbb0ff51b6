import { GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { mockClient } from 'aws-sdk-client-mock';
import { randomBytes } from 'node:crypto';
import { pollRegion, type PollerDeps } from '../src/ingest/securityhub-poller';
import { bullPrefix, type FindingJob } from '../src/queues';
import { createLogger } from '../src/log';
import { Metrics } from '../src/metrics';
import { fileSchema } from '../src/config/schema';
import { fixture } from './support/harness';

const sh = mockClient(SecurityHubClient);

function asff(i: number, updatedAt: string): any {
  const f = fixture('securityhub-inspector').detail.findings[0];
  f.Id = `arn:aws:inspector2:us-east-1:123456789012:finding/${i.toString(16).padStart(32, '0')}`;
  f.UpdatedAt = updatedAt;
  return f;
}

describe('Security Hub poller', () => {
  let redis: Redis;
  let queue: Queue<FindingJob>;
  let deps: PollerDeps;
  const prefix = `t${randomBytes(4).toString('hex')}`;

  beforeEach(async () => {
    sh.reset();
    redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
    queue = new Queue<FindingJob>('findings', { connection: redis, prefix: bullPrefix(prefix) });
    await queue.obliterate({ force: true });
    await redis.del(`${prefix}:shub:cursor:us-east-1`);
    const file = fileSchema.parse({ channels: { default: 'C01ALERTS' }, securityHub: { poll: { enabled: true, products: ['GuardDuty', 'Inspector'], minSeverityLabel: 'HIGH' } } });
    deps = {
      config: { securityHub: file.securityHub, awsRegion: 'us-east-1' },
      securityHub: () => new SecurityHubClient({ region: 'us-east-1', maxAttempts: 1 }),
      redis,
      prefix,
      findings: queue,
      metrics: new Metrics(false),
      log: createLogger('silent'),
    };
  });
  afterEach(async () => {
    await queue.close();
    redis.disconnect();
  });

  it('reads every page with the configured filters, queues each finding, and moves the cursor', async () => {
    sh.on(GetFindingsCommand)
      .resolvesOnce({ Findings: [asff(1, '2026-11-22T10:00:00.000Z'), asff(2, '2026-11-22T10:01:00.000Z')], NextToken: 'page2' })
      .resolvesOnce({ Findings: [asff(3, '2026-11-22T10:02:00.000Z'), { Id: 'broken' } as any] });
    const now = Date.parse('2026-11-22T10:05:00.000Z');
    const r = await pollRegion(deps, 'us-east-1', now);
    expect(r).toEqual({ queued: 3, pages: 2 });
    expect(await queue.count()).toBe(3);
    expect(await redis.get(`${prefix}:shub:cursor:us-east-1`)).toBe('2026-11-22T10:02:00.000Z');

    const calls = sh.commandCalls(GetFindingsCommand);
    expect(calls).toHaveLength(2);
    const input = calls[0].args[0].input;
    expect(input.Filters?.RecordState).toEqual([{ Value: 'ACTIVE', Comparison: 'EQUALS' }]);
    expect(input.Filters?.SeverityLabel?.map((s) => s.Value)).toEqual(['HIGH', 'CRITICAL']);
    expect(input.Filters?.ProductName?.map((s) => s.Value)).toEqual(['GuardDuty', 'Inspector']);
    // First poll looks back initialLookbackMinutes (60).
    expect(input.Filters?.UpdatedAt?.[0]).toEqual({ Start: '2026-11-22T09:05:00.000Z', End: '2026-11-22T10:05:00.000Z' });
    expect(calls[1].args[0].input.NextToken).toBe('page2');

    // The next poll starts from the cursor (with overlap); re-seen findings are not queued twice.
    sh.reset();
    sh.on(GetFindingsCommand).resolves({ Findings: [asff(3, '2026-11-22T10:02:00.000Z')] });
    await pollRegion(deps, 'us-east-1', now + 60_000);
    expect(sh.commandCalls(GetFindingsCommand)[0].args[0].input.Filters?.UpdatedAt?.[0].Start).toBe('2026-11-22T09:57:00.000Z');
    expect(await queue.count()).toBe(3);
  });

  it('keeps the cursor where it was when throttled mid-way, so the next poll repeats rather than skips', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });
    sh.on(GetFindingsCommand)
      .resolvesOnce({ Findings: [asff(1, '2026-11-22T10:00:00.000Z')], NextToken: 'p2' })
      .rejectsOnce(throttled);
    await expect(pollRegion(deps, 'us-east-1', Date.parse('2026-11-22T10:05:00.000Z'))).rejects.toThrow('Rate exceeded');
    expect(await queue.count()).toBe(1);
    expect(await redis.get(`${prefix}:shub:cursor:us-east-1`)).toBe('2026-11-22T10:00:00.000Z');
    const metrics = await deps.metrics.registry.getSingleMetricAsString('ir_aws_call_errors_total');
    expect(metrics).toContain('error="TooManyRequestsException"');
  });
});

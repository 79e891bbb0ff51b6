import {
  paginateGetFindings,
  type AwsSecurityFindingFilters,
  type SecurityHubClient,
  type SeverityLabel as ShSeverityLabel,
} from '@aws-sdk/client-securityhub';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { asffRequired, fromAsff } from '../findings/asff';
import type { Finding, SeverityLabel } from '../findings/model';
import type { Config } from '../config/load';
import { findingJob, type FindingJob } from '../queues';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';

const LABEL_ORDER: SeverityLabel[] = ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
/** Security Hub may show a finding a little after its UpdatedAt; re-reading this much costs only duplicates, which dedupe absorbs. */
const OVERLAP_MS = 5 * 60 * 1000;

export interface PollerDeps {
  config: Pick<Config, 'securityHub' | 'awsRegion'>;
  securityHub: (region?: string) => SecurityHubClient;
  redis: Redis;
  prefix: string;
  findings: Queue<FindingJob>;
  metrics: Metrics;
  log: Logger;
}

export function pollFilters(poll: Config['securityHub']['poll'], start: string, end: string): AwsSecurityFindingFilters {
  const labels = LABEL_ORDER.slice(LABEL_ORDER.indexOf(poll.minSeverityLabel));
  return {
    RecordState: [{ Value: 'ACTIVE', Comparison: 'EQUALS' }],
    UpdatedAt: [{ Start: start, End: end }],
    SeverityLabel: labels.map((l) => ({ Value: l as ShSeverityLabel, Comparison: 'EQUALS' })),
    ProductName: poll.products.map((p) => ({ Value: p, Comparison: 'EQUALS' })),
  };
}

/**
 * Reads every page of active findings updated since the cursor, queues them, and only then moves
 * the cursor: a crash or throttle mid-way repeats work but never skips a finding.
 */
export async function pollRegion(deps: PollerDeps, region: string | undefined, now = Date.now()): Promise<{ queued: number; pages: number }> {
  const poll = deps.config.securityHub.poll;
  const cursorKey = `${deps.prefix}:shub:cursor:${region ?? 'default'}`;
  const stored = await deps.redis.get(cursorKey);
  const startMs = stored ? Date.parse(stored) - OVERLAP_MS : now - poll.initialLookbackMinutes * 60_000;
  const filters = pollFilters(poll, new Date(startMs).toISOString(), new Date(now).toISOString());
  let cursor = stored ? Date.parse(stored) : startMs;
  let queued = 0;
  let pages = 0;
  const paginator = paginateGetFindings(
    { client: deps.securityHub(region), pageSize: 100 },
    { Filters: filters, SortCriteria: [{ Field: 'UpdatedAt', SortOrder: 'asc' }], MaxResults: 100 },
  );
  try {
    for await (const page of paginator) {
      pages += 1;
      const findings: Finding[] = [];
      for (const raw of page.Findings ?? []) {
        const r = asffRequired.safeParse(raw);
        if (r.success) findings.push(fromAsff(r.data));
        else {
          deps.metrics.findingsRejected.inc();
          deps.log.warn({ id: (raw as { Id?: string }).Id, problems: r.error.issues.map((i) => i.message) }, 'skipped malformed Security Hub finding');
        }
      }
      if (findings.length > 0) {
        await deps.findings.addBulk(findings.map((finding) => findingJob(finding, 'securityhub-poll')));
        queued += findings.length;
        deps.metrics.findingsReceived.inc({ via: 'securityhub-poll' }, findings.length);
        cursor = Math.max(cursor, ...findings.map((f) => Date.parse(f.updatedAt)));
        await deps.redis.set(cursorKey, new Date(cursor).toISOString());
      }
    }
  } catch (err) {
    const e = err as { name?: string; message?: string };
    deps.metrics.awsErrors.inc({ service: 'securityhub', error: e.name ?? 'Error' });
    deps.log.warn({ region, error: e.name, message: e.message, queued }, 'Security Hub poll stopped early; the next poll resumes from the cursor');
    throw err;
  }
  return { queued, pages };
}

export function pollProcessor(deps: PollerDeps) {
  return async () => {
    const poll = deps.config.securityHub.poll;
    const regions: (string | undefined)[] = poll.regions.length > 0 ? poll.regions : [deps.config.awsRegion];
    const results: Record<string, { queued: number; pages: number }> = {};
    for (const region of regions) results[region ?? 'default'] = await pollRegion(deps, region);
    return results;
  };
}

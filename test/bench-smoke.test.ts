import { runLatencyBench } from '../benchmarks/latency.bench';

/**
 * The latency bench in a small form, so a bench that hangs or stops isolating fails `npm test`
 * instead of the next person who runs `npm run bench` (the full form: benchmarks/latency.bench.ts).
 */
describe('the latency bench, small', () => {
  it('isolates one, three separate and three in bulk, paces 12 instances, and tells a 12-finding storm with stories, within a minute', async () => {
    const f = await runLatencyBench({
      latencyMs: 5,
      ten: 3,
      many: 12,
      mutationsPerSecond: 50,
      storm: 12,
      lookupsPerSecond: 2,
      parts: ['one', 'separate', 'bulk', 'budget', 'storm'],
      timeoutMs: 45_000,
    });
    expect(f.iso?.oneMs).toBeGreaterThan(0);
    expect(f.iso?.separateMs).toBeGreaterThan(0);
    expect(f.iso?.bulkMs).toBeGreaterThan(0);
    expect(f.budget?.throttled).toBe(0);
    expect(f.storm?.failedJobs).toBe(0);
    expect(f.storm?.lookupsThrottled).toBe(0);
  }, 90_000);
});

import { runFailover } from './failover/scenario';

// The reduced form of `npm run failover` (figures in benchmarks/RESULTS.md).
describe('Redis failover through Sentinel (primary SIGKILLed mid-intake and mid-isolation)', () => {
  it('loses no finding answered 202 and ends every isolation once, verified, with one status message and a whole audit trail', async () => {
    const f = await runFailover({ findings: 150, lanes: 3, isolations: 3, killAfter: 40, waitReplicas: 1, log: process.env.FAILOVER_LOG ? (l) => process.stderr.write(`${l}\n`) : undefined });
    expect(f.problems).toEqual([]);
    expect(f.accepted).toBe(150);
    expect(f.lost).toBe(0);
    expect(f.requests).toMatchObject({ total: 3, done: 3, wrongEnd: 0, lost: 0, doubledStatus: 0, auditLost: 0, auditDoubled: 0, awsWrong: 0 });
    // The bot really met the failover: some requests were refused while there was no primary.
    expect(f.status503 + f.networkErrors).toBeGreaterThan(0);
  }, 180_000);
});

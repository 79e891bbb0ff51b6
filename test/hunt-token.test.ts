import { huntAction, queryToken } from '../src/actions/hunt';
import { idPart } from '../src/requests/store';
import { actionContext, athenaConfig, MemoryRecords } from './support/action-context';
import { FakeAws } from './support/fake-aws';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ATHENA = athenaConfig({
  workgroup: 'primary',
  database: 'security_logs',
  outputLocation: 's3://example-athena-results/ir-bot/',
  tables: { cloudtrail: 'cloudtrail_logs', vpcflow: 'vpc_flow_logs' },
});

describe('Athena idempotency tokens: one per request and plan revision', () => {
  let aws: FakeAws;
  afterEach(() => aws?.restore());

  it('hunts #7, #70 and #700 of one template each start their own query, and a crash re-run follows its own', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.queryRunMs = 0;
    const target = `ec2-calls instance=${INSTANCE} days=3`;
    const prefix = `hunt-${idPart(target)}`;
    const ids: string[] = [];
    for (const n of [7, 70, 700]) {
      const requestId = `${prefix}-${n}`;
      // Each hunt asks about a different instance, so each query has its own answer.
      const ctx = actionContext({ account: aws.account, requestId, config: { athena: ATHENA } });
      const plan = await huntAction.plan([`ec2-calls instance=i-000000000000000${String(n).padStart(2, '0').slice(-2)} days=3`], ctx);
      expect(plan.blocked).toBeUndefined();
      const out = await huntAction.execute(plan, ctx);
      expect(out.ok).toBe(true);
      ids.push(/history\/(q-\d+)/.exec(out.link!.url)![1]);
    }
    expect(new Set(ids).size).toBe(3);
    expect(aws.queries.size).toBe(3);
    const tokens = aws.callsOf('StartQueryExecution').map((c) => c.input.ClientRequestToken as string);
    expect(new Set(tokens).size).toBe(3);

    // The worker died after StartQueryExecution, before recording the query id: the re-run
    // (fresh records) sends the same token and Athena hands back the same query.
    const ctx = actionContext({ account: aws.account, requestId: `${prefix}-70`, records: new MemoryRecords(), config: { athena: ATHENA } });
    const plan = await huntAction.plan([`ec2-calls instance=i-00000000000000070 days=3`], ctx);
    const again = await huntAction.execute(plan, ctx);
    expect(/history\/(q-\d+)/.exec(again.link!.url)![1]).toBe(ids[1]);
    expect(aws.queries.size).toBe(3);
  });

  it('never collides over many request ids and revisions, stays within 32-128 characters, and is stable', () => {
    const seen = new Map<string, string>();
    const prefixes = ['hunt-ec2-calls', `hunt-${idPart('principal-activity principal=arn:aws:iam::123456789012:user/ci-deploy')}`, 'hunt-a'];
    for (const prefix of prefixes) {
      for (let n = 1; n <= 2000; n++) {
        for (let rev = 1; rev <= 3; rev++) {
          const id = `${prefix}-${n}`;
          const token = queryToken(id, rev);
          expect(token.length).toBeGreaterThanOrEqual(32);
          expect(token.length).toBeLessThanOrEqual(128);
          const key = `${id}@${rev}`;
          const before = seen.get(token);
          if (before !== undefined) throw new Error(`${key} shares its token with ${before}`);
          seen.set(token, key);
        }
      }
    }
    expect(seen.size).toBe(3 * 2000 * 3);
    expect(queryToken('hunt-a-70', 2)).toBe(queryToken('hunt-a-70', 2));
    expect(queryToken('hunt-a-7', 1)).not.toBe(queryToken('hunt-a-70', 1));
  });
});

import { LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { EC2Client } from '@aws-sdk/client-ec2';
import { GetAccessKeyLastUsedCommand, IAMClient } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { Redis } from 'ioredis';
import { blastRadiusAction } from '../src/actions/blast-radius';
import { deleteKeysAction } from '../src/actions/eradicate';
import { launchOf } from '../src/actions/terminate';
import { CloudTrailBudget } from '../src/aws/cloudtrail-budget';
import { Responder } from '../src/aws/responder';
import { fileSchema } from '../src/config/schema';
import { testClients } from './support/action-context';
import { actionContext } from './support/mock-action-context';
import { scratchRedis } from './support/redis-server';

const ACCOUNT = '111122223333';
const KEY = 'AKIAIOSFODNN7EXAMPLE';
const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/ci-deployer`;

/**
 * Two workers (each its own Redis connection and action context) run a blast radius and an
 * eradication plan of one account in eu-west-1 at the same moment; both read IAM events from
 * us-east-1 too. AWS counts LookupEvents per account and region for every caller together.
 */
describe('every LookupEvents an action makes spends the shared budget of the region it goes to', () => {
  const scratch = scratchRedis();

  it('two concurrent blast-radius/eradication runs in separate workers make at most 2 calls in any second per region, us-east-1 reads included', async () => {
    const clients = testClients('eu-west-1');
    const calls: Record<string, number[]> = { 'eu-west-1': [], 'us-east-1': [] };
    // Three pages per lookup: every page is a call of its own.
    for (const [region, client] of [['eu-west-1', clients.cloudTrail], ['us-east-1', clients.cloudTrailGlobal]] as const) {
      mockClient(client)
        .on(LookupEventsCommand)
        .callsFake(async (input) => {
          calls[region].push(Date.now());
          const page = Number(input.NextToken ?? 0) + 1;
          return { Events: [], NextToken: page < 3 ? String(page) : undefined };
        });
    }
    mockClient(EC2Client);
    mockClient(IAMClient).on(GetAccessKeyLastUsedCommand).resolves({ UserName: 'ci-deployer' });

    const lookupsPerSecond = fileSchema.parse({ channels: { default: 'C01ALERTS' } }).aws.cloudTrailLookupsPerSecond;
    const { prefix } = scratch;
    const worker = (r: Redis) =>
      actionContext({
        aws: new Responder(clients, ACCOUNT, 'eu-west-1', async () => undefined),
        // Real waits: without the shared budget each worker would pace itself at 2/s, 4/s together.
        sleep: (ms) => new Promise((res) => setTimeout(res, ms)),
        now: () => new Date(),
        cloudTrailCall: new CloudTrailBudget(r, prefix, { lookupsPerSecond, cacheMs: 0 }).forAccount(ACCOUNT, 'eu-west-1', 120_000),
      });
    // Each worker has its own connection, as separate processes do.
    const conns = [scratch.redis.duplicate(), scratch.redis.duplicate()];
    const [a, b] = conns.map(worker);

    const radius = await blastRadiusAction.plan([USER_ARN], a);
    await Promise.all([blastRadiusAction.execute(radius, a), deleteKeysAction.plan([KEY], b), launchOf(b, 'i-0123456789abcdef0')]);

    // Blast radius and delete-keys read both regions; the launch lookup reads eu-west-1 only.
    expect(calls['eu-west-1']).toHaveLength(9);
    expect(calls['us-east-1']).toHaveLength(6);
    for (const times of Object.values(calls)) {
      times.sort((x, y) => x - y);
      // No three calls within one second, whichever worker made them.
      for (let i = 2; i < times.length; i++) expect(times[i] - times[i - 2]).toBeGreaterThanOrEqual(1000);
    }
    for (const c of conns) c.disconnect();
  }, 20_000);
});

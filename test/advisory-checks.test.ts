import { revokeSessionsAction } from '../src/actions/iam';
import { isolateAction } from '../src/actions/isolate';
import { snapshotAction } from '../src/actions/snapshot';
import { Locks } from '../src/requests/locks';
import { SingleFlight } from '../src/requests/single-flight';
import { actionContext } from './support/action-context';
import { FakeAws, awsError } from './support/fake-aws';
import { scratchRedis } from './support/redis-server';

const WEB = 'i-0a1b2c3d4e5f60718';
const OTHER = 'i-0a1b2c3d4e5f60719';
const PROFILE = 'arn:aws:iam::123456789012:instance-profile/web';

const byProfile = (input: { Filters?: { Name: string }[] }) => !!input.Filters?.some((f) => f.Name === 'iam-instance-profile.arn');

function account(): FakeAws {
  const aws = FakeAws.withWebServer(WEB);
  aws.addWebServer(OTHER);
  aws.roles.set('web-role', { policies: new Map() });
  return aws;
}

describe('a plan never waits on an advisory check: revoke-sessions', () => {
  let aws: FakeAws;
  afterEach(() => aws?.restore());

  it('a denied "is this role shared" lookup: the plan is made with "could not check" and why, and the revocation runs', async () => {
    aws = account();
    aws.onCall('DescribeInstances', (input) => {
      if (byProfile(input)) throw awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403);
    });
    const ctx = actionContext({ account: aws.account, requestId: 'revoke-sessions-i-0a1b2c3d4e5f60718-1' });
    const plan = await revokeSessionsAction.plan([WEB], ctx);
    expect(plan.blocked).toBeUndefined();
    expect(plan.warnings[0]).toBe(`could not check whether role web-role is shared with other instances (instance profile ${PROFILE}): access denied: the bot's role may not call ec2:DescribeInstances`);
    expect(plan.summary.join('\n')).toContain(`${WEB}: remove instance profile ${PROFILE}`);
    const outcome = await revokeSessionsAction.execute(plan, ctx);
    expect(outcome.ok).toBe(true);
    expect(aws.instances.get(WEB)!.profileArn).toBeUndefined();
  });

  it('when it answers, the plan still names the other instances of the role', async () => {
    aws = account();
    const plan = await revokeSessionsAction.plan([WEB], actionContext({ account: aws.account, requestId: 'revoke-sessions-i-0a1b2c3d4e5f60718-1' }));
    expect(plan.warnings[0]).toBe('role web-role is shared by 1 other instance(s): the deny hits their current sessions too (they fetch new credentials within minutes)');
  });
});

describe('a plan never waits on an advisory check: snapshot', () => {
  let aws: FakeAws;
  afterEach(() => aws?.restore());
  const denyVolumes = () => aws.onCall('DescribeVolumes', () => {
    throw awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403);
  });

  it('a denied volume read only informs: the snapshot is planned with the sizes unknown and "could not check" and why', async () => {
    aws = account();
    denyVolumes();
    const plan = await snapshotAction.plan([WEB, OTHER], actionContext({ account: aws.account, requestId: 'snapshot-1' }));
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary[0]).toBe(`${WEB}: one crash-consistent set of 2 volume(s): /dev/xvda vol-e5f60718000000001 (? GiB), /dev/xvdf vol-e5f60718000000002 (? GiB)`);
    expect(plan.warnings).toEqual([`could not check the size and encryption of the volumes of ${WEB}, ${OTHER}: access denied: the bot's role may not call ec2:DescribeVolumes: they are snapshotted all the same.`]);
  });

  it('with a forensic account the volumes\' encryption decides how to share, so the same denial stays an error', async () => {
    aws = account();
    denyVolumes();
    const ctx = actionContext({ account: aws.account, requestId: 'snapshot-1' });
    ctx.snapshot = { ...ctx.snapshot, forensicAccount: '999988887777' };
    await expect(snapshotAction.plan([WEB], ctx)).rejects.toThrow(/DescribeVolumes/);
  });
});

describe('isolation and revoke-sessions plans of one role share one "is this role shared" lookup', () => {
  let aws: FakeAws;
  const scratch = scratchRedis();
  afterEach(() => aws?.restore());

  it('two plans on two workers at once make one DescribeInstances by profile, and both warn', async () => {
    aws = account();
    const worker = (requestId: string) => {
      const conn = scratch.redis.duplicate();
      const once = new SingleFlight(conn, scratch.prefix, new Locks(conn, scratch.prefix));
      return { conn, ctx: { ...actionContext({ account: aws.account, requestId }), shared: once.run.bind(once) as typeof once.run, forget: (n: string) => once.forget(n) } };
    };
    const a = worker('isolate-i-0a1b2c3d4e5f60718-1');
    const b = worker('revoke-sessions-i-0a1b2c3d4e5f60719-1');
    const [isolation, revocation] = await Promise.all([isolateAction.plan([WEB], a.ctx), revokeSessionsAction.plan([OTHER], b.ctx)]);
    expect(aws.calls.filter((c) => c.api === 'DescribeInstances' && byProfile(c.input))).toHaveLength(1);
    expect(isolation.warnings.join('\n')).toContain('is shared by 1 other instance(s)');
    expect(revocation.warnings[0]).toContain('role web-role is shared by 1 other instance(s)');
    a.conn.disconnect();
    b.conn.disconnect();
  });
});

import { CloudTrailClient, LookupEventsCommand, type Event } from '@aws-sdk/client-cloudtrail';
import { DescribeInstancesCommand, DescribeKeyPairsCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetAccessKeyLastUsedCommand, GetUserCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { blastRadiusAction } from '../src/actions/blast-radius';
import { actionContext } from './support/mock-action-context';

const trail = mockClient(CloudTrailClient);
const ec2 = mockClient(EC2Client);
const iam = mockClient(IAMClient);

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const USER = 'ci-deployer';
const MINERS = Array.from({ length: 10 }, (_, n) => `i-0${String(n).padStart(16, 'a')}`);

let seq = 0;
function event(name: string, source: string, at: string, body: { req?: unknown; res?: unknown; readOnly?: boolean; error?: string }): Event {
  const id = `evt-${++seq}`;
  return {
    EventId: id,
    EventName: name,
    EventSource: source,
    EventTime: new Date(at),
    AccessKeyId: KEY,
    Username: USER,
    ReadOnly: body.readOnly ? 'true' : 'false',
    CloudTrailEvent: JSON.stringify({
      eventID: id,
      eventName: name,
      eventSource: source,
      eventTime: at,
      readOnly: !!body.readOnly,
      userIdentity: { type: 'IAMUser', userName: USER, accessKeyId: KEY, arn: `arn:aws:iam::111122223333:user/${USER}` },
      errorCode: body.error,
      requestParameters: body.req ?? null,
      responseElements: body.res ?? null,
    }),
  };
}

/** The playbook's simulation: a leaked key probes, opens a group, adds a key pair and a user, then runs ten miners. */
function simulation(): Event[] {
  return [
    event('DescribeInstances', 'ec2.amazonaws.com', '2026-11-30T02:00:00Z', { readOnly: true }),
    event('CreateSecurityGroup', 'ec2.amazonaws.com', '2026-11-30T02:01:00Z', { req: { groupName: 'default-ssh', vpcId: 'vpc-1' }, res: { groupId: 'sg-0bad' } }),
    event('AuthorizeSecurityGroupIngress', 'ec2.amazonaws.com', '2026-11-30T02:01:30Z', {
      req: { groupId: 'sg-0bad', ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }] } },
      res: { _return: true },
    }),
    event('ImportKeyPair', 'ec2.amazonaws.com', '2026-11-30T02:02:00Z', { req: { keyName: 'miner-key' }, res: { keyName: 'miner-key', keyPairId: 'key-1' } }),
    event('CreateUser', 'iam.amazonaws.com', '2026-11-30T02:03:00Z', { req: { userName: 'backup-svc' }, res: { user: { userName: 'backup-svc' } } }),
    event('CreateAccessKey', 'iam.amazonaws.com', '2026-11-30T02:03:10Z', { req: { userName: 'backup-svc' }, res: { accessKey: { accessKeyId: 'AKIABACKDOOR00000001', userName: 'backup-svc', status: 'Active' } } }),
    event('RequestServiceQuotaIncrease', 'servicequotas.amazonaws.com', '2026-11-30T02:04:00Z', { req: { serviceCode: 'ec2', quotaCode: 'L-1216C47A', desiredValue: 512 } }),
    event('RunInstances', 'ec2.amazonaws.com', '2026-11-30T02:05:00Z', { error: 'Client.VcpuLimitExceeded' }),
    event('RunInstances', 'ec2.amazonaws.com', '2026-11-30T02:10:00Z', { res: { instancesSet: { items: MINERS.slice(0, 5).map((instanceId) => ({ instanceId, instanceType: 'c5.4xlarge', imageId: 'ami-miner' })) } } }),
    event('RunInstances', 'ec2.amazonaws.com', '2026-11-30T02:11:00Z', { res: { instancesSet: { items: MINERS.slice(5).map((instanceId) => ({ instanceId, instanceType: 'c5.4xlarge', imageId: 'ami-miner' })) } } }),
  ];
}

beforeEach(() => {
  trail.reset();
  ec2.reset();
  iam.reset();
  seq = 0;
});

function arrange() {
  const events = simulation();
  // By key: two pages.
  trail.on(LookupEventsCommand).callsFake(async (input) => {
    const attr = input.LookupAttributes[0];
    if (attr.AttributeKey === 'AccessKeyId') return input.NextToken ? { Events: events.slice(5) } : { Events: events.slice(0, 5), NextToken: 'page-2' };
    return { Events: [] };
  });
  iam.on(GetAccessKeyLastUsedCommand).resolves({ UserName: USER });
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [{ Instances: MINERS.map((InstanceId, n) => ({ InstanceId, State: { Name: n === 9 ? 'terminated' : 'running' } })) }],
  });
  ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-0bad', IpPermissions: [{ IpProtocol: 'tcp' }] }] });
  ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyName: 'miner-key' }] });
  iam.on(GetUserCommand).resolves({ User: { UserName: 'backup-svc' } as never });
  iam.on(ListAccessKeysCommand).resolves({ AccessKeyMetadata: [{ AccessKeyId: 'AKIABACKDOOR00000001', Status: 'Active' }] });
}

describe('blast radius of a leaked access key (the crypto-mining playbook simulation)', () => {
  it('lists every write grouped by resource, with current state, and nothing read-only or refused', async () => {
    arrange();
    const sleeps: number[] = [];
    const ctx = actionContext({ sleep: async (ms) => void sleeps.push(ms) });
    const plan = await blastRadiusAction.plan([KEY], ctx);
    expect(plan.summary[0]).toContain('all pages, at most 2 lookups/s per region');
    expect(plan.summary[1]).toBe(`attribution: only calls CloudTrail attributes to access key ${KEY} (userIdentity.accessKeyId), not everything its user did: ask for the user's ARN to widen`);
    const outcome = await blastRadiusAction.execute(plan, ctx);

    expect(outcome.lines[0]).toBe(`${KEY} (key of user ${USER}): 8 write(s) in 90 days and 1 refused, touching 15 resource(s)`);
    expect(outcome.lines[1]).toBe('10 instances, 1 security group, 1 key pair, 1 IAM user, 1 access key, 1 service quota increase');
    expect(outcome.lines).toContain('security group sg-0bad: CreateSecurityGroup, AuthorizeSecurityGroupIngress from 2026-11-30T02:01:00Z; name default-ssh; opened inbound tcp 22 0.0.0.0/0; now exists, 1 inbound rule(s)');
    expect(outcome.lines).toContain('key pair miner-key: ImportKeyPair from 2026-11-30T02:02:00Z; now exists');
    expect(outcome.lines).toContain('IAM user backup-svc: CreateUser from 2026-11-30T02:03:00Z; now exists, access keys: AKIABACKDOOR00000001 Active');
    expect(outcome.lines).toContain('access key AKIABACKDOOR00000001: CreateAccessKey from 2026-11-30T02:03:10Z; of user backup-svc');
    expect(outcome.lines).toContain('service quota increase ec2/L-1216C47A: RequestServiceQuotaIncrease from 2026-11-30T02:04:00Z; asked for 512');
    expect(outcome.lines).toContain(`instance ${MINERS[0]}: RunInstances from 2026-11-30T02:10:00Z; c5.4xlarge ami-miner; now running`);
    expect(outcome.lines.filter((l) => l.startsWith('instance '))).toHaveLength(10);
    expect(outcome.lines.some((l) => l.includes('DescribeInstances'))).toBe(false);
    // The rogue instances that still exist, and the responses for the key and the key it created.
    expect(outcome.rogueInstances).toEqual(MINERS.slice(0, 9));
    expect(outcome.pivots).toEqual([
      { kind: 'accessKey', value: KEY },
      { kind: 'accessKey', value: 'AKIABACKDOOR00000001' },
    ]);
    // All pages, by the key alone (a user name also matches role sessions of that name), paced at CloudTrail's 2 lookups per second.
    const lookups = trail.commandCalls(LookupEventsCommand).map((c) => c.args[0].input.LookupAttributes![0]);
    expect(lookups).toEqual([
      { AttributeKey: 'AccessKeyId', AttributeValue: KEY },
      { AttributeKey: 'AccessKeyId', AttributeValue: KEY },
    ]);
    expect(sleeps).toHaveLength(1);
    for (const ms of sleeps) expect(ms).toBeGreaterThan(400);
  });

  it('stops at the event limit and says the list is partial', async () => {
    arrange();
    const ctx = actionContext({ file: { blastRadius: { maxEvents: 50 } } });
    trail.on(LookupEventsCommand).resolves({ Events: Array.from({ length: 50 }, () => event('CreateTags', 'ec2.amazonaws.com', '2026-11-30T03:00:00Z', { req: {} })), NextToken: 'more' });
    const outcome = await blastRadiusAction.execute(await blastRadiusAction.plan([KEY], ctx), ctx);
    expect(outcome.lines[0]).toContain('(partial: the event limit was reached)');
  });
});

describe('the blast radius in the thread', () => {
  it('offers the rogue-instance, eradication and key responses, or the commands when it has no card', async () => {
    const { renderRequestStatus } = await import('../src/views/request-status');
    arrange();
    const ctx = actionContext();
    const outcome = await blastRadiusAction.execute(await blastRadiusAction.plan([KEY], ctx), ctx);
    const base = { id: 'blast-radius-AKIAIOSFODNN7EXAMPLE-1', action: 'blast-radius' as const, target: KEY, targets: [KEY], channel: 'C02CRIT', requestedBy: 'U01ANA', createdAt: 0, state: 'done' as const, version: 2, renderedVersion: 1, needsApproval: false, rev: 1, result: outcome };
    const withCard = renderRequestStatus({ ...base, findingKey: 'a'.repeat(24) });
    const buttons = withCard.blocks.flatMap((b: any) => (b.type === 'actions' ? b.elements : [])).map((e: any) => `${e.action_id} ${e.text.text}`);
    expect(buttons).toEqual([
      'ir_bulk_snapshot Snapshot all 9',
      'ir_bulk_memory Capture memory all 9',
      'ir_bulk_stop Stop all 9',
      'ir_delete_keys Delete keys it created',
      'ir_revoke_rules Revoke rules it added',
      `ir_pivot_0 Disable key ${KEY}`,
      'ir_pivot_1 Disable key AKIABACKDOOR00000001',
    ]);
    for (const b of withCard.blocks as any[]) for (const e of b.elements ?? []) if (e.value) expect(e.value.length).toBeLessThanOrEqual(2000);
    const bare = JSON.stringify(renderRequestStatus(base).blocks);
    expect(bare).toContain(`/ir snapshot ${MINERS.slice(0, 9).join(' ')}`);
    expect(bare).toContain(`/ir delete-keys ${KEY}`);
    expect(bare).not.toContain('ir_bulk_snapshot');
  });
});

describe('the blast radius of a role session', () => {
  it('offers to revoke the role\'s sessions and deny it everything', async () => {
    const { renderRequestStatus } = await import('../src/views/request-status');
    const target = 'arn:aws:sts::111122223333:assumed-role/web-app-role/i-0a1b2c3d4e5f60718';
    const view = renderRequestStatus({ id: 'blast-radius-x-1', action: 'blast-radius', target, targets: [target], findingKey: 'b'.repeat(24), channel: 'C02CRIT', requestedBy: 'U01ANA', createdAt: 0, state: 'done', version: 2, renderedVersion: 1, needsApproval: false, rev: 1, result: { ok: true, lines: ['x: 0 write(s)'], notes: [] } });
    const buttons = view.blocks.flatMap((b: any) => (b.type === 'actions' ? b.elements : []));
    expect(buttons.map((e: any) => [e.action_id, JSON.parse(e.value).r])).toEqual([
      ['ir_revoke_sessions', 'arn:aws:iam::111122223333:role/web-app-role'],
      ['ir_deny_principal', 'arn:aws:iam::111122223333:role/web-app-role'],
    ]);
  });
});

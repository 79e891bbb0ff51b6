import { CloudTrailClient, LookupEventsCommand, type Event } from '@aws-sdk/client-cloudtrail';
import { DescribeSecurityGroupsCommand, EC2Client, RevokeSecurityGroupIngressCommand, type IpPermission } from '@aws-sdk/client-ec2';
import { DeleteAccessKeyCommand, GetAccessKeyLastUsedCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { deleteKeysAction, revokeRulesAction } from '../src/actions/eradicate';
import { actionContext } from './support/mock-action-context';

const trail = mockClient(CloudTrailClient);
const ec2 = mockClient(EC2Client);
const iam = mockClient(IAMClient);

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const BACKDOOR = 'AKIABACKDOOR00000001';
const LEGIT = 'AKIALEGITIMATE000001';
const ATTRIBUTION = `attribution: only calls CloudTrail attributes to access key ${KEY} (userIdentity.accessKeyId), not everything user ci-deployer did: ask for the user's ARN to widen`;

function event(name: string, source: string, at: string, req: unknown, res: unknown = null, error?: string): Event {
  return {
    EventId: `${name}-${at}`,
    EventName: name,
    ReadOnly: 'false',
    CloudTrailEvent: JSON.stringify({ eventName: name, eventSource: source, eventTime: at, errorCode: error, userIdentity: { accessKeyId: KEY }, requestParameters: req, responseElements: res }),
  };
}

const EVENTS = [
  event('CreateAccessKey', 'iam.amazonaws.com', '2026-11-30T02:03:10Z', { userName: 'backup-svc' }, { accessKey: { accessKeyId: BACKDOOR, userName: 'backup-svc', status: 'Active' } }),
  event('CreateAccessKey', 'iam.amazonaws.com', '2026-11-30T02:03:20Z', { userName: 'admin' }, null, 'AccessDenied'),
  event('AuthorizeSecurityGroupIngress', 'ec2.amazonaws.com', '2026-11-30T02:01:30Z', {
    groupId: 'sg-0web',
    ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }, { cidrIp: '198.51.100.0/24' }] } }] },
  }),
];

let groupRules: IpPermission[];
let keys: Map<string, string>;

beforeEach(() => {
  trail.reset();
  ec2.reset();
  iam.reset();
  trail.on(LookupEventsCommand).resolves({ Events: EVENTS });
  iam.on(GetAccessKeyLastUsedCommand).resolves({ UserName: 'ci-deployer' });
  keys = new Map([[BACKDOOR, 'Active'], [LEGIT, 'Active']]);
  iam.on(ListAccessKeysCommand).callsFake(async () => ({ AccessKeyMetadata: [...keys].map(([AccessKeyId, Status]) => ({ AccessKeyId, Status })) }));
  iam.on(DeleteAccessKeyCommand).callsFake(async (i) => (keys.delete(i.AccessKeyId), {}));
  // Port 443 from anywhere was there before; the 198.51.100.0/24 source was already removed by hand.
  groupRules = [
    { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
    { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
  ];
  ec2.on(DescribeSecurityGroupsCommand).callsFake(async () => ({ SecurityGroups: [{ GroupId: 'sg-0web', IpPermissions: groupRules, IpPermissionsEgress: [] }] }));
  ec2.on(RevokeSecurityGroupIngressCommand).callsFake(async (i) => {
    const w = i.IpPermissions[0];
    const before = groupRules.length;
    groupRules = groupRules.filter((p) => !(p.FromPort === w.FromPort && p.IpRanges?.[0]?.CidrIp === w.IpRanges?.[0]?.CidrIp));
    if (groupRules.length === before) throw Object.assign(new Error('The specified rule does not exist in this security group.'), { name: 'InvalidPermission.NotFound' });
    return { Return: true };
  });
});

describe('eradicating what the principal added', () => {
  it('deletes only the access key it created, and verifies IAM no longer lists it', async () => {
    const ctx = actionContext();
    const plan = await deleteKeysAction.plan([KEY], ctx);
    expect(plan.summary).toEqual([`delete ${BACKDOOR} of user backup-svc (Active, created by ${KEY} at 2026-11-30T02:03:10Z)`, ATTRIBUTION]);
    const outcome = await deleteKeysAction.execute(plan, ctx);
    expect(outcome).toMatchObject({ ok: true, lines: [`${BACKDOOR} of user backup-svc: deleted ✓`] });
    expect(iam.commandCalls(DeleteAccessKeyCommand).map((c) => c.args[0].input)).toEqual([{ UserName: 'backup-svc', AccessKeyId: BACKDOOR }]);
    expect(keys.has(LEGIT)).toBe(true);
    // Asked again, there is nothing left to delete.
    expect((await deleteKeysAction.plan([KEY], ctx)).blocked).toBe(`Every access key ${KEY} created is already deleted: ${BACKDOOR} (user backup-svc)`);
  });

  it('revokes exactly the rule it authorised that is still there, from CloudTrail\'s request parameters, and leaves the others', async () => {
    const ctx = actionContext();
    const plan = await revokeRulesAction.plan([KEY], ctx);
    expect(plan.summary).toEqual([`revoke sg-0web inbound tcp 22 0.0.0.0/0 (added by ${KEY} at 2026-11-30T02:01:30Z)`, 'sg-0web inbound tcp 22 198.51.100.0/24: already gone', ATTRIBUTION]);
    const outcome = await revokeRulesAction.execute(plan, ctx);
    expect(outcome).toMatchObject({ ok: true, lines: ['sg-0web inbound tcp 22 0.0.0.0/0: revoked ✓'] });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((c) => c.args[0].input)).toEqual([
      { GroupId: 'sg-0web', IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] },
    ]);
    expect(groupRules).toEqual([{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }]);
    // A re-run after the rule went (a retry after a crash) is not an error.
    const again = await revokeRulesAction.execute(plan, ctx);
    expect(again.ok).toBe(true);
  });

  it('does not call "none found" an all-clear when the history was cut at the event limit', async () => {
    trail.on(LookupEventsCommand).resolves({ Events: Array.from({ length: 50 }, () => EVENTS[2]), NextToken: 'more' });
    const ctx = actionContext({ file: { blastRadius: { maxEvents: 50 } } });
    expect((await deleteKeysAction.plan([KEY], ctx)).blocked).toBe(
      `${KEY} created no access key in CloudTrail's 90-day history as far as it was read: the event limit (blastRadius.maxEvents) was reached, so older events were not`,
    );
  });
});

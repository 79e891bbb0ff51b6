import { blastRadiusAction } from '../../src/actions/blast-radius';
import { deleteKeysAction, revokeRulesAction } from '../../src/actions/eradicate';
import { globalEventRegion } from '../../src/aws/identifiers';
import { Responder } from '../../src/aws/responder';
import { testClients } from '../support/action-context';
import { FakeAws, type FakeTrailEvent } from '../support/fake-aws';
import { actionContext } from '../support/mock-action-context';

/**
 * Eradication acts on what the attacker's own credentials did, found in CloudTrail records shaped
 * as AWS writes them. The look-alike is a CI role session named `alice` (session names are the
 * caller's choice); the attacker's persistence key was created in IAM, whose events CloudTrail
 * keeps in us-east-1 only, while the finding is in eu-west-1.
 */

const ACCOUNT = '111122223333';
const ALICE_KEY = 'AKIAALICESTOLEN00001';
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const SESSION_KEY = 'ASIACIDEPLOYER000001';
const CI_ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-deployer`;
const LOOK_ALIKE = `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/alice`;
const BACKDOOR = 'AKIABACKDOOR00000001';
const DEPLOY_KEY = 'AKIADEPLOYBOTKEY0001';

const aliceIdentity = { type: 'IAMUser', principalId: 'AIDAALICE0000000000001', arn: ALICE, accountId: ACCOUNT, accessKeyId: ALICE_KEY, userName: 'alice' };
const lookAlikeIdentity = {
  type: 'AssumedRole',
  principalId: 'AROACIDEPLOYER00000001:alice',
  arn: LOOK_ALIKE,
  accountId: ACCOUNT,
  accessKeyId: SESSION_KEY,
  sessionContext: {
    sessionIssuer: { type: 'Role', principalId: 'AROACIDEPLOYER00000001', arn: CI_ROLE, accountId: ACCOUNT, userName: 'ci-deployer' },
    webIdFederationData: {},
    attributes: { creationDate: '2026-11-30T01:00:00Z', mfaAuthenticated: 'false' },
  },
};

let seq = 0;
function record(region: string, eventSource: string, eventName: string, eventTime: string, userIdentity: typeof aliceIdentity | typeof lookAlikeIdentity, requestParameters: unknown, responseElements: unknown = null): FakeTrailEvent {
  const eventID = `0b6a${String(++seq).padStart(4, '0')}-7b2e-4c1d-9f3a-5e8d2c1b0a99`;
  return {
    name: eventName,
    time: eventTime,
    region,
    resources: [],
    accessKeyId: userIdentity.accessKeyId,
    detail: {
      eventVersion: '1.09',
      userIdentity,
      eventTime,
      eventSource,
      eventName,
      awsRegion: region,
      sourceIPAddress: '203.0.113.7',
      userAgent: 'aws-cli/2.15.0',
      requestParameters,
      responseElements,
      requestID: `req-${seq}`,
      eventID,
      readOnly: false,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: ACCOUNT,
      eventCategory: 'Management',
    },
  };
}

const createKey = (by: typeof aliceIdentity | typeof lookAlikeIdentity, userName: string, keyId: string, at: string) =>
  record('us-east-1', 'iam.amazonaws.com', 'CreateAccessKey', at, by, { userName }, { accessKey: { userName, accessKeyId: keyId, status: 'Active', createDate: 'Nov 30, 2026 2:03:10 AM' } });
const authorize = (by: typeof aliceIdentity | typeof lookAlikeIdentity, at: string, requestParameters: unknown) =>
  record('eu-west-1', 'ec2.amazonaws.com', 'AuthorizeSecurityGroupIngress', at, by, requestParameters, { requestId: `r-${at}`, _return: true });
const tcpFrom = (port: number, cidrIp: string, ipProtocol = 'tcp') => ({ ipPermissions: { items: [{ ipProtocol, fromPort: port, toPort: port, ipRanges: { items: [{ cidrIp }] } }] } });

let aws: FakeAws;

function account(): FakeAws {
  const a = new FakeAws();
  a.account = ACCOUNT;
  a.users.set('alice', { keys: [{ id: ALICE_KEY, status: 'Active' }], policies: new Map() });
  a.users.set('backup-svc', { keys: [{ id: BACKDOOR, status: 'Active' }], policies: new Map() });
  a.users.set('deploy-bot', { keys: [{ id: DEPLOY_KEY, status: 'Active' }], policies: new Map() });
  a.groups.set('sg-0web', { id: 'sg-0web', name: 'web', vpcId: a.defaultVpcId, ingress: [], egress: [] });
  a.groups.set('sg-0jump', { id: 'sg-0jump', name: 'ops-jump', vpcId: a.defaultVpcId, ingress: [], egress: [] });
  a.groups.set('sg-0app', { id: 'sg-0app', name: 'app', vpcId: 'vpc-0app', ingress: [], egress: [] });
  a.groups.get('sg-0web')!.ingress = [
    { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
    { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
  ];
  a.trail.push(
    // The attacker's persistence key: an IAM event, so stored in us-east-1 only.
    createKey(aliceIdentity, 'backup-svc', BACKDOOR, '2026-11-30T02:03:10Z'),
    // The CI pipeline's own session, which its caller chose to name "alice".
    createKey(lookAlikeIdentity, 'deploy-bot', DEPLOY_KEY, '2026-11-30T02:04:00Z'),
    authorize(aliceIdentity, '2026-11-30T02:01:30Z', { groupId: 'sg-0web', ...tcpFrom(22, '0.0.0.0/0') }),
    authorize(lookAlikeIdentity, '2026-11-30T02:05:00Z', { groupId: 'sg-0web', ...tcpFrom(443, '10.0.0.0/8') }),
  );
  return a;
}

/** A request acting where the finding is. */
function inRegion(region: string) {
  return actionContext({ aws: new Responder(testClients(region), ACCOUNT, region, async () => undefined) });
}

beforeEach(() => {
  seq = 0;
  aws = account();
});
afterEach(() => aws.restore());

describe('eradication attributes CloudTrail events by userIdentity, never by user name', () => {
  it('a stolen key: deletes the key it created, not the key a role session named "alice" created', async () => {
    const ctx = inRegion('us-east-1');
    const plan = await deleteKeysAction.plan([ALICE_KEY], ctx);
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary.filter((l) => l.startsWith('delete '))).toEqual([`delete ${BACKDOOR} of user backup-svc (Active, created by ${ALICE_KEY} at 2026-11-30T02:03:10Z)`]);
    expect(plan.summary.join('\n')).not.toContain(DEPLOY_KEY);
    expect(plan.summary).toContain(`attribution: only calls CloudTrail attributes to access key ${ALICE_KEY} (userIdentity.accessKeyId), not everything user alice did: ask for the user's ARN to widen`);
    const outcome = await deleteKeysAction.execute(plan, ctx);
    expect(outcome.ok).toBe(true);
    expect(aws.users.get('deploy-bot')!.keys.map((k) => k.id)).toEqual([DEPLOY_KEY]);
    expect(aws.users.get('backup-svc')!.keys).toEqual([]);
  });

  it('a stolen key: revokes the rule it opened, not the rule the look-alike session added', async () => {
    const ctx = inRegion('eu-west-1');
    const plan = await revokeRulesAction.plan([ALICE_KEY], ctx);
    expect(plan.summary.filter((l) => l.startsWith('revoke '))).toEqual([`revoke sg-0web inbound tcp 22 0.0.0.0/0 (added by ${ALICE_KEY} at 2026-11-30T02:01:30Z)`]);
    expect(plan.summary.join('\n')).not.toContain('443');
    await revokeRulesAction.execute(plan, ctx);
    expect(aws.groups.get('sg-0web')!.ingress).toEqual([{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }]);
  });

  it('the user, widened on purpose: says so, and still leaves out role sessions that share its name', async () => {
    const ctx = inRegion('us-east-1');
    const plan = await deleteKeysAction.plan([ALICE], ctx);
    expect(plan.summary.filter((l) => l.startsWith('delete '))).toEqual([`delete ${BACKDOOR} of user backup-svc (Active, created by ${ALICE} at 2026-11-30T02:03:10Z)`]);
    expect(plan.summary.find((l) => l.startsWith('attribution: '))).toContain('everything user alice did with any of its credentials');
    expect(plan.summary.find((l) => l.startsWith('attribution: '))).toContain('widened on purpose');
  });

  it('a role: every session of the role, by its session issuer, and none of the user\'s', async () => {
    const ctx = inRegion('us-east-1');
    const plan = await deleteKeysAction.plan([CI_ROLE], ctx);
    expect(plan.summary.filter((l) => l.startsWith('delete '))).toEqual([`delete ${DEPLOY_KEY} of user deploy-bot (Active, created by ${CI_ROLE} at 2026-11-30T02:04:00Z)`]);
  });
});

describe('IAM events are read from us-east-1, where CloudTrail keeps them', () => {
  it('a finding in eu-west-1 still finds the persistence key its stolen key created', async () => {
    const ctx = inRegion('eu-west-1');
    const plan = await deleteKeysAction.plan([ALICE_KEY], ctx);
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary.filter((l) => l.startsWith('delete '))).toEqual([`delete ${BACKDOOR} of user backup-svc (Active, created by ${ALICE_KEY} at 2026-11-30T02:03:10Z)`]);
    // Looked up by the key alone, in both regions: never by the user name "alice".
    expect(aws.calls.filter((c) => c.api === 'LookupEvents').map((c) => c.input.LookupAttributes[0])).toEqual([
      { AttributeKey: 'AccessKeyId', AttributeValue: ALICE_KEY },
      { AttributeKey: 'AccessKeyId', AttributeValue: ALICE_KEY },
    ]);
  });

  it('the blast radius in eu-west-1 lists the IAM writes, and says where it read them', async () => {
    const ctx = inRegion('eu-west-1');
    const plan = await blastRadiusAction.plan([ALICE_KEY], ctx);
    expect(plan.summary[0]).toContain('in eu-west-1, and IAM/STS/sign-in events in us-east-1');
    const outcome = await blastRadiusAction.execute(plan, ctx);
    expect(outcome.lines[0]).toBe(`${ALICE_KEY} (key of user alice): 2 write(s) in 90 days, touching 2 resource(s)`);
    expect(outcome.lines).toContain(`access key ${BACKDOOR}: CreateAccessKey from 2026-11-30T02:03:10Z; of user backup-svc`);
    expect(outcome.pivots).toContainEqual({ kind: 'accessKey', value: BACKDOOR });
  });

  it("reads the partition's own global-event region in GovCloud and China", () => {
    expect(['eu-west-1', 'ap-southeast-2', 'us-east-1', 'us-gov-east-1', 'cn-northwest-1'].map(globalEventRegion)).toEqual(['us-east-1', 'us-east-1', 'us-east-1', 'us-gov-west-1', 'cn-north-1']);
  });

  it('when us-east-1 cannot be read, the IAM part is unknown: never "created no access key"', async () => {
    aws.trailDenied.add('us-east-1');
    const ctx = inRegion('eu-west-1');
    const plan = await deleteKeysAction.plan([ALICE_KEY], ctx);
    expect(plan.blocked).toMatch(new RegExp(`^Which access keys ${ALICE_KEY} created is unknown\\. IAM, STS and sign-in events could not be read from us-east-1`));
    expect(plan.blocked).not.toContain('created no access key');
    const radius = await blastRadiusAction.execute(await blastRadiusAction.plan([ALICE_KEY], ctx), ctx);
    expect(radius.lines[0]).toContain('(IAM part unknown)');
    expect(radius.lines[1]).toMatch(/^IAM, STS and sign-in events could not be read from us-east-1.*what this principal did in IAM is unknown$/);
  });
});

describe('revoke-rules compares rules the way EC2 stores them', () => {
  beforeEach(() => {
    const web = aws.groups.get('sg-0web')!;
    web.ingress.push({ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: 'sg-0jump', UserId: ACCOUNT }] });
    aws.groups.get('sg-0app')!.ingress = [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }];
    aws.trail = [
      // Group by name (default VPC), as the console's older flows and many scripts send it.
      authorize(aliceIdentity, '2026-11-30T02:01:30Z', { groupName: 'web', ...tcpFrom(22, '0.0.0.0/0') }),
      // Protocol as a number: EC2 lists the rule as tcp.
      authorize(aliceIdentity, '2026-11-30T02:02:00Z', { groupId: 'sg-0app', ...tcpFrom(8080, '0.0.0.0/0', '6') }),
      // Source group by name.
      authorize(aliceIdentity, '2026-11-30T02:02:30Z', { groupId: 'sg-0web', ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 5432, toPort: 5432, groups: { items: [{ groupName: 'ops-jump' }] } }] } }),
    ];
  });

  it('finds and revokes rules added by group name, by protocol number and from a source group named by name', async () => {
    const ctx = inRegion('eu-west-1');
    const plan = await revokeRulesAction.plan([ALICE_KEY], ctx);
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary.filter((l) => !l.startsWith('attribution: '))).toEqual([
      `revoke sg-0web inbound tcp 22 0.0.0.0/0 (added by ${ALICE_KEY} at 2026-11-30T02:01:30Z)`,
      `revoke sg-0app inbound tcp 8080 0.0.0.0/0 (added by ${ALICE_KEY} at 2026-11-30T02:02:00Z)`,
      `revoke sg-0web inbound tcp 5432 sg-0jump (added by ${ALICE_KEY} at 2026-11-30T02:02:30Z)`,
    ]);
    const outcome = await revokeRulesAction.execute(plan, ctx);
    expect(outcome.ok).toBe(true);
    expect(aws.groups.get('sg-0web')!.ingress).toEqual([{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }]);
    expect(aws.groups.get('sg-0app')!.ingress).toEqual([]);
  });

  it('reads the older flat form of the call (CidrIp, IpProtocol and ports as top-level parameters)', async () => {
    aws.groups.get('sg-0app')!.ingress.push({ IpProtocol: 'tcp', FromPort: 3389, ToPort: 3389, IpRanges: [{ CidrIp: '0.0.0.0/0' }] });
    aws.trail = [authorize(aliceIdentity, '2026-11-30T02:03:00Z', { groupId: 'sg-0app', ipProtocol: '6', fromPort: 3389, toPort: 3389, cidrIp: '0.0.0.0/0' })];
    const plan = await revokeRulesAction.plan([ALICE_KEY], inRegion('eu-west-1'));
    expect(plan.summary[0]).toBe(`revoke sg-0app inbound tcp 3389 0.0.0.0/0 (added by ${ALICE_KEY} at 2026-11-30T02:03:00Z)`);
  });

  it('never calls an open rule "already gone" when its group name no longer resolves', async () => {
    aws.groups.delete('sg-0jump');
    const ctx = inRegion('eu-west-1');
    const plan = await revokeRulesAction.plan([ALICE_KEY], ctx);
    expect(plan.summary).toContain('sg-0web inbound tcp 5432 named ops-jump: unknown: a group it names by name is not in the default VPC any more (or was renamed); check the rule by hand');
    expect(plan.summary.join('\n')).not.toMatch(/5432.*already gone/);
  });
});

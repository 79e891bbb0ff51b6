import { AthenaClient, GetTableMetadataCommand } from '@aws-sdk/client-athena';
import { CloudTrailClient, DescribeTrailsCommand, GetTrailStatusCommand } from '@aws-sdk/client-cloudtrail';
import { DescribeFlowLogsCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeApiDestinationCommand, EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { GetDetectorCommand, GuardDutyClient, ListDetectorsCommand } from '@aws-sdk/client-guardduty';
import { IAMClient, SimulatePrincipalPolicyCommand, type ContextEntry } from '@aws-sdk/client-iam';
import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { GetBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeHubCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient, type AwsStub } from 'aws-sdk-client-mock';
import { actions, resources, type Policy, type Statement } from './iam-policy';

/**
 * One AWS account as the doctor reads it: what is switched on, which VPCs and instances exist,
 * and the identity policy of the principal it simulates. Answers the way AWS does: Security Hub
 * off is InvalidAccessException, a missing Athena table MetadataException, a role that cannot be
 * assumed AccessDenied, and SimulatePrincipalPolicy evaluates the real policy document (actions,
 * resources and the conditions the shipped policy uses) against the request's context.
 */
export interface FakeAccount {
  id: string;
  callerArn: string;
  policy: Policy;
  guardDuty: 'ENABLED' | 'DISABLED' | 'none';
  securityHub: boolean;
  rules: { name: string; pattern: string; apiDestination?: { name: string; endpoint: string } }[];
  trails: { name: string; multiRegion: boolean; logging: boolean }[];
  athenaTables: string[];
  instances: { id: string; vpc: string; state: string; ssmOnline: boolean }[];
  flowLogsOn: string[];
  buckets: Record<string, 'Enabled' | 'Suspended' | undefined>;
  /** Roles other accounts' sessions may assume; any other AssumeRole is refused. */
  assumable: string[];
}

const glob = (pattern: string, value: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);

function conditionHolds(condition: Statement['Condition'], context: Map<string, string[]>): boolean {
  for (const [op, tests] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(tests)) {
      const want = [expected].flat().map(String);
      const have = context.get(key);
      if (op === 'Null') {
        if ((have === undefined) !== (want[0] === 'true')) return false;
      } else if (op === 'StringEquals') {
        if (!have?.some((v) => want.includes(v))) return false;
      } else if (op === 'StringLike' || op === 'ArnLike') {
        if (!have?.some((v) => want.some((w) => glob(w, v)))) return false;
      } else if (op === 'ForAllValues:StringLike') {
        if (have && !have.every((v) => want.some((w) => glob(w, v)))) return false;
      } else {
        throw new Error(`fake IAM: condition operator ${op} not modelled`);
      }
    }
  }
  return true;
}

/** IAM's decision for one action on one resource: explicit deny wins, then any allow. */
export function evaluate(policy: Policy, action: string, resource: string, entries: ContextEntry[] = []): 'allowed' | 'explicitDeny' | 'implicitDeny' {
  const context = new Map(entries.map((e) => [e.ContextKeyName!, e.ContextKeyValues ?? []]));
  const matches = (s: Statement) =>
    actions(s).some((a) => glob(a, action)) && resources(s).some((r) => r === '*' || (resource !== '*' && glob(r, resource))) && conditionHolds(s.Condition, context);
  if (policy.Statement.some((s) => s.Effect === 'Deny' && matches(s))) return 'explicitDeny';
  return policy.Statement.some((s) => s.Effect === 'Allow' && matches(s)) ? 'allowed' : 'implicitDeny';
}

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });

export interface FakeAccountMocks {
  restore(): void;
  sim: AwsStub<any, any, any>;
}

/**
 * Mocks every client the doctor uses; `accounts[0]` is the bot's own. Calls made with a responder
 * role's credentials cannot be told apart by the mock, so they answer as `accounts[0]`: tests with
 * several accounts use the others only for the role check.
 */
export function mockAccounts(accounts: FakeAccount[]): FakeAccountMocks {
  const a = accounts[0];
  const sts = mockClient(STSClient);
  sts.on(GetCallerIdentityCommand).resolves({ Account: a.id, Arn: a.callerArn });
  sts.on(AssumeRoleCommand).callsFake(async (input: { RoleArn: string }) => {
    const owner = accounts.find((x) => x.assumable.includes(input.RoleArn));
    if (!owner) throw awsError('AccessDenied', `User: ${a.callerArn} is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`);
    return { Credentials: { AccessKeyId: 'ASIAFAKE', SecretAccessKey: 'fake', SessionToken: 'fake', Expiration: new Date(Date.now() + 3600_000) } };
  });
  const iam = mockClient(IAMClient);
  const sim = iam.on(SimulatePrincipalPolicyCommand).callsFake(async (input: { ActionNames: string[]; ResourceArns?: string[]; ContextEntries?: ContextEntry[] }) => ({
    EvaluationResults: input.ActionNames.map((action) => ({ EvalActionName: action, EvalResourceName: input.ResourceArns?.[0] ?? '*', EvalDecision: evaluate(a.policy, action, input.ResourceArns?.[0] ?? '*', input.ContextEntries) })),
  }));
  const gd = mockClient(GuardDutyClient);
  gd.on(ListDetectorsCommand).callsFake(async () => ({ DetectorIds: a.guardDuty === 'none' ? [] : ['d0123456789abcdef'] }));
  gd.on(GetDetectorCommand).callsFake(async () => ({ Status: a.guardDuty }));
  const hub = mockClient(SecurityHubClient);
  hub.on(DescribeHubCommand).callsFake(async () => {
    if (!a.securityHub) throw awsError('InvalidAccessException', `Account ${a.id} is not subscribed to AWS Security Hub`);
    return { HubArn: `arn:aws:securityhub:us-east-1:${a.id}:hub/default`, SubscribedAt: '2026-01-02T00:00:00.000Z' };
  });
  const events = mockClient(EventBridgeClient);
  events.on(ListRulesCommand).callsFake(async () => ({ Rules: a.rules.map((r) => ({ Name: r.name, State: 'ENABLED', EventPattern: r.pattern, EventBusName: 'default' })) }));
  events.on(ListTargetsByRuleCommand).callsFake(async (input: { Rule: string }) => {
    const r = a.rules.find((x) => x.name === input.Rule);
    return { Targets: r?.apiDestination ? [{ Id: '1', Arn: `arn:aws:events:us-east-1:${a.id}:api-destination/${r.apiDestination.name}/abcd` }] : [] };
  });
  events.on(DescribeApiDestinationCommand).callsFake(async (input: { Name: string }) => {
    const d = a.rules.map((r) => r.apiDestination).find((x) => x?.name === input.Name);
    if (!d) throw awsError('ResourceNotFoundException', `Failed to describe the api-destination(s). An api-destination '${input.Name}' does not exist.`);
    return { Name: d.name, InvocationEndpoint: d.endpoint, HttpMethod: 'POST' };
  });
  const ct = mockClient(CloudTrailClient);
  ct.on(DescribeTrailsCommand).callsFake(async () => ({ trailList: a.trails.map((t) => ({ Name: t.name, TrailARN: `arn:aws:cloudtrail:us-east-1:${a.id}:trail/${t.name}`, IsMultiRegionTrail: t.multiRegion, HomeRegion: 'us-east-1' })) }));
  ct.on(GetTrailStatusCommand).callsFake(async (input: { Name: string }) => ({ IsLogging: a.trails.find((t) => input.Name.endsWith(`/${t.name}`) || input.Name === t.name)?.logging ?? false }));
  const athena = mockClient(AthenaClient);
  athena.on(GetTableMetadataCommand).callsFake(async (input: { DatabaseName: string; TableName: string }) => {
    if (!a.athenaTables.includes(input.TableName)) throw awsError('MetadataException', `Table ${input.TableName} not found in database ${input.DatabaseName}`);
    return { TableMetadata: { Name: input.TableName } };
  });
  const ec2 = mockClient(EC2Client);
  ec2.on(DescribeInstancesCommand).callsFake(async () => ({ Reservations: [{ Instances: a.instances.map((i) => ({ InstanceId: i.id, VpcId: i.vpc, State: { Name: i.state } })) }] }));
  ec2.on(DescribeFlowLogsCommand).callsFake(async (input: { Filter?: { Name: string; Values: string[] }[] }) => {
    const wanted = input.Filter?.find((f) => f.Name === 'resource-id')?.Values ?? [];
    return { FlowLogs: a.flowLogsOn.filter((v) => wanted.includes(v)).map((v, n) => ({ FlowLogId: `fl-${n}`, ResourceId: v, FlowLogStatus: 'ACTIVE' })) };
  });
  const ssm = mockClient(SSMClient);
  ssm.on(DescribeInstanceInformationCommand).callsFake(async () => ({ InstanceInformationList: a.instances.filter((i) => i.ssmOnline).map((i) => ({ InstanceId: i.id, PingStatus: 'Online' })) }));
  const s3 = mockClient(S3Client);
  s3.on(GetBucketVersioningCommand).callsFake(async (input: { Bucket: string }) => {
    if (!(input.Bucket in a.buckets)) throw awsError('NoSuchBucket', 'The specified bucket does not exist');
    return a.buckets[input.Bucket] ? { Status: a.buckets[input.Bucket] } : {};
  });
  const org = mockClient(OrganizationsClient);
  org.on(ListAccountsCommand).resolves({ Accounts: accounts.map((x) => ({ Id: x.id, Status: 'ACTIVE' })) });
  const all = [sts, iam, gd, hub, events, ct, athena, ec2, ssm, s3, org];
  return { restore: () => all.forEach((m) => m.restore()), sim };
}

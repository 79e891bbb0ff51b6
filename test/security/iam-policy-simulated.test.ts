import { runSimulation } from '@cloud-copilot/iam-simulate';
import { actionsCalledByCode, shippedPolicy } from '../support/iam-policy';

/**
 * The shipped policy judged by an IAM policy evaluator (@cloud-copilot/iam-simulate, which
 * implements IAM's evaluation logic: Allow/Deny, resource matching, every condition operator)
 * rather than by reading statements. Each AWS action the code calls is authorised the way AWS
 * authorises the call the code makes, against the customer's resources in a member account: what
 * the code does must be allowed, and the escalations the policy exists to prevent must not be.
 */

const ACCOUNT = '444455556666';
const R = 'eu-west-1';
const PRINCIPAL = `arn:aws:sts::${ACCOUNT}:assumed-role/ir-responder/ir-bot-isolate-i-0c1d2e3f4a5b6c7d8-1`;
const ec2 = (type: string, id: string) => `arn:aws:ec2:${R}:${ACCOUNT}:${type}/${id}`;
const iam = (type: string, name: string) => `arn:aws:iam::${ACCOUNT}:${type}/${name}`;

const INSTANCE = ec2('instance', 'i-0c1d2e3f4a5b6c7d8');
const CUSTOMER_GROUP = ec2('security-group', 'sg-0c0ffee0c0ffee000');
const QUARANTINE_GROUP = ec2('security-group', 'sg-0a11ce0a11ce0a110');
// Snapshot ARNs carry no account.
const snapshot = (id: string) => `arn:aws:ec2:${R}::snapshot/${id}`;
const NEW_SNAPSHOT = snapshot('snap-0e1d2c3b4a5968778');
const DENY_ALL = iam('policy', 'ir-bot-deny-all');
const WEB_ROLE = iam('role', 'web-app-role');
const ALICE = iam('user', 'alice');
// Our document, created by deploy/ in each member account. The evaluator's ARN format for a document
// needs an account, so AWS's own documents are asked for as the member account resolves them by name;
// test/iam-policy.test.ts checks that no statement names any other document at all.
const document = (name: string) => `arn:aws:ssm:${R}:${ACCOUNT}:document/${name}`;
const CAPTURE_DOCUMENT = document('ir-bot-memory-capture');
// memory.tools and memory.evidenceBucket as iam/ir-bot-policy.json names them (deploy/ fills in the real ones).
const TOOL = 'arn:aws:s3:::example-ir-tools/avml';
const IMAGE = 'arn:aws:s3:::example-ir-evidence/memory/case-1/i-0c1d2e3f4a5b6c7d8/memory-i-0c1d2e3f4a5b6c7d8-1.lime';

type Context = Record<string, string | string[]>;
interface Call {
  resource: string;
  context?: Context;
  /** The resource's own policy, where AWS requires one to let IAM policies apply (KMS keys). */
  resourcePolicy?: Record<string, unknown>;
}

/** A key's default key policy: the account's IAM policies decide. */
const DEFAULT_KEY_POLICY = { Version: '2012-10-17', Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] };

const ours = { 'aws:ResourceTag/ir:managed-by': 'ir-bot' };
const tagged = { 'aws:RequestTag/ir:request': 'isolate-i-0c1d2e3f4a5b6c7d8-1', 'aws:TagKeys': ['ir:request', 'ir:case'] };
const denyAll = { 'iam:PolicyARN': DENY_ALL };

/**
 * Every call the code makes, as AWS authorises it: one entry per resource AWS checks. A new AWS
 * call in src/ fails the first test until it is described here.
 */
const CALLS: Record<string, Call[]> = {
  // /ir doctor's reads (src/doctor/checks.ts).
  'athena:GetTableMetadata': [{ resource: `arn:aws:athena:${R}:${ACCOUNT}:datacatalog/AwsDataCatalog` }],
  'cloudtrail:DescribeTrails': [{ resource: '*' }],
  'cloudtrail:GetTrailStatus': [{ resource: `arn:aws:cloudtrail:${R}:${ACCOUNT}:trail/management-events` }],
  'ec2:DescribeFlowLogs': [{ resource: '*' }],
  'events:DescribeApiDestination': [{ resource: `arn:aws:events:${R}:${ACCOUNT}:api-destination/ir-bot` }],
  'events:ListRules': [{ resource: '*' }],
  'events:ListTargetsByRule': [{ resource: `arn:aws:events:${R}:${ACCOUNT}:rule/ir-bot-guardduty` }],
  'guardduty:GetDetector': [{ resource: `arn:aws:guardduty:${R}:${ACCOUNT}:detector/d0123456789abcdef` }],
  'guardduty:ListDetectors': [{ resource: '*' }],
  'iam:SimulatePrincipalPolicy': [{ resource: iam('role', 'ir-responder') }],
  'organizations:ListAccounts': [{ resource: '*' }],
  // A policy rule's `ou` (src/aws/organizations.ts): the account's parent, then each OU's, up to the root.
  'organizations:ListParents': [{ resource: `arn:aws:organizations::111122223333:account/o-a1b2c3d4e5/${ACCOUNT}` }, { resource: 'arn:aws:organizations::111122223333:ou/o-a1b2c3d4e5/ou-ab12-cd34ef56' }],
  's3:GetBucketVersioning': [{ resource: 'arn:aws:s3:::example-ir-evidence' }],
  'securityhub:DescribeHub': [{ resource: `arn:aws:securityhub:${R}:${ACCOUNT}:hub/default` }],
  'athena:GetQueryExecution': [{ resource: `arn:aws:athena:${R}:${ACCOUNT}:workgroup/primary` }],
  'athena:GetQueryResults': [{ resource: `arn:aws:athena:${R}:${ACCOUNT}:workgroup/primary` }],
  'athena:StartQueryExecution': [{ resource: `arn:aws:athena:${R}:${ACCOUNT}:workgroup/primary` }],
  'athena:StopQueryExecution': [{ resource: `arn:aws:athena:${R}:${ACCOUNT}:workgroup/primary` }],
  'autoscaling:AttachInstances': [{ resource: `arn:aws:autoscaling:${R}:${ACCOUNT}:autoScalingGroup:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:autoScalingGroupName/web-asg` }],
  'autoscaling:DetachInstances': [{ resource: `arn:aws:autoscaling:${R}:${ACCOUNT}:autoScalingGroup:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:autoScalingGroupName/web-asg` }],
  'autoscaling:DescribeAutoScalingInstances': [{ resource: '*' }],
  'cloudtrail:LookupEvents': [{ resource: '*' }],
  'elasticloadbalancing:DeregisterTargets': [{ resource: `arn:aws:elasticloadbalancing:${R}:${ACCOUNT}:targetgroup/web/0123456789abcdef` }],
  'elasticloadbalancing:RegisterTargets': [{ resource: `arn:aws:elasticloadbalancing:${R}:${ACCOUNT}:targetgroup/web/0123456789abcdef` }],
  'elasticloadbalancing:DescribeTargetGroups': [{ resource: '*' }],
  'elasticloadbalancing:DescribeTargetHealth': [{ resource: '*' }],
  'ec2:AssociateAddress': [{ resource: ec2('elastic-ip', 'eipalloc-0c1d2e3f4a5b6c7d8') }, { resource: INSTANCE }],
  'ec2:AssociateIamInstanceProfile': [{ resource: INSTANCE, context: { 'ec2:InstanceProfile': iam('instance-profile', 'ir-isolation') } }],
  'ec2:AuthorizeSecurityGroupEgress': [{ resource: QUARANTINE_GROUP, context: ours }],
  'ec2:AuthorizeSecurityGroupIngress': [{ resource: QUARANTINE_GROUP, context: ours }],
  'ec2:CopySnapshot': [{ resource: NEW_SNAPSHOT, context: tagged }],
  'ec2:CreateSecurityGroup': [{ resource: ec2('vpc', 'vpc-0c1d2e3f4a5b6c7d8') }, { resource: QUARANTINE_GROUP, context: { 'aws:RequestTag/ir:managed-by': 'ir-bot', 'aws:TagKeys': ['ir:managed-by'] } }],
  'ec2:CreateSnapshot': [{ resource: ec2('volume', 'vol-0c1d2e3f4a5b6c7d8') }, { resource: NEW_SNAPSHOT, context: tagged }],
  'ec2:CreateSnapshots': [{ resource: INSTANCE }, { resource: ec2('volume', 'vol-0c1d2e3f4a5b6c7d8') }, { resource: NEW_SNAPSHOT, context: tagged }],
  'ec2:CreateTags': [{ resource: INSTANCE, context: { 'aws:TagKeys': ['ir:isolated-by', 'ir:case'] } }],
  'ec2:DescribeAddresses': [{ resource: '*' }],
  'ec2:DescribeIamInstanceProfileAssociations': [{ resource: '*' }],
  'ec2:DescribeImages': [{ resource: '*' }],
  'ec2:DescribeInstanceAttribute': [{ resource: '*' }],
  'ec2:DescribeInstanceTypes': [{ resource: '*' }],
  'ec2:DescribeInstances': [{ resource: '*' }],
  'ec2:DescribeKeyPairs': [{ resource: '*' }],
  'ec2:DescribeNetworkInterfaces': [{ resource: '*' }],
  'ec2:DescribeSecurityGroups': [{ resource: '*' }],
  'ec2:DescribeSnapshots': [{ resource: '*' }],
  'ec2:DescribeVolumes': [{ resource: '*' }],
  'ec2:DescribeVpcEndpoints': [{ resource: '*' }],
  'ec2:DisassociateAddress': [{ resource: ec2('elastic-ip', 'eipalloc-0c1d2e3f4a5b6c7d8') }],
  'ec2:DisassociateIamInstanceProfile': [{ resource: INSTANCE }],
  'ec2:ModifyInstanceAttribute': [{ resource: INSTANCE }],
  'ec2:ModifyNetworkInterfaceAttribute': [{ resource: ec2('network-interface', 'eni-0c1d2e3f4a5b6c7d8') }, { resource: CUSTOMER_GROUP }],
  'ec2:ModifySnapshotAttribute': [{ resource: NEW_SNAPSHOT, context: { 'aws:ResourceTag/ir:request': 'snapshot-i-0c1d2e3f4a5b6c7d8-1' } }],
  // revoke-rules: the customer's own group, untagged (issue 23, item 3).
  'ec2:RevokeSecurityGroupEgress': [{ resource: CUSTOMER_GROUP }, { resource: QUARANTINE_GROUP, context: ours }],
  'ec2:RevokeSecurityGroupIngress': [{ resource: CUSTOMER_GROUP }, { resource: QUARANTINE_GROUP, context: ours }],
  'ec2:StopInstances': [{ resource: INSTANCE }],
  'ec2:TerminateInstances': [{ resource: INSTANCE }],
  'iam:AttachRolePolicy': [{ resource: WEB_ROLE, context: denyAll }],
  'iam:AttachUserPolicy': [{ resource: ALICE, context: denyAll }],
  'iam:DetachRolePolicy': [{ resource: WEB_ROLE, context: denyAll }],
  'iam:DetachUserPolicy': [{ resource: ALICE, context: denyAll }],
  'iam:DeleteAccessKey': [{ resource: iam('user', 'backup-svc') }],
  'iam:UpdateAccessKey': [{ resource: ALICE }],
  'iam:PutRolePolicy': [{ resource: WEB_ROLE }],
  'iam:DeleteRolePolicy': [{ resource: WEB_ROLE }],
  'iam:GetAccessKeyLastUsed': [{ resource: ALICE }],
  'iam:GetInstanceProfile': [{ resource: iam('instance-profile', 'web-app') }],
  'iam:GetPolicy': [{ resource: DENY_ALL }],
  'iam:GetPolicyVersion': [{ resource: DENY_ALL }],
  'iam:GetRole': [{ resource: WEB_ROLE }],
  'iam:GetRolePolicy': [{ resource: WEB_ROLE }],
  'iam:GetUser': [{ resource: ALICE }],
  'iam:GetUserPolicy': [{ resource: ALICE }],
  'iam:ListAccessKeys': [{ resource: ALICE }],
  'iam:ListAttachedRolePolicies': [{ resource: WEB_ROLE }],
  'iam:ListAttachedUserPolicies': [{ resource: ALICE }],
  'iam:PassRole': [{ resource: iam('role', 'ir-isolation'), context: { 'iam:PassedToService': 'ec2.amazonaws.com' } }],
  'kms:DescribeKey': [{ resource: `arn:aws:kms:${R}:${ACCOUNT}:key/0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f`, resourcePolicy: DEFAULT_KEY_POLICY }],
  'securityhub:BatchUpdateFindings': [{ resource: `arn:aws:securityhub:${R}:${ACCOUNT}:hub/default` }],
  'securityhub:GetFindings': [{ resource: `arn:aws:securityhub:${R}:${ACCOUNT}:hub/default` }],
  'ssm:DescribeInstanceInformation': [{ resource: '*' }],
  'ssm:GetCommandInvocation': [{ resource: '*' }],
  'ssm:ListCommands': [{ resource: '*' }],
  // SendCommand is authorised on the instance and, separately, on the document it runs: ours.
  'ssm:SendCommand': [{ resource: INSTANCE }, { resource: CAPTURE_DOCUMENT }],
  // The tool is read (a presigned GET); the image is written and then verified (HeadObject is s3:GetObject).
  's3:GetObject': [{ resource: TOOL }, { resource: IMAGE }],
  's3:PutObject': [{ resource: IMAGE }],
  's3:PutObjectTagging': [{ resource: IMAGE }],
  'sts:AssumeRole': [{ resource: iam('role', 'ir-responder') }],
  'sts:GetCallerIdentity': [{ resource: '*' }],
};

/** What the policy is there to prevent: each must be refused. */
const REFUSED: [string, string, Call][] = [
  ['adding a rule to a customer group', 'ec2:AuthorizeSecurityGroupIngress', { resource: CUSTOMER_GROUP }],
  ['attaching AdministratorAccess to a role', 'iam:AttachRolePolicy', { resource: WEB_ROLE, context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' } }],
  ['attaching a customer policy to a user', 'iam:AttachUserPolicy', { resource: ALICE, context: { 'iam:PolicyARN': iam('policy', 'PowerUsers') } }],
  ['writing an inline policy on a user', 'iam:PutUserPolicy', { resource: ALICE }],
  ['writing an inline policy on its own role', 'iam:PutRolePolicy', { resource: iam('role', 'ir-responder') }],
  ['denying its own role everything', 'iam:AttachRolePolicy', { resource: iam('role', 'ir-bot'), context: denyAll }],
  ['detaching a policy from a break-glass user', 'iam:DetachUserPolicy', { resource: iam('user', 'break-glass-admin'), context: denyAll }],
  ['creating an access key', 'iam:CreateAccessKey', { resource: ALICE }],
  ['passing a role other than the isolation role', 'iam:PassRole', { resource: WEB_ROLE, context: { 'iam:PassedToService': 'ec2.amazonaws.com' } }],
  ['attaching an instance profile other than ir-isolation', 'ec2:AssociateIamInstanceProfile', { resource: INSTANCE, context: { 'ec2:InstanceProfile': iam('instance-profile', 'admin') } }],
  ['sharing a snapshot it did not take', 'ec2:ModifySnapshotAttribute', { resource: snapshot('snap-0c0ffee0c0ffee000') }],
  // Issue 23 item 11: a shell on any instance, or root through the tool every capture runs.
  ['running AWS-RunShellScript on an instance', 'ssm:SendCommand', { resource: document('AWS-RunShellScript') }],
  ['running AWS-RunPowerShellScript on an instance', 'ssm:SendCommand', { resource: document('AWS-RunPowerShellScript') }],
  ['running a document of its own making', 'ssm:SendCommand', { resource: document('ir-bot-memory-capture-v2') }],
  ['replacing the capture tool', 's3:PutObject', { resource: TOOL }],
  ['tagging the capture tool', 's3:PutObjectTagging', { resource: TOOL }],
  ['deleting the capture tool', 's3:DeleteObject', { resource: TOOL }],
  ['deleting a memory image', 's3:DeleteObject', { resource: IMAGE }],
];

const policy = shippedPolicy();

async function decide(action: string, call: Call): Promise<string> {
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'ir-bot', policy: policy as unknown as Record<string, unknown> }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: call.resourcePolicy,
      request: { action, principal: PRINCIPAL, resource: { accountId: ACCOUNT, resource: call.resource }, contextVariables: call.context ?? {} },
    } as Parameters<typeof runSimulation>[0],
    {},
  );
  // A request the evaluator finds malformed (wrong resource type, unknown context key) is a defect of this table.
  return result.resultType === 'error' ? `invalid request: ${JSON.stringify(result.errors)}` : result.overallResult;
}

describe('the shipped policy, evaluated as IAM evaluates it', () => {
  it('describes every AWS call the code makes', () => {
    const called = [...actionsCalledByCode().keys(), 'iam:PassRole'];
    expect(called.filter((a) => !(a in CALLS))).toEqual([]);
  });

  it('allows every call the code makes, on the customer\'s resources', async () => {
    const refused: string[] = [];
    for (const [action, calls] of Object.entries(CALLS)) {
      for (const call of calls) {
        const decision = await decide(action, call);
        if (decision !== 'Allowed') refused.push(`${action} on ${call.resource}: ${decision}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it.each(REFUSED)('refuses %s', async (_what, action, call) => {
    expect(['ImplicitlyDenied', 'ExplicitlyDenied']).toContain(await decide(action, call));
  });
});

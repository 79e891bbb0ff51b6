/**
 * What each response needs from IAM, as the doctor simulates it: the exact actions the code calls
 * for it (test/doctor.test.ts holds this list to iam/ir-bot-policy.json), one sample resource of
 * the kind it acts on, and the request context ir-bot's own calls carry (the tags it sets, the
 * role it passes), so the policy's conditions are evaluated as they are for a real call.
 */
/** Names from the config that sample resources are built from. */
export interface SampleNames {
  workgroup: string;
  evidenceBucket?: string;
}

export interface PermissionGroup {
  /** What a responder would call it. */
  name: string;
  actions: string[];
  /** A resource ARN of the kind the actions act on, in the checked account and region. */
  resource(account: string, region: string, names: SampleNames): string;
  context?: { key: string; type: 'string' | 'stringList'; values: string[] }[];
}

const instance = (account: string, region: string) => `arn:aws:ec2:${region}:${account}:instance/i-0123456789abcdef0`;
const TAGGED_BY_BOT = [
  { key: 'aws:ResourceTag/ir:managed-by', type: 'string' as const, values: ['ir-bot'] },
  { key: 'aws:RequestTag/ir:managed-by', type: 'string' as const, values: ['ir-bot'] },
  { key: 'aws:RequestTag/ir:request', type: 'string' as const, values: ['doctor'] },
  { key: 'aws:ResourceTag/ir:request', type: 'string' as const, values: ['doctor'] },
  { key: 'aws:TagKeys', type: 'stringList' as const, values: ['ir:status', 'ir:request'] },
];

export const PERMISSION_GROUPS: PermissionGroup[] = [
  {
    name: 'cards, stories and plans (read-only)',
    actions: [
      'autoscaling:DescribeAutoScalingInstances', 'cloudtrail:LookupEvents', 'ec2:DescribeAddresses', 'ec2:DescribeIamInstanceProfileAssociations', 'ec2:DescribeImages',
      'ec2:DescribeInstanceAttribute', 'ec2:DescribeInstanceTypes', 'ec2:DescribeInstances', 'ec2:DescribeKeyPairs', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSecurityGroups',
      'ec2:DescribeSnapshots', 'ec2:DescribeVolumes', 'ec2:DescribeVpcEndpoints', 'elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTargetHealth',
      'iam:GetAccessKeyLastUsed', 'iam:GetInstanceProfile', 'iam:GetPolicy', 'iam:GetPolicyVersion', 'iam:ListAttachedRolePolicies', 'iam:ListAttachedUserPolicies', 'iam:GetRole', 'iam:GetRolePolicy', 'iam:GetUser', 'iam:GetUserPolicy', 'iam:ListAccessKeys', 'kms:DescribeKey',
      'securityhub:GetFindings', 'ssm:DescribeInstanceInformation', 'ssm:GetCommandInvocation', 'ssm:ListCommands', 'sts:GetCallerIdentity',
    ],
    resource: () => '*',
  },
  {
    name: 'isolate and release',
    actions: ['ec2:ModifyNetworkInterfaceAttribute', 'ec2:AssociateAddress', 'ec2:DisassociateAddress', 'ec2:ModifyInstanceAttribute', 'ec2:CreateTags'],
    resource: instance,
    context: TAGGED_BY_BOT,
  },
  {
    name: 'detach from and re-attach to Auto Scaling',
    actions: ['autoscaling:AttachInstances', 'autoscaling:DetachInstances'],
    resource: (account, region) => `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/ir-doctor-sample`,
  },
  {
    name: 'deregister from and re-register to target groups',
    actions: ['elasticloadbalancing:DeregisterTargets', 'elasticloadbalancing:RegisterTargets'],
    resource: (account, region) => `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/ir-doctor-sample/0123456789abcdef`,
  },
  {
    name: 'quarantine security groups',
    actions: ['ec2:CreateSecurityGroup', 'ec2:AuthorizeSecurityGroupEgress', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress'],
    resource: (account, region) => `arn:aws:ec2:${region}:${account}:security-group/sg-0123456789abcdef0`,
    context: TAGGED_BY_BOT,
  },
  {
    name: 'snapshot',
    actions: ['ec2:CreateSnapshot', 'ec2:CreateSnapshots', 'ec2:CopySnapshot', 'ec2:ModifySnapshotAttribute'],
    resource: (account, region) => `arn:aws:ec2:${region}:${account}:snapshot/snap-0123456789abcdef0`,
    context: TAGGED_BY_BOT,
  },
  { name: 'stop and terminate', actions: ['ec2:StopInstances', 'ec2:TerminateInstances'], resource: instance },
  {
    name: 'revoke sessions of an instance',
    actions: ['ec2:DisassociateIamInstanceProfile', 'ec2:AssociateIamInstanceProfile'],
    resource: instance,
    context: [{ key: 'ec2:InstanceProfile', type: 'string', values: ['arn:aws:iam::000000000000:instance-profile/ir-isolation'] }],
  },
  {
    name: 'pass the isolation role',
    actions: ['iam:PassRole'],
    resource: (account) => `arn:aws:iam::${account}:role/ir-isolation`,
    context: [{ key: 'iam:PassedToService', type: 'string', values: ['ec2.amazonaws.com'] }],
  },
  {
    name: 'disable or delete an access key',
    actions: ['iam:UpdateAccessKey', 'iam:DeleteAccessKey'],
    resource: (account) => `arn:aws:iam::${account}:user/ir-doctor-sample`,
  },
  // Deny all attaches our managed policy and nothing else: the policy allows Attach/Detach only for its ARN.
  {
    name: 'deny all on a user (attach ir-bot-deny-all)',
    actions: ['iam:AttachUserPolicy', 'iam:DetachUserPolicy'],
    resource: (account) => `arn:aws:iam::${account}:user/ir-doctor-sample`,
    context: [{ key: 'iam:PolicyARN', type: 'string', values: ['arn:aws:iam::000000000000:policy/ir-bot-deny-all'] }],
  },
  {
    name: 'deny all on a role (attach ir-bot-deny-all)',
    actions: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
    resource: (account) => `arn:aws:iam::${account}:role/ir-doctor-sample`,
    context: [{ key: 'iam:PolicyARN', type: 'string', values: ['arn:aws:iam::000000000000:policy/ir-bot-deny-all'] }],
  },
  {
    name: "revoke a role's sessions",
    actions: ['iam:PutRolePolicy', 'iam:DeleteRolePolicy'],
    resource: (account) => `arn:aws:iam::${account}:role/ir-doctor-sample`,
  },
  // SendCommand is authorized against the document and against each instance: both must be allowed.
  {
    name: 'capture memory: our SSM document',
    actions: ['ssm:SendCommand'],
    resource: (account, region) => `arn:aws:ssm:${region}:${account}:document/ir-bot-memory-capture`,
  },
  { name: 'capture memory: on the instance', actions: ['ssm:SendCommand'], resource: instance },
  {
    name: 'memory evidence upload',
    actions: ['s3:PutObject', 's3:PutObjectTagging', 's3:GetObject'],
    resource: (_account, _region, names) => `arn:aws:s3:::${names.evidenceBucket ?? 'no-evidence-bucket'}/memory/doctor/i-0123456789abcdef0/doctor.lime`,
  },
  {
    name: 'hunts (Athena)',
    actions: ['athena:StartQueryExecution', 'athena:StopQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults'],
    resource: (account, region, names) => `arn:aws:athena:${region}:${account}:workgroup/${names.workgroup}`,
  },
  { name: 'Security Hub workflow', actions: ['securityhub:BatchUpdateFindings'], resource: () => '*' },
];

/** The fill-ins of the sample context that depend on the account. */
export function contextFor(group: PermissionGroup, account: string): PermissionGroup['context'] {
  return group.context?.map((c) => ({ ...c, values: c.values.map((v) => v.replace(':000000000000:', `:${account}:`)) }));
}

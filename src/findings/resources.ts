/**
 * Resources as each source names them → ResourceRef. Unknown types are kept with their own type
 * name and whatever plain fields they carry, so nothing a finding names is dropped from its card.
 */
import { resourceConsoleUrl } from './console';
import type { ResourceKind, ResourceRef } from './model';
import { compact, obj, str, type Json } from './loose';

/** Lower-cased type names (ASFF, GuardDuty v1 and v2, OCSF/CloudFormation with `::` removed) → kind. */
const KIND_OF_TYPE: Record<string, ResourceKind> = {
  awsec2instance: 'ec2-instance',
  instance: 'ec2-instance',
  ec2_instance: 'ec2-instance',
  awsec2securitygroup: 'security-group',
  awsec2networkinterface: 'network-interface',
  ec2_network_interface: 'network-interface',
  awsec2volume: 'ebs-volume',
  ebsvolume: 'ebs-volume',
  awsec2snapshot: 'ebs-snapshot',
  awsec2vpc: 'vpc',
  ec2_vpc: 'vpc',
  awsec2subnet: 'subnet',
  awss3bucket: 's3-bucket',
  s3bucket: 's3-bucket',
  s3_bucket: 's3-bucket',
  awss3object: 's3-object',
  s3_object: 's3-object',
  awsiamuser: 'iam-user',
  awsiamrole: 'iam-role',
  awsiamaccesskey: 'iam-access-key',
  accesskey: 'iam-access-key',
  access_key: 'iam-access-key',
  awsiampolicy: 'iam-policy',
  awsiammanagedpolicy: 'iam-policy',
  awslambdafunction: 'lambda-function',
  lambda: 'lambda-function',
  lambdafunction: 'lambda-function',
  awsrdsdbinstance: 'rds-instance',
  rdsdbinstance: 'rds-instance',
  awsrdsdbcluster: 'rds-cluster',
  awsrdsdbsnapshot: 'rds-snapshot',
  awsrdsdbclustersnapshot: 'rds-snapshot',
  awseventsrdsdbsnapshot: 'rds-snapshot',
  rdsdbuser: 'rds-login',
  awsekscluster: 'eks-cluster',
  ekscluster: 'eks-cluster',
  eks_cluster: 'eks-cluster',
  kubernetesworkload: 'kubernetes-workload',
  kubernetes_workload: 'kubernetes-workload',
  awsecscluster: 'ecs-cluster',
  ecscluster: 'ecs-cluster',
  ecs_cluster: 'ecs-cluster',
  awsecstask: 'ecs-task',
  ecs_task: 'ecs-task',
  container: 'container',
  awsecrcontainerimage: 'ecr-image',
  awskmskey: 'kms-key',
  awscloudtrailtrail: 'cloudtrail-trail',
  awsaccount: 'account',
};

/** `AWS::RDS::DBInstance`, `AwsRdsDbInstance`, `S3_BUCKET` … → kind ('other' when unknown). */
export function kindOfType(type: string): ResourceKind {
  const k = type.replace(/::/g, '').toLowerCase();
  return KIND_OF_TYPE[k] ?? KIND_OF_TYPE[k.replace(/_/g, '')] ?? 'other';
}

export const KIND_LABEL: Record<ResourceKind, string> = {
  'ec2-instance': 'EC2 instance',
  'security-group': 'Security group',
  'network-interface': 'Network interface',
  'ebs-volume': 'EBS volume',
  'ebs-snapshot': 'EBS snapshot',
  vpc: 'VPC',
  subnet: 'Subnet',
  's3-bucket': 'S3 bucket',
  's3-object': 'S3 object',
  'iam-user': 'IAM user',
  'iam-role': 'IAM role',
  'iam-access-key': 'Access key',
  'iam-policy': 'IAM policy',
  'lambda-function': 'Lambda function',
  'rds-instance': 'RDS instance',
  'rds-cluster': 'RDS cluster',
  'rds-snapshot': 'RDS snapshot',
  'rds-login': 'RDS login',
  'eks-cluster': 'EKS cluster',
  'kubernetes-workload': 'Kubernetes workload',
  'ecs-cluster': 'ECS cluster',
  'ecs-task': 'ECS task',
  container: 'Container',
  'ecr-image': 'ECR image',
  'kms-key': 'KMS key',
  'cloudtrail-trail': 'CloudTrail trail',
  account: 'Account',
  other: 'Resource',
};

/** Fields worth a responder's glance, in the order shown; other plain fields follow when room is left. */
const USEFUL = [
  'Name',
  'GroupName',
  'FunctionName',
  'DbInstanceIdentifier',
  'DBInstanceIdentifier',
  'DbClusterIdentifier',
  'UserName',
  'RoleName',
  'PolicyName',
  'PrincipalName',
  'PrincipalType',
  'Type',
  'InstanceType',
  'Engine',
  'EngineVersion',
  'Runtime',
  'Role',
  'Status',
  'State',
  'KeyState',
  'KeyManager',
  'PubliclyAccessible',
  'StorageEncrypted',
  'Encrypted',
  'Size',
  'VpcId',
  'SubnetId',
  'ImageId',
  'OwnerName',
  'OwnerId',
  'S3BucketName',
  'IsMultiRegionTrail',
  'Version',
  'Repository',
  'CreatedAt',
  'CreationDate',
  'CreateDate',
  'LaunchedAt',
];

const MAX_DETAILS = 5;

/** Up to five scalar fields of a details object, the useful ones first; values capped at 100 chars. */
export function pickDetails(details: Json, skip: string[] = []): [string, string][] {
  const out: [string, string][] = [];
  const scalar = (v: unknown): string | undefined =>
    typeof v === 'string' ? (v.length > 0 ? v.slice(0, 100) : undefined) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  const seen = new Set(skip);
  const keys = [...USEFUL.filter((k) => k in details), ...Object.keys(details).filter((k) => !USEFUL.includes(k))];
  for (const k of keys) {
    if (out.length >= MAX_DETAILS) break;
    if (seen.has(k)) continue;
    seen.add(k);
    const v = scalar(details[k]);
    if (v !== undefined) out.push([k, v]);
  }
  return out;
}

/** A ResourceRef with its console link; region and partition are validated by the link builder. */
export function resource(kind: ResourceKind, type: string, id: string, more: Partial<Omit<ResourceRef, 'kind' | 'type' | 'id'>> = {}): ResourceRef {
  const r: ResourceRef = compact({ kind, type, id, details: more.details ?? [], name: more.name, region: more.region, partition: more.partition, accountId: more.accountId });
  const url = resourceConsoleUrl(kind, kind === 'iam-user' || kind === 'iam-role' ? (more.name ?? id) : id, r.region, r.partition);
  if (url) r.consoleUrl = url;
  return r;
}

/** One ASFF `Resources` entry. */
export function fromAsffResource(entry: Json, defaults: { region: string; partition: string }): ResourceRef | undefined {
  const type = str(entry.Type) ?? 'Other';
  const id = str(entry.Id) ?? (typeof entry.Id === 'number' ? String(entry.Id) : undefined);
  if (!id) return undefined;
  const details = obj(obj(entry.Details)[type]);
  // Some sources put the details under `Other` or a differently cased key: use the first object.
  const d = Object.keys(details).length > 0 ? details : obj(Object.values(obj(entry.Details))[0]);
  const region = str(entry.Region) ?? defaults.region;
  const partition = str(entry.Partition) ?? defaults.partition;
  return resource(kindOfType(type), type, id, { region, partition, details: pickDetails(d) });
}

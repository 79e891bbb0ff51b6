import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttachInstancesCommand, AutoScalingClient, DescribeAutoScalingInstancesCommand, DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import {
  AssociateAddressCommand,
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CopySnapshotCommand,
  CreateSecurityGroupCommand,
  CreateSnapshotCommand,
  CreateSnapshotsCommand,
  CreateTagsCommand,
  AssociateIamInstanceProfileCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DisassociateIamInstanceProfileCommand,
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  DescribeVpcEndpointsCommand,
  TerminateInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  ModifySnapshotAttributeCommand,
  StopInstancesCommand,
  DescribeAddressesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DisassociateAddressCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import {
  DeregisterTargetsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  DeleteAccessKeyCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  GetAccessKeyLastUsedCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { BatchUpdateFindingsCommand, BatchUpdateFindingsV2Command, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';

 

export interface FakeInstance {
  id: string;
  state: string;
  vpcId: string;
  spot?: boolean;
  sourceDestCheck?: boolean;
  tags: Record<string, string>;
  profileArn?: string;
  termination: boolean;
  stop: boolean;
  publicIp?: string;
  imageId?: string;
  launchTime?: string;
  userData?: string;
  imdsV1?: boolean;
}

/** A CloudTrail management event as LookupEvents returns it. */
export interface FakeTrailEvent {
  name: string;
  time: string;
  resources: string[];
  accessKeyId?: string;
  detail: Record<string, unknown>;
  /** The region whose event history holds it (default us-east-1); IAM, STS and sign-in events are in us-east-1 only. */
  region?: string;
}

export interface FakeEni {
  id: string;
  instanceId: string;
  deviceIndex: number;
  groups: string[];
  privateIp: string;
}

export interface FakeGroup {
  id: string;
  name: string;
  vpcId: string;
  ingress: any[];
  egress: any[];
}

export interface FakeAddress {
  allocationId: string;
  publicIp: string;
  associationId?: string;
  eniId?: string;
  privateIp?: string;
}

export interface FakeVolume {
  id: string;
  instanceId: string;
  device: string;
  size: number;
  encrypted?: boolean;
  kmsKeyId?: string;
}

export interface FakeSnapshot {
  id: string;
  volumeId: string;
  description: string;
  tags: Record<string, string>;
  polls: number;
  state: string;
  progress: string;
  sharedWith: string[];
  kmsKeyId?: string;
  /** ISO time of CreateSnapshot(s), returned as StartTime. */
  startTime?: string;
}

export interface FakeTargetGroup {
  arn: string;
  name: string;
  vpcId: string;
  targets: { id: string; port: number; health: string }[];
}

const MUTATING = /^(Modify|Create|Associate|Disassociate|Authorize|Revoke|Detach|Attach|Deregister|Register|Stop|Copy|Delete|Put|Update)/;

export function awsError(name: string, message = name, status = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

/** EC2 stores tcp, udp, icmp and icmpv6 by name whether the call gave a number or a name. */
const PROTOCOL_NAMES: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6' };

/** One rule per protocol, port range and peer: EC2 compares rules at this grain. */
function ruleAtoms(perms: any[]): string[] {
  const out: string[] = [];
  for (const p of perms ?? []) {
    const proto = String(p.IpProtocol).toLowerCase();
    const head = `${PROTOCOL_NAMES[proto] ?? proto}|${p.FromPort ?? ''}|${p.ToPort ?? ''}`;
    for (const r of p.IpRanges ?? []) out.push(`${head}|4|${r.CidrIp}`);
    for (const r of p.Ipv6Ranges ?? []) out.push(`${head}|6|${r.CidrIpv6}`);
    for (const r of p.UserIdGroupPairs ?? []) out.push(`${head}|g|${r.GroupId}`);
    for (const r of p.PrefixListIds ?? []) out.push(`${head}|p|${r.PrefixListId}`);
  }
  return out;
}

/** Renders rules as DescribeSecurityGroups does: one permission per protocol and port range. */
function rulesFromAtoms(atoms: string[]): any[] {
  const byHead = new Map<string, any>();
  for (const a of atoms) {
    const [proto, from, to, kind, peer] = a.split('|');
    const head = `${proto}|${from}|${to}`;
    let p = byHead.get(head);
    if (!p) {
      p = { IpProtocol: proto, ...(from ? { FromPort: Number(from) } : {}), ...(to ? { ToPort: Number(to) } : {}) };
      byHead.set(head, p);
    }
    const list = kind === '4' ? 'IpRanges' : kind === '6' ? 'Ipv6Ranges' : kind === 'g' ? 'UserIdGroupPairs' : 'PrefixListIds';
    const entry = kind === '4' ? { CidrIp: peer } : kind === '6' ? { CidrIpv6: peer } : kind === 'g' ? { GroupId: peer } : { PrefixListId: peer };
    (p[list] ??= []).push(entry);
  }
  return [...byHead.values()];
}

export function authorizeRules(current: any[], add: any[]): any[] {
  const have = new Set(ruleAtoms(current));
  const adding = ruleAtoms(add);
  const dup = adding.find((a) => have.has(a));
  if (dup) throw awsError('InvalidPermission.Duplicate', `the specified rule "${dup}" already exists`);
  return rulesFromAtoms([...have, ...adding]);
}

export function revokeRules(current: any[], remove: any[]): any[] {
  const have = new Set(ruleAtoms(current));
  const removing = ruleAtoms(remove);
  const missing = removing.find((a) => !have.has(a));
  if (missing) throw awsError('InvalidPermission.NotFound', `The specified rule does not exist in this security group (${missing})`);
  for (const a of removing) have.delete(a);
  return rulesFromAtoms([...have]);
}

/**
 * An in-memory EC2 / Auto Scaling / ELBv2 / STS account behind aws-sdk-client-mock: calls change
 * its state the way AWS would, so plan, execute and verify run against something that answers
 * back. Latency, failures and hangs can be injected per API.
 */
export class FakeAws {
  account = '111122223333';
  instances = new Map<string, FakeInstance>();
  enis = new Map<string, FakeEni>();
  groups = new Map<string, FakeGroup>();
  addresses = new Map<string, FakeAddress>();
  asg = new Map<string, string>();
  targetGroups: FakeTargetGroup[] = [];
  volumes = new Map<string, FakeVolume>();
  snapshots = new Map<string, FakeSnapshot>();
  /** IAM users: access keys and inline policies. */
  users = new Map<string, { keys: { id: string; status: string }[]; policies: Map<string, string> }>();
  roles = new Map<string, { policies: Map<string, string> }>();
  /** This account's customer-managed policies by name; ir-bot-deny-all is there, as deploy/ puts it in every account. */
  managedPolicies = new Map<string, string>([['ir-bot-deny-all', readFileSync(join(__dirname, '../../iam/ir-bot-deny-all-policy.json'), 'utf8')]]);
  /** Managed policy ARNs attached to "user/NAME" or "role/NAME". */
  attachedPolicies = new Map<string, string[]>();
  /** Reads after an IAM write that still return the old value (IAM is eventually consistent). */
  iamLag = 0;
  private lagging = new Map<string, { value: unknown; reads: number }>();
  /** What BatchUpdateFindings changed, per finding. */
  securityHubUpdates: { id: string; workflow?: string; note?: string; by?: string }[] = [];
  /** What BatchUpdateFindingsV2 changed, per OCSF finding (finding_info.uid). */
  securityHubV2Updates: { id: string; statusId?: number; comment?: string }[] = [];
  /** Off: the account has only the new Security Hub, and the CSPM API refuses every call. */
  securityHubCspmEnabled = true;
  unprocessableFindings = new Set<string>();
  queries = new Map<string, { sql: string; params: string[]; state: string; startedAt: number; finishedAt?: number }>();
  /** ClientRequestToken → the query started for it. */
  queryTokens = new Map<string, string>();
  /** How long every Athena query runs, and whether (with what reason) it fails. */
  queryRunMs = 300;
  queryFails: string | undefined;
  queryColumns: string[] = ['principal', 'eventname', 'errorcode', 'calls'];
  queryRows: string[][] = [];
  images = new Map<string, { id: string; name: string; ownerId: string; alias?: string }>();
  trail: FakeTrailEvent[] = [];
  /** Regions where LookupEvents is denied (a service control policy that fences regions). */
  trailDenied = new Set<string>();
  /** KMS keys: id → who manages it. */
  kmsKeys = new Map<string, 'AWS' | 'CUSTOMER'>();
  /** Listings by filter (no SnapshotIds) that do not show a new snapshot yet: EC2 is eventually consistent. */
  snapshotListingLag = 0;
  private unlisted = new Map<string, number>();
  /** DescribeSnapshots calls before a snapshot completes (it reports progress in between). */
  snapshotPolls = 2;
  /** Volumes whose snapshot ends in state `error`. */
  failingVolumes = new Set<string>();
  calls: { api: string; input: any; at: number }[] = [];
  latencyMs = 0;
  /** The stand-in's clock for credential expiry; tests move it. */
  now: () => number = () => Date.now();
  /** AssumeRole sessions last this long instead of DurationSeconds. */
  credentialLifetimeMs: number | undefined;
  /** Access key id of each session AssumeRole issued → when it expires. */
  issuedCredentials = new Map<string, number>();
  /**
   * EC2 and IAM calls signed with an issued session past its expiry are rejected as AWS does (EC2
   * RequestExpired, IAM ExpiredToken). Off by default: it resolves each client's credentials,
   * which the tests without a role do not configure.
   */
  checkCredentials = false;
  /** Calls rejected as expired, per API. */
  expiredRejections: string[] = [];
  /**
   * EC2's own throttle on mutating calls, per account and region: a bucket of `burst` tokens
   * refilled at `perSecond`; a call finding it empty fails with RequestLimitExceeded.
   */
  mutationBudget?: { perSecond: number; burst: number };
  /** Calls refused by `mutationBudget`. */
  throttled = 0;
  private bucket?: { tokens: number; at: number };
  /** Runs before every call (after latency and `onCall`): may throw to fail it (throttling bursts, expired credentials). */
  beforeCall?: (api: string, input: any) => void | Promise<void>;
  /** Runs after every call that changed or read state, before its answer returns (the fault suite persists the account here). */
  afterCall?: (api: string, input: any) => void | Promise<void>;
  private failures = new Map<string, Error[]>();
  private hooks = new Map<string, (input: any) => void>();
  private always = new Map<string, Error>();
  private hangs = new Map<string, (() => void)[]>();
  private seq = 0;
  private mocks = [mockClient(EC2Client), mockClient(AutoScalingClient), mockClient(ElasticLoadBalancingV2Client), mockClient(STSClient), mockClient(KMSClient), mockClient(IAMClient), mockClient(CloudTrailClient), mockClient(SecurityHubClient), mockClient(AthenaClient)];

  constructor() {
    const [ec2, asg, elb, sts, kms, iam, trail, securityHub, athena] = this.mocks;
    const on = (mock: any, cmd: any, fn: (input: any, getClient: () => any) => any) =>
      mock.on(cmd).callsFake(async (input: any, getClient: () => any) => {
        const api = cmd.name.replace(/Command$/, '');
        this.calls.push({ api, input, at: Date.now() });
        if (this.checkCredentials && (mock === ec2 || mock === iam)) await this.rejectExpired(mock === ec2 ? 'RequestExpired' : 'ExpiredToken', getClient());
        if (this.mutationBudget && MUTATING.test(api)) {
          const { perSecond, burst } = this.mutationBudget;
          const now = Date.now();
          const b = (this.bucket ??= { tokens: burst, at: now });
          b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
          b.at = now;
          if (b.tokens < 1) {
            this.throttled++;
            throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
          }
          b.tokens -= 1;
        }
        if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
        if (this.hangs.has(api) && this.hangs.get(api)!.length === 0) {
          this.hangs.delete(api);
          await new Promise<void>((resolve) => this.hangs.set(api, [resolve]));
        }
        this.hooks.get(api)?.(input);
        await this.beforeCall?.(api, input);
        const queued = this.failures.get(api);
        if (queued?.length) throw queued.shift();
        const always = this.always.get(api);
        if (always) throw always;
        const out = await fn(input, getClient);
        await this.afterCall?.(api, input);
        return out;
      });
    on(sts, GetCallerIdentityCommand, () => ({ Account: this.account, Arn: `arn:aws:iam::${this.account}:role/ir-bot`, UserId: 'AROAEXAMPLE' }));
    on(sts, AssumeRoleCommand, (i) => {
      const id = `ASIA${String(++this.seq).padStart(16, '0')}`;
      const expires = this.now() + (this.credentialLifetimeMs ?? (i.DurationSeconds ?? 3600) * 1000);
      this.issuedCredentials.set(id, expires);
      return {
        Credentials: { AccessKeyId: id, SecretAccessKey: 'secret', SessionToken: `token-${id}`, Expiration: new Date(expires) },
        AssumedRoleUser: { Arn: `${i.RoleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/${i.RoleSessionName}`, AssumedRoleId: `AROAEXAMPLE:${i.RoleSessionName}` },
      };
    });
    on(securityHub, BatchUpdateFindingsCommand, (i) => {
      if (!this.securityHubCspmEnabled) throw awsError('InvalidAccessException', `Account ${this.account} is not subscribed to AWS Security Hub`, 401);
      const ids = i.FindingIdentifiers as { Id: string; ProductArn: string }[];
      if (ids.length > 100) throw awsError('InvalidInputException', 'FindingIdentifiers: at most 100');
      const bad = ids.filter((x) => this.unprocessableFindings.has(x.Id));
      for (const x of ids.filter((y) => !this.unprocessableFindings.has(y.Id))) this.securityHubUpdates.push({ id: x.Id, workflow: i.Workflow?.Status, note: i.Note?.Text, by: i.Note?.UpdatedBy });
      return {
        ProcessedFindings: ids.filter((x) => !this.unprocessableFindings.has(x.Id)),
        UnprocessedFindings: bad.map((x) => ({ FindingIdentifier: x, ErrorCode: 'FindingNotFound', ErrorMessage: 'Finding Not Found' })),
      };
    });
    on(securityHub, BatchUpdateFindingsV2Command, (i) => {
      const ids = i.FindingIdentifiers as { CloudAccountUid: string; FindingInfoUid: string; MetadataProductUid: string }[];
      if (ids.length > 100) throw awsError('ValidationException', 'FindingIdentifiers: at most 100');
      const ok = ids.filter((x) => !this.unprocessableFindings.has(x.FindingInfoUid));
      for (const x of ok) this.securityHubV2Updates.push({ id: x.FindingInfoUid, statusId: i.StatusId, comment: i.Comment });
      return {
        ProcessedFindings: ok.map((x) => ({ FindingIdentifier: x })),
        UnprocessedFindings: ids.filter((x) => this.unprocessableFindings.has(x.FindingInfoUid)).map((x) => ({ FindingIdentifier: x, ErrorCode: 'ResourceNotFoundException', ErrorMessage: 'Finding not found' })),
      };
    });
    on(athena, StartQueryExecutionCommand, (i) => {
      const token = i.ClientRequestToken as string | undefined;
      if (token !== undefined && (token.length < 32 || token.length > 128)) throw awsError('InvalidRequestException', 'ClientRequestToken must be 32 to 128 characters long');
      // Athena answers a repeated token with the query it started for it: no second query.
      const earlier = token && this.queryTokens.get(token);
      if (earlier) return { QueryExecutionId: earlier };
      const id = `q-${++this.seq}`;
      this.queries.set(id, { sql: i.QueryString, params: i.ExecutionParameters ?? [], state: 'RUNNING', startedAt: Date.now() });
      if (token) this.queryTokens.set(token, id);
      return { QueryExecutionId: id };
    });
    on(athena, GetQueryExecutionCommand, (i) => {
      const q = this.queries.get(i.QueryExecutionId)!;
      if (q.state === 'RUNNING' && Date.now() - q.startedAt >= this.queryRunMs) q.state = this.queryFails ? 'FAILED' : 'SUCCEEDED';
      if (q.state === 'SUCCEEDED') q.finishedAt ??= Date.now();
      return {
        QueryExecution: {
          QueryExecutionId: i.QueryExecutionId,
          Status: { State: q.state, StateChangeReason: q.state === 'FAILED' ? this.queryFails : undefined },
          Statistics: { DataScannedInBytes: 123_456_789, TotalExecutionTimeInMillis: this.queryRunMs },
        },
      };
    });
    on(athena, StopQueryExecutionCommand, (i) => {
      this.queries.get(i.QueryExecutionId)!.state = 'CANCELLED';
      return {};
    });
    on(athena, GetQueryResultsCommand, (i) => {
      const page = Number(i.NextToken ?? 0);
      const per = i.MaxResults ?? 1000;
      const all = [this.queryColumns, ...this.queryRows];
      const slice = all.slice(page * per, (page + 1) * per);
      return {
        ResultSet: { ResultSetMetadata: { ColumnInfo: this.queryColumns.map((Name) => ({ Name, Type: 'varchar' })) }, Rows: slice.map((r) => ({ Data: r.map((VarCharValue) => ({ VarCharValue })) })) },
        NextToken: (page + 1) * per < all.length ? String(page + 1) : undefined,
      };
    });
    on(ec2, DescribeInstancesCommand, (i) => this.describeInstances(i));
    on(ec2, DescribeInstanceAttributeCommand, (i) => {
      const inst = this.instance(i.InstanceId);
      if (i.Attribute === 'userData') return { UserData: inst.userData ? { Value: Buffer.from(inst.userData).toString('base64') } : {} };
      return i.Attribute === 'disableApiTermination' ? { DisableApiTermination: { Value: inst.termination } } : { DisableApiStop: { Value: inst.stop } };
    });
    on(ec2, ModifyInstanceAttributeCommand, (i) => {
      const inst = this.instance(i.InstanceId);
      if (i.DisableApiTermination) inst.termination = i.DisableApiTermination.Value;
      if (i.DisableApiStop) inst.stop = i.DisableApiStop.Value;
      return {};
    });
    on(ec2, DescribeAddressesCommand, (i) => {
      let list = [...this.addresses.values()];
      if (i.AllocationIds) list = list.filter((a) => i.AllocationIds.includes(a.allocationId));
      const f = i.Filters?.find((x: any) => x.Name === 'instance-id');
      if (f) list = list.filter((a) => a.eniId && f.Values.includes(this.enis.get(a.eniId)?.instanceId));
      return {
        Addresses: list.map((a) => ({
          AllocationId: a.allocationId,
          PublicIp: a.publicIp,
          AssociationId: a.associationId,
          NetworkInterfaceId: a.eniId,
          PrivateIpAddress: a.privateIp,
          InstanceId: a.eniId ? this.enis.get(a.eniId)?.instanceId : undefined,
        })),
      };
    });
    on(ec2, DisassociateAddressCommand, (i) => {
      const a = [...this.addresses.values()].find((x) => x.associationId === i.AssociationId);
      if (!a) throw awsError('InvalidAssociationID.NotFound');
      a.associationId = a.eniId = a.privateIp = undefined;
      return {};
    });
    on(ec2, AssociateAddressCommand, (i) => {
      const a = this.addresses.get(i.AllocationId);
      if (!a) throw awsError('InvalidAllocationID.NotFound');
      if (a.associationId && !i.AllowReassociation) throw awsError('Resource.AlreadyAssociated');
      Object.assign(a, { associationId: `eipassoc-${++this.seq}`, eniId: i.NetworkInterfaceId, privateIp: i.PrivateIpAddress });
      return { AssociationId: a.associationId };
    });
    on(ec2, DescribeSecurityGroupsCommand, (i) => {
      let list = [...this.groups.values()];
      for (const f of i.Filters ?? []) {
        if (f.Name === 'vpc-id') list = list.filter((g) => f.Values.includes(g.vpcId));
        if (f.Name === 'group-name') list = list.filter((g) => f.Values.includes(g.name));
        if (f.Name === 'group-id') list = list.filter((g) => f.Values.includes(g.id));
      }
      if (i.GroupIds) list = list.filter((g) => i.GroupIds.includes(g.id));
      if (i.GroupNames) list = i.GroupNames.map((name: string) => this.groupNamed(name));
      return { SecurityGroups: list.map((g) => ({ GroupId: g.id, GroupName: g.name, VpcId: g.vpcId, IpPermissions: g.ingress, IpPermissionsEgress: g.egress })) };
    });
    on(ec2, CreateSecurityGroupCommand, (i) => {
      if ([...this.groups.values()].some((g) => g.vpcId === i.VpcId && g.name === i.GroupName)) throw awsError('InvalidGroup.Duplicate');
      const id = `sg-${(++this.seq).toString(16).padStart(17, '0')}`;
      this.groups.set(id, { id, name: i.GroupName, vpcId: i.VpcId, ingress: [], egress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] });
      return { GroupId: id };
    });
    // As EC2 answers: adding a rule that exists is InvalidPermission.Duplicate, removing one that
    // does not is InvalidPermission.NotFound, and either call then changes nothing.
    // A GroupName (instead of GroupId) and source groups by name mean the default VPC's groups.
    on(ec2, AuthorizeSecurityGroupIngressCommand, (i) => ((this.addressed(i).ingress = authorizeRules(this.addressed(i).ingress, this.byIds(i.IpPermissions))), { Return: true }));
    on(ec2, AuthorizeSecurityGroupEgressCommand, (i) => ((this.group(i.GroupId).egress = authorizeRules(this.group(i.GroupId).egress, i.IpPermissions)), { Return: true }));
    on(ec2, RevokeSecurityGroupIngressCommand, (i) => ((this.addressed(i).ingress = revokeRules(this.addressed(i).ingress, this.byIds(i.IpPermissions))), { Return: true }));
    on(ec2, RevokeSecurityGroupEgressCommand, (i) => ((this.group(i.GroupId).egress = revokeRules(this.group(i.GroupId).egress, i.IpPermissions)), { Return: true }));
    on(ec2, DescribeNetworkInterfacesCommand, (i) => {
      const ids: string[] = i.NetworkInterfaceIds ?? i.Filters?.find((f: any) => f.Name === 'network-interface-id')?.Values ?? [];
      if (i.NetworkInterfaceIds && ids.some((id) => !this.enis.has(id))) throw awsError('InvalidNetworkInterfaceID.NotFound');
      return { NetworkInterfaces: ids.filter((id) => this.enis.has(id)).map((id) => this.eniShape(this.enis.get(id)!)) };
    });
    on(ec2, ModifyNetworkInterfaceAttributeCommand, (i) => {
      const eni = this.enis.get(i.NetworkInterfaceId);
      if (!eni) throw awsError('InvalidNetworkInterfaceID.NotFound');
      for (const g of i.Groups) if (!this.groups.has(g)) throw awsError('InvalidGroup.NotFound');
      eni.groups = [...i.Groups];
      return {};
    });
    on(ec2, CreateTagsCommand, (i) => {
      for (const r of i.Resources) for (const t of i.Tags) (r.startsWith('snap-') ? this.snapshots.get(r) ?? this.instance(r) : this.instance(r)).tags[t.Key] = t.Value;
      return {};
    });
    on(ec2, DescribeVolumesCommand, (i) => ({
      Volumes: i.VolumeIds.map((id: string) => {
        const v = this.volumes.get(id);
        if (!v) throw awsError('InvalidVolume.NotFound');
        return { VolumeId: v.id, Size: v.size, Encrypted: !!v.encrypted, KmsKeyId: v.kmsKeyId, Attachments: [{ InstanceId: v.instanceId, Device: v.device }] };
      }),
    }));
    const snapshot = (volumeId: string, description: string, tags: any[], kmsKeyId?: string) => {
      const id = `snap-${(++this.seq).toString(16).padStart(17, '0')}`;
      const snap: FakeSnapshot = { id, volumeId, description, tags: Object.fromEntries((tags ?? []).map((t: any) => [t.Key, t.Value])), polls: 0, state: 'pending', progress: '0%', sharedWith: [], kmsKeyId, startTime: new Date().toISOString() };
      this.snapshots.set(id, snap);
      if (this.snapshotListingLag) this.unlisted.set(id, this.snapshotListingLag);
      return snap;
    };
    on(ec2, CreateSnapshotsCommand, (i) => {
      const inst = this.instance(i.InstanceSpecification.InstanceId);
      const vols = [...this.volumes.values()].filter((v) => v.instanceId === inst.id);
      const tags = i.TagSpecifications?.[0]?.Tags ?? [];
      return { Snapshots: vols.map((v) => ({ SnapshotId: snapshot(v.id, i.Description, tags).id, VolumeId: v.id, State: 'pending' })) };
    });
    on(ec2, CreateSnapshotCommand, (i) => ({ SnapshotId: snapshot(i.VolumeId, i.Description, i.TagSpecifications?.[0]?.Tags).id, VolumeId: i.VolumeId, State: 'pending' }));
    on(ec2, CopySnapshotCommand, (i) => {
      const src = this.snapshots.get(i.SourceSnapshotId)!;
      return { SnapshotId: snapshot(src.volumeId, i.Description, i.TagSpecifications?.[0]?.Tags, i.KmsKeyId).id };
    });
    on(ec2, DescribeSnapshotsCommand, (i) => {
      let list = [...this.snapshots.values()];
      if (i.SnapshotIds) list = list.filter((s) => i.SnapshotIds.includes(s.id));
      else {
        list = list.filter((s) => !this.unlisted.has(s.id));
        for (const [id, n] of this.unlisted) {
          if (n <= 1) this.unlisted.delete(id);
          else this.unlisted.set(id, n - 1);
        }
      }
      for (const f of i.Filters ?? []) {
        const key = String(f.Name).replace(/^tag:/, '');
        list = list.filter((s) => f.Values.includes(s.tags[key]));
      }
      if (i.SnapshotIds) {
        for (const s of list) {
          if (s.state !== 'pending') continue;
          s.polls += 1;
          if (this.failingVolumes.has(s.volumeId)) Object.assign(s, { state: 'error', progress: '37%' });
          else if (s.polls >= this.snapshotPolls) Object.assign(s, { state: 'completed', progress: '100%' });
          else s.progress = `${Math.round((100 * s.polls) / this.snapshotPolls)}%`;
        }
      }
      return {
        Snapshots: list.map((s) => ({
          SnapshotId: s.id,
          VolumeId: s.volumeId,
          State: s.state,
          Progress: s.progress,
          StateMessage: s.state === 'error' ? 'Internal error while copying blocks' : undefined,
          VolumeSize: this.volumes.get(s.volumeId)?.size,
          StartTime: s.startTime ? new Date(s.startTime) : undefined,
          Tags: Object.entries(s.tags).map(([Key, Value]) => ({ Key, Value })),
        })),
      };
    });
    on(ec2, ModifySnapshotAttributeCommand, (i) => {
      const s = this.snapshots.get(i.SnapshotId);
      if (!s) throw awsError('InvalidSnapshot.NotFound');
      const v = this.volumes.get(s.volumeId);
      if (v?.encrypted && !s.kmsKeyId && this.kmsKeys.get(v.kmsKeyId ?? '') !== 'CUSTOMER') throw awsError('InvalidParameter', 'Snapshots encrypted with the AWS Managed CMK can\'t be shared.');
      s.sharedWith.push(...i.UserIds);
      return {};
    });
    // Every instance type has 8 GiB (t3.large); no VPC has endpoints.
    on(ec2, DescribeInstanceTypesCommand, (i) => ({ InstanceTypes: i.InstanceTypes.map((t: string) => ({ InstanceType: t, MemoryInfo: { SizeInMiB: 8192 } })) }));
    on(ec2, DescribeVpcEndpointsCommand, () => ({ VpcEndpoints: [] }));
    on(ec2, TerminateInstancesCommand, (i) => {
      for (const id of i.InstanceIds) {
        const inst = this.instance(id);
        if (inst.termination) throw awsError('OperationNotPermitted', `The instance '${id}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`);
      }
      for (const id of i.InstanceIds) {
        const inst = this.instances.get(id)!;
        inst.state = 'shutting-down';
        setTimeout(() => (inst.state = 'terminated'), 30);
      }
      return { TerminatingInstances: i.InstanceIds.map((id: string) => ({ InstanceId: id, CurrentState: { Name: 'shutting-down' } })) };
    });
    on(ec2, DescribeImagesCommand, (i) => ({
      Images: i.ImageIds.filter((id: string) => this.images.has(id)).map((id: string) => {
        const img = this.images.get(id)!;
        return { ImageId: img.id, Name: img.name, OwnerId: img.ownerId, ImageOwnerAlias: img.alias };
      }),
    }));
    on(iam, GetInstanceProfileCommand, (i) => ({
      InstanceProfile: { InstanceProfileName: i.InstanceProfileName, Roles: [{ RoleName: `${i.InstanceProfileName}-role`, Arn: `arn:aws:iam::${this.account}:role/${i.InstanceProfileName}-role` }] },
    }));
    const user = (name: string) => {
      const u = this.users.get(name);
      if (!u) throw awsError('NoSuchEntity', `The user with name ${name} cannot be found.`, 404);
      return u;
    };
    const role = (name: string) => {
      const r = this.roles.get(name);
      if (!r) throw awsError('NoSuchEntity', `The role with name ${name} cannot be found.`, 404);
      return r;
    };
    on(iam, GetAccessKeyLastUsedCommand, (i) => {
      const owner = [...this.users].find(([, u]) => u.keys.some((k) => k.id === i.AccessKeyId));
      if (!owner) throw awsError('AccessDenied', 'User is not authorized to perform iam:GetAccessKeyLastUsed on that key', 403);
      return { UserName: owner[0], AccessKeyLastUsed: { LastUsedDate: new Date('2026-11-21T23:10:00Z'), ServiceName: 'ec2', Region: 'us-east-1' } };
    });
    on(iam, ListAccessKeysCommand, (i) => ({
      AccessKeyMetadata: user(i.UserName).keys.map((k) => ({ AccessKeyId: k.id, Status: this.stale(`key:${k.id}`, k.status), UserName: i.UserName })),
    }));
    on(iam, UpdateAccessKeyCommand, (i) => {
      const k = user(i.UserName).keys.find((x) => x.id === i.AccessKeyId);
      if (!k) throw awsError('NoSuchEntity', `The Access Key with id ${i.AccessKeyId} cannot be found.`, 404);
      this.wrote(`key:${k.id}`, k.status);
      k.status = i.Status;
      return {};
    });
    on(iam, DeleteAccessKeyCommand, (i) => {
      const u = user(i.UserName);
      if (!u.keys.some((k) => k.id === i.AccessKeyId)) throw awsError('NoSuchEntity', `The Access Key with id ${i.AccessKeyId} cannot be found.`, 404);
      u.keys = u.keys.filter((k) => k.id !== i.AccessKeyId);
      return {};
    });
    on(iam, GetUserCommand, (i) => (user(i.UserName), { User: { UserName: i.UserName } }));
    on(iam, GetRoleCommand, (i) => (role(i.RoleName), { Role: { RoleName: i.RoleName } }));
    const getPolicy = (kind: string, policies: Map<string, string>, name: string) => {
      const doc = this.stale(`${kind}:${name}`, policies.get(name));
      if (doc === undefined) throw awsError('NoSuchEntity', `The ${kind} policy with name ${name} cannot be found.`, 404);
      return { PolicyName: name, PolicyDocument: encodeURIComponent(doc as string) };
    };
    on(iam, GetUserPolicyCommand, (i) => getPolicy(`user/${i.UserName}`, user(i.UserName).policies, i.PolicyName));
    on(iam, GetRolePolicyCommand, (i) => getPolicy(`role/${i.RoleName}`, role(i.RoleName).policies, i.PolicyName));
    const putPolicy = (kind: string, policies: Map<string, string>, name: string, doc: string) => {
      this.wrote(`${kind}:${name}`, policies.get(name));
      policies.set(name, doc);
      return {};
    };
    on(iam, PutUserPolicyCommand, (i) => putPolicy(`user/${i.UserName}`, user(i.UserName).policies, i.PolicyName, i.PolicyDocument));
    on(iam, PutRolePolicyCommand, (i) => putPolicy(`role/${i.RoleName}`, role(i.RoleName).policies, i.PolicyName, i.PolicyDocument));
    const deletePolicy = (kind: string, policies: Map<string, string>, name: string) => {
      if (!policies.has(name)) throw awsError('NoSuchEntity', `The ${kind} policy with name ${name} cannot be found.`, 404);
      this.wrote(`${kind}:${name}`, policies.get(name));
      policies.delete(name);
      return {};
    };
    // Managed policies: an ARN of another account, or a name not created here, is NoSuchEntity as in IAM.
    const managed = (arn: string) => {
      const m = /^arn:aws:iam::(\d{12}):policy\/(?:.*\/)?([^/]+)$/.exec(arn);
      const doc = m && m[1] === this.account ? this.managedPolicies.get(m[2]) : undefined;
      if (doc === undefined) throw awsError('NoSuchEntity', `Policy ${arn} does not exist or is not attachable.`, 404);
      return { name: m![2], doc };
    };
    on(iam, GetPolicyCommand, (i) => ({ Policy: { Arn: i.PolicyArn, PolicyName: managed(i.PolicyArn).name, DefaultVersionId: 'v1', IsAttachable: true } }));
    on(iam, GetPolicyVersionCommand, (i) => ({ PolicyVersion: { VersionId: i.VersionId, IsDefaultVersion: i.VersionId === 'v1', Document: encodeURIComponent(managed(i.PolicyArn).doc) } }));
    const attach = (kind: string, arn: string) => {
      managed(arn);
      const list = this.attachedPolicies.get(kind) ?? [];
      this.wrote(`attached:${kind}`, [...list]);
      if (!list.includes(arn)) this.attachedPolicies.set(kind, [...list, arn]);
      return {};
    };
    const detach = (kind: string, arn: string) => {
      const list = this.attachedPolicies.get(kind) ?? [];
      if (!list.includes(arn)) throw awsError('NoSuchEntity', `Policy ${arn} was not found.`, 404);
      this.wrote(`attached:${kind}`, [...list]);
      this.attachedPolicies.set(kind, list.filter((x) => x !== arn));
      return {};
    };
    const listAttached = (kind: string) => ({ AttachedPolicies: (this.stale(`attached:${kind}`, this.attachedPolicies.get(kind) ?? []) as string[]).map((PolicyArn) => ({ PolicyArn, PolicyName: PolicyArn.split('/').pop() })) });
    on(iam, AttachUserPolicyCommand, (i) => (user(i.UserName), attach(`user/${i.UserName}`, i.PolicyArn)));
    on(iam, AttachRolePolicyCommand, (i) => (role(i.RoleName), attach(`role/${i.RoleName}`, i.PolicyArn)));
    on(iam, DetachUserPolicyCommand, (i) => (user(i.UserName), detach(`user/${i.UserName}`, i.PolicyArn)));
    on(iam, DetachRolePolicyCommand, (i) => (role(i.RoleName), detach(`role/${i.RoleName}`, i.PolicyArn)));
    on(iam, ListAttachedUserPoliciesCommand, (i) => (user(i.UserName), listAttached(`user/${i.UserName}`)));
    on(iam, ListAttachedRolePoliciesCommand, (i) => (role(i.RoleName), listAttached(`role/${i.RoleName}`)));
    on(iam, DeleteUserPolicyCommand, (i) => deletePolicy(`user/${i.UserName}`, user(i.UserName).policies, i.PolicyName));
    on(iam, DeleteRolePolicyCommand, (i) => deletePolicy(`role/${i.RoleName}`, role(i.RoleName).policies, i.PolicyName));
    on(ec2, DescribeIamInstanceProfileAssociationsCommand, (i) => {
      const ids: string[] = i.Filters?.find((f: any) => f.Name === 'instance-id')?.Values ?? [];
      return {
        IamInstanceProfileAssociations: ids
          .map((id) => this.instances.get(id))
          .filter((x): x is FakeInstance => !!x?.profileArn)
          .map((x) => ({ AssociationId: `iip-assoc-${x.id.slice(2)}`, InstanceId: x.id, State: 'associated', IamInstanceProfile: { Arn: x.profileArn } })),
      };
    });
    on(ec2, DisassociateIamInstanceProfileCommand, (i) => {
      const inst = [...this.instances.values()].find((x) => `iip-assoc-${x.id.slice(2)}` === i.AssociationId);
      if (!inst) throw awsError('InvalidAssociationID.NotFound');
      inst.profileArn = undefined;
      return {};
    });
    on(ec2, AssociateIamInstanceProfileCommand, (i) => {
      const inst = this.instance(i.InstanceId);
      if (inst.profileArn) throw awsError('IncorrectState', `There is an existing association for instance ${i.InstanceId}`);
      inst.profileArn = i.IamInstanceProfile.Arn;
      return {};
    });
    // Event history is regional, as CloudTrail's is: a client sees only its own region's events.
    // Username is the IAM user name or the role session name, whoever chose it.
    on(trail, LookupEventsCommand, async (i, getClient) => {
      const region = await getClient().config.region();
      if (this.trailDenied.has(region)) throw awsError('AccessDeniedException', `User is not authorized to perform: cloudtrail:LookupEvents in ${region} with an explicit deny in a service control policy`, 400);
      const a = i.LookupAttributes[0];
      const userNameOf = (e: FakeTrailEvent) => {
        const id = (e.detail.userIdentity ?? {}) as { type?: string; userName?: string; arn?: string };
        return id.type === 'AssumedRole' ? id.arn?.split('/').pop() : id.userName;
      };
      const matches = (e: FakeTrailEvent): boolean => {
        switch (a.AttributeKey) {
          case 'ResourceName':
            return e.resources.includes(a.AttributeValue);
          case 'AccessKeyId':
            return (e.accessKeyId ?? (e.detail.userIdentity as { accessKeyId?: string } | undefined)?.accessKeyId) === a.AttributeValue;
          case 'Username':
            return userNameOf(e) === a.AttributeValue;
          case 'ReadOnly':
            return String(e.detail.readOnly === true) === a.AttributeValue;
          default:
            return e.name === a.AttributeValue;
        }
      };
      const events = this.trail.filter((e) => (e.region ?? 'us-east-1') === region && matches(e));
      return {
        Events: events.map((e, n) => ({
          EventId: (e.detail.eventID as string | undefined) ?? `${region}-${this.trail.indexOf(e)}-${n}`,
          EventName: e.name,
          EventTime: new Date(e.time),
          AccessKeyId: e.accessKeyId,
          Username: userNameOf(e),
          ReadOnly: String(e.detail.readOnly === true),
          CloudTrailEvent: JSON.stringify(e.detail),
        })),
      };
    });
    on(kms, DescribeKeyCommand, (i) => ({ KeyMetadata: { KeyId: i.KeyId, KeyManager: this.kmsKeys.get(i.KeyId) ?? 'AWS' } }));
    on(ec2, StopInstancesCommand, (i) => {
      for (const id of i.InstanceIds) {
        const inst = this.instance(id);
        if (inst.stop) throw awsError('OperationNotPermitted', `The instance '${id}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`);
      }
      return {
        StoppingInstances: i.InstanceIds.map((id: string) => {
          const inst = this.instances.get(id)!;
          const previous = inst.state;
          inst.state = previous === 'stopped' ? 'stopped' : 'stopping';
          // It reaches "stopped" a moment later, as EC2's does.
          setTimeout(() => (inst.state = 'stopped'), 30);
          return { InstanceId: id, PreviousState: { Name: previous }, CurrentState: { Name: inst.state } };
        }),
      };
    });
    on(asg, DescribeAutoScalingInstancesCommand, (i) => ({
      AutoScalingInstances: i.InstanceIds.filter((id: string) => this.asg.has(id)).map((id: string) => ({ InstanceId: id, AutoScalingGroupName: this.asg.get(id), LifecycleState: 'InService' })),
    }));
    on(asg, DetachInstancesCommand, (i) => {
      for (const id of i.InstanceIds) {
        if (this.asg.get(id) !== i.AutoScalingGroupName) throw awsError('ValidationError', `The instance ${id} is not part of Auto Scaling group ${i.AutoScalingGroupName}.`);
        this.asg.delete(id);
      }
      return { Activities: [] };
    });
    on(asg, AttachInstancesCommand, (i) => {
      for (const id of i.InstanceIds) this.asg.set(id, i.AutoScalingGroupName);
      return {};
    });
    on(elb, DescribeTargetGroupsCommand, () => ({
      TargetGroups: this.targetGroups.map((t) => ({ TargetGroupArn: t.arn, TargetGroupName: t.name, VpcId: t.vpcId, TargetType: 'instance' })),
    }));
    on(elb, DescribeTargetHealthCommand, (i) => {
      const tg = this.targetGroups.find((t) => t.arn === i.TargetGroupArn)!;
      if (i.Targets) {
        return {
          TargetHealthDescriptions: i.Targets.map((q: any) => {
            const t = tg.targets.find((x) => x.id === q.Id && (!q.Port || x.port === q.Port));
            return { Target: { Id: q.Id, Port: q.Port }, TargetHealth: { State: t ? t.health : 'unused', Reason: t ? undefined : 'Target.NotRegistered' } };
          }),
        };
      }
      return { TargetHealthDescriptions: tg.targets.map((t) => ({ Target: { Id: t.id, Port: t.port }, TargetHealth: { State: t.health } })) };
    });
    on(elb, DeregisterTargetsCommand, (i) => {
      const tg = this.targetGroups.find((t) => t.arn === i.TargetGroupArn)!;
      tg.targets = tg.targets.filter((t) => !i.Targets.some((q: any) => q.Id === t.id && (!q.Port || q.Port === t.port)));
      return {};
    });
    on(elb, RegisterTargetsCommand, (i) => {
      const tg = this.targetGroups.find((t) => t.arn === i.TargetGroupArn)!;
      for (const q of i.Targets) tg.targets.push({ id: q.Id, port: q.Port, health: 'healthy' });
      return {};
    });
  }

  /** Remembers the value before an IAM write; the next `iamLag` reads still see it. */
  private wrote(key: string, before: unknown): void {
    if (this.iamLag > 0) this.lagging.set(key, { value: before, reads: this.iamLag });
  }

  private stale<T>(key: string, now: T): T {
    const lag = this.lagging.get(key);
    if (!lag) return now;
    if (--lag.reads <= 0) this.lagging.delete(key);
    return lag.value as T;
  }

  /** Runs before every call of `api` (after latency): may throw to fail that call. */
  onCall(api: string, hook: (input: any) => void): void {
    this.hooks.set(api, hook);
  }

  /** The next calls of `api` fail with these errors, in order. */
  failNext(api: string, ...errors: Error[]): void {
    this.failures.set(api, [...(this.failures.get(api) ?? []), ...errors]);
  }

  /** Every call of `api` fails with this error until cleared. */
  failAlways(api: string, error: Error | undefined): void {
    if (error) this.always.set(api, error);
    else this.always.delete(api);
  }

  /** Every session issued so far ends now (revoked early, or the caller's clock ran behind). */
  expireCredentials(): void {
    for (const id of this.issuedCredentials.keys()) this.issuedCredentials.set(id, this.now());
  }

  private async rejectExpired(code: string, client: any): Promise<void> {
    const creds = await client.config.credentials();
    const expires = this.issuedCredentials.get(creds.accessKeyId);
    if (expires !== undefined && this.now() >= expires) {
      this.expiredRejections.push(code);
      throw awsError(code, code === 'RequestExpired' ? 'Request has expired.' : 'The security token included in the request is expired', code === 'RequestExpired' ? 400 : 403);
    }
  }


  /** The next call of `api` never returns (until `releaseHangs`): a worker stuck mid-job. */
  hangNext(api: string): void {
    this.hangs.set(api, []);
  }

  releaseHangs(): void {
    for (const list of this.hangs.values()) list.forEach((r) => r());
    this.hangs.clear();
  }

  callsOf(api: string): { api: string; input: any; at: number }[] {
    return this.calls.filter((c) => c.api === api);
  }

  restore(): void {
    this.releaseHangs();
    this.mocks.forEach((m) => m.restore());
  }

  group(id: string): FakeGroup {
    const g = this.groups.get(id);
    if (!g) throw awsError('InvalidGroup.NotFound');
    return g;
  }

  /** The account's default VPC, where EC2 looks up a group given by name. */
  defaultVpcId = 'vpc-0default000000001';

  groupNamed(name: string): FakeGroup {
    const g = [...this.groups.values()].find((x) => x.vpcId === this.defaultVpcId && x.name === name);
    if (!g) throw awsError('InvalidGroup.NotFound', `The security group '${name}' does not exist in default VPC '${this.defaultVpcId}'`);
    return g;
  }

  private addressed(i: { GroupId?: string; GroupName?: string }): FakeGroup {
    return i.GroupId ? this.group(i.GroupId) : this.groupNamed(i.GroupName ?? '');
  }

  private byIds(perms: any[]): any[] {
    return (perms ?? []).map((p) => ({ ...p, UserIdGroupPairs: p.UserIdGroupPairs?.map((g: any) => (g.GroupId ? g : { GroupId: this.groupNamed(g.GroupName).id })) }));
  }

  instance(id: string): FakeInstance {
    const i = this.instances.get(id);
    if (!i) throw awsError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    return i;
  }

  private eniShape(e: FakeEni) {
    const addr = [...this.addresses.values()].find((a) => a.eniId === e.id);
    const inst = this.instances.get(e.instanceId);
    const publicIp = addr?.publicIp ?? (e.deviceIndex === 0 ? inst?.publicIp : undefined);
    return {
      NetworkInterfaceId: e.id,
      Attachment: { DeviceIndex: e.deviceIndex, InstanceId: e.instanceId },
      Groups: e.groups.map((g) => ({ GroupId: g, GroupName: this.groups.get(g)?.name })),
      PrivateIpAddress: e.privateIp,
      PrivateIpAddresses: [{ PrivateIpAddress: e.privateIp, Primary: true, Association: publicIp ? { PublicIp: publicIp } : undefined }],
      Association: publicIp ? { PublicIp: publicIp } : undefined,
    };
  }

  private describeInstances(i: any) {
    let list: FakeInstance[];
    if (i.InstanceIds) {
      for (const id of i.InstanceIds) this.instance(id);
      list = i.InstanceIds.map((id: string) => this.instances.get(id)!);
    } else {
      list = [...this.instances.values()];
      for (const f of i.Filters ?? []) {
        if (f.Name === 'iam-instance-profile.arn') list = list.filter((x) => f.Values.includes(x.profileArn));
        if (f.Name === 'instance-state-name') list = list.filter((x) => f.Values.includes(x.state));
        if (f.Name === 'instance-id') list = list.filter((x) => f.Values.includes(x.id));
      }
    }
    return {
      Reservations: [
        {
          Instances: list.map((x) => ({
            InstanceId: x.id,
            State: { Name: x.state },
            VpcId: x.vpcId,
            InstanceLifecycle: x.spot ? 'spot' : undefined,
            SourceDestCheck: x.sourceDestCheck ?? true,
            Tags: Object.entries(x.tags).map(([Key, Value]) => ({ Key, Value })),
            IamInstanceProfile: x.profileArn ? { Arn: x.profileArn } : undefined,
            PublicIpAddress: x.publicIp,
            ImageId: x.imageId,
            InstanceType: 't3.large',
            LaunchTime: x.launchTime ? new Date(x.launchTime) : undefined,
            MetadataOptions: { HttpTokens: x.imdsV1 === false ? 'required' : 'optional' },
            SecurityGroups: [...new Set([...this.enis.values()].filter((e) => e.instanceId === x.id).flatMap((e) => e.groups))].map((g) => ({ GroupId: g, GroupName: this.groups.get(g)?.name })),
            SubnetId: 'subnet-0a1b2c3d',
            BlockDeviceMappings: [...this.volumes.values()].filter((v) => v.instanceId === x.id).map((v) => ({ DeviceName: v.device, Ebs: { VolumeId: v.id } })),
            NetworkInterfaces: [...this.enis.values()].filter((e) => e.instanceId === x.id).map((e) => this.eniShape(e)),
          })),
        },
      ],
    };
  }

  /**
   * The playbook's web server: two interfaces, an Elastic IP, in an Auto Scaling group and behind
   * a target group, sharing its instance role with another instance.
   */
  addWebServer(id: string, opts: { vpcId?: string; asg?: string; targetGroup?: boolean; eip?: boolean; secondEni?: boolean } = {}): void {
    const vpcId = opts.vpcId ?? 'vpc-0a1b2c3d';
    const web = this.ensureGroup('sg-0000000000000web1', 'web', vpcId);
    const ssh = this.ensureGroup('sg-0000000000000ssh1', 'ssh-admin', vpcId);
    // Unique per instance (the last 8 hex digits), so many instances can live side by side.
    const n = id.slice(-8);
    this.instances.set(id, { id, state: 'running', vpcId, tags: { Name: `web-${n}` }, profileArn: `arn:aws:iam::${this.account}:instance-profile/web`, termination: false, stop: false });
    this.enis.set(`eni-${n}000000001`, { id: `eni-${n}000000001`, instanceId: id, deviceIndex: 0, groups: [web, ssh], privateIp: '10.0.1.10' });
    if (opts.secondEni !== false) this.enis.set(`eni-${n}000000002`, { id: `eni-${n}000000002`, instanceId: id, deviceIndex: 1, groups: [ssh], privateIp: '10.0.2.10' });
    if (opts.eip !== false) {
      this.addresses.set(`eipalloc-${n}`, { allocationId: `eipalloc-${n}`, publicIp: '203.0.113.7', associationId: `eipassoc-${n}`, eniId: `eni-${n}000000001`, privateIp: '10.0.1.10' });
    }
    if (opts.asg) this.asg.set(id, opts.asg);
    this.volumes.set(`vol-${n}000000001`, { id: `vol-${n}000000001`, instanceId: id, device: '/dev/xvda', size: 8 });
    this.volumes.set(`vol-${n}000000002`, { id: `vol-${n}000000002`, instanceId: id, device: '/dev/xvdf', size: 100 });
    if (opts.targetGroup !== false) {
      let tg = this.targetGroups.find((t) => t.name === 'web-tg');
      if (!tg) {
        // Instance profiles and target groups live in the instance's own account, as in AWS.
        tg = { arn: `arn:aws:elasticloadbalancing:us-east-1:${this.account}:targetgroup/web-tg/0123456789abcdef`, name: 'web-tg', vpcId, targets: [] };
        this.targetGroups.push(tg);
      }
      tg.targets.push({ id, port: 80, health: 'healthy' });
    }
  }

  /** The fixtures' account (123456789012) with the playbook's web server in it. */
  static withWebServer(id: string, opts: { asg?: string; targetGroup?: boolean; eip?: boolean; secondEni?: boolean } = {}): FakeAws {
    const aws = new FakeAws();
    aws.account = '123456789012';
    aws.addWebServer(id, opts);
    return aws;
  }

  ensureGroup(id: string, name: string, vpcId: string): string {
    if (!this.groups.has(id)) this.groups.set(id, { id, name, vpcId, ingress: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }], egress: [] });
    return id;
  }
}

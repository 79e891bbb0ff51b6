import { AthenaClient, GetTableMetadataCommand } from '@aws-sdk/client-athena';
import { CloudTrailClient, DescribeTrailsCommand, GetTrailStatusCommand } from '@aws-sdk/client-cloudtrail';
import { DescribeFlowLogsCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeApiDestinationCommand, EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { GetDetectorCommand, GuardDutyClient, ListDetectorsCommand } from '@aws-sdk/client-guardduty';
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { GetBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeHubCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Config } from '../config/load';
import { roleArnFor } from '../aws/clients';
import { assumedRoleCredentials } from '../aws/credentials';
import { AwsCallError, awsErrorCode } from '../aws/errors';
import { PERMISSION_GROUPS, contextFor } from './permissions';
import type { DoctorCheck, DoctorReport } from './report';

export type { DoctorCheck, DoctorReport } from './report';
export { fingerprint } from './report';

export interface DoctorClients {
  iam: IAMClient;
  guardDuty: GuardDutyClient;
  securityHub: SecurityHubClient;
  eventBridge: EventBridgeClient;
  cloudTrail: CloudTrailClient;
  athena: AthenaClient;
  ec2: EC2Client;
  ssm: SSMClient;
  s3: S3Client;
}

export interface DoctorSession {
  account: string;
  /** The IAM user or role whose policies are simulated (never an sts assumed-role session ARN). */
  principalArn: string;
  /** The responder role assumed, when one is configured for the account. */
  roleArn?: string;
  clients: DoctorClients;
  destroy(): void;
}

/** Where the doctor gets AWS from: one session per account and region, and the Organization's accounts. */
export interface DoctorAws {
  /** The bot's own account (its credentials). */
  home(region: string): Promise<DoctorSession>;
  /** A session in `account`: the responder role when one is configured, else the bot's own credentials. */
  session(account: string, region: string): Promise<DoctorSession>;
  organizationAccounts(): Promise<string[]>;
}

/** An assumed-role session's ARN → the role's (SimulatePrincipalPolicy needs the role itself). */
export function principalOf(callerArn: string): string {
  const m = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

function build(region: string, maxAttempts: number, credentials?: AwsCredentialIdentityProvider): DoctorClients {
  const opts = { region, credentials, maxAttempts };
  return {
    iam: new IAMClient(opts),
    guardDuty: new GuardDutyClient(opts),
    securityHub: new SecurityHubClient(opts),
    eventBridge: new EventBridgeClient(opts),
    cloudTrail: new CloudTrailClient(opts),
    athena: new AthenaClient(opts),
    ec2: new EC2Client(opts),
    ssm: new SSMClient(opts),
    s3: new S3Client(opts),
  };
}

const destroyAll = (clients: DoctorClients) => Object.values(clients).forEach((c: { destroy(): void }) => c.destroy());

/** The SDK's own credential chain, and the responder role per account as `aws.responderRoleArn` says. */
export function sdkDoctorAws(config: Pick<Config, 'aws'>): DoctorAws {
  const maxAttempts = config.aws.maxAttempts;
  const home = async (region: string): Promise<DoctorSession> => {
    const sts = new STSClient({ region, maxAttempts });
    try {
      const me = await sts.send(new GetCallerIdentityCommand({}));
      const clients = build(region, maxAttempts);
      return { account: me.Account ?? 'unknown', principalArn: principalOf(me.Arn ?? ''), clients, destroy: () => destroyAll(clients) };
    } finally {
      sts.destroy();
    }
  };
  return {
    home,
    async session(account, region) {
      const roleArn = roleArnFor(config.aws, account);
      if (!roleArn) {
        const own = await home(region);
        if (own.account !== account) {
          own.destroy();
          throw Object.assign(new Error(`the bot's credentials are for account ${own.account}, and aws.responderRoleArn names no role for ${account}`), { name: 'NoRoleForAccount' });
        }
        return own;
      }
      const credentials = assumedRoleCredentials({ region, roleArn, sessionName: 'ir-doctor', sourceIdentity: 'ir-doctor', maxAttempts });
      try {
        await credentials();
      } catch (err) {
        credentials.destroy();
        throw err;
      }
      const clients = build(region, maxAttempts, credentials);
      return { account, principalArn: roleArn, roleArn, clients, destroy: () => (destroyAll(clients), credentials.destroy()) };
    },
    async organizationAccounts() {
      const org = new OrganizationsClient({ region: 'us-east-1', maxAttempts });
      try {
        const out: string[] = [];
        let NextToken: string | undefined;
        do {
          const page = await org.send(new ListAccountsCommand({ NextToken }));
          out.push(...(page.Accounts ?? []).filter((a) => a.Status === 'ACTIVE' && a.Id).map((a) => a.Id!));
          NextToken = page.NextToken;
        } while (NextToken);
        return out;
      } finally {
        org.destroy();
      }
    },
  };
}

/** The accounts the config names: routes, the responder role map, doctor.accounts. */
export function configuredAccounts(config: Pick<Config, 'channels' | 'aws' | 'doctor'>): string[] {
  const role = config.aws.responderRoleArn;
  const fromRoles = role && typeof role === 'object' ? Object.keys(role) : [];
  const fromRoutes = config.channels.routes.map((r) => r.account).filter((a): a is string => !!a);
  return [...new Set([...config.doctor.accounts, ...fromRoutes, ...fromRoles])];
}

export function configuredRegions(config: Pick<Config, 'doctor' | 'securityHub' | 'awsRegion'>): string[] {
  const regions = config.doctor.regions.length ? config.doctor.regions : [config.awsRegion, ...config.securityHub.poll.regions];
  return [...new Set(regions.filter((r): r is string => !!r))];
}

/** AWS's error code and first line; an already classified error (its message is advice for a responder) by its code only. */
const reason = (err: unknown) => (err instanceof AwsCallError ? err.code : `${awsErrorCode(err)}: ${((err as Error)?.message ?? String(err)).split('\n')[0].slice(0, 200)}`);
const list = (ids: string[], max = 5) => (ids.length > max ? `${ids.slice(0, max).join(', ')} and ${ids.length - max} more` : ids.join(', '));

type DoctorConfig = Pick<Config, 'channels' | 'aws' | 'doctor' | 'securityHub' | 'awsRegion' | 'athena' | 'memory'>;

/**
 * Checks one account and region from the outside, the way an incident would need it: every
 * check is a read, so the doctor can run any time. Returns one line per check.
 */
async function checkTarget(config: DoctorConfig, s: DoctorSession, region: string, isHome: boolean): Promise<DoctorCheck[]> {
  const scope = `${s.account} ${region}`;
  const out: DoctorCheck[] = [];
  const add = (name: string, ok: boolean, detail: string, fix?: string): void => {
    out.push({ scope, name, ok, detail, ...(ok ? {} : { fix }) });
  };
  const guard = async (name: string, fix: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (err) {
      add(name, false, `could not check (${reason(err)})`, fix);
    }
  };
  const names = { workgroup: config.athena?.workgroup ?? 'primary', evidenceBucket: config.memory.evidenceBucket };
  const policyFix = `add the actions to ${s.principalArn}'s policy (iam/ir-bot-policy.json)`;

  for (const group of PERMISSION_GROUPS) {
    if (group.name === 'hunts (Athena)' && !config.athena) continue;
    if (group.name === 'memory evidence upload' && !config.memory.evidenceBucket) continue;
    const resource = group.resource(s.account, region, names);
    await guard(`permissions: ${group.name}`, `allow ${s.principalArn} iam:SimulatePrincipalPolicy on itself, so the doctor can check its permissions`, async () => {
      const res = await s.clients.iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: s.principalArn,
          ActionNames: group.actions,
          ResourceArns: [resource],
          ContextEntries: contextFor(group, s.account)?.map((c) => ({ ContextKeyName: c.key, ContextKeyType: c.type, ContextKeyValues: c.values })),
        }),
      );
      const denied = (res.EvaluationResults ?? []).filter((r) => r.EvalDecision !== 'allowed').map((r) => r.EvalActionName ?? '?');
      const missing = group.actions.filter((a) => !(res.EvaluationResults ?? []).some((r) => r.EvalActionName === a));
      const bad = [...denied, ...missing];
      add(
        `permissions: ${group.name}`,
        bad.length === 0,
        bad.length === 0 ? `${group.actions.length} actions allowed on ${resource}` : `denied on ${resource}: ${bad.join(', ')}`,
        `${policyFix}: ${bad.join(', ')}`,
      );
    });
  }

  await guard('GuardDuty', `enable GuardDuty in ${scope}: aws guardduty create-detector --enable --region ${region}`, async () => {
    const ids = (await s.clients.guardDuty.send(new ListDetectorsCommand({}))).DetectorIds ?? [];
    if (!ids.length) return add('GuardDuty', false, 'no detector', `enable GuardDuty in ${scope}: aws guardduty create-detector --enable --region ${region}`);
    const d = await s.clients.guardDuty.send(new GetDetectorCommand({ DetectorId: ids[0] }));
    add('GuardDuty', d.Status === 'ENABLED', `detector ${ids[0]} ${d.Status ?? 'status unknown'}`, `enable detector ${ids[0]}: aws guardduty update-detector --detector-id ${ids[0]} --enable --region ${region}`);
  });

  try {
    const hub = await s.clients.securityHub.send(new DescribeHubCommand({}));
    add('Security Hub', true, `enabled${hub.SubscribedAt ? ` since ${hub.SubscribedAt.slice(0, 10)}` : ''}`);
  } catch (err) {
    const off = ['InvalidAccessException', 'ResourceNotFoundException'].includes(awsErrorCode(err));
    add('Security Hub', false, off ? 'not enabled' : `could not check (${reason(err)})`, `enable Security Hub in ${scope}: aws securityhub enable-security-hub --region ${region}`);
  }

  if (isHome) {
    await guard('EventBridge rule to this bot', 'see docs/setup.md#aws-wiring', async () => {
      const rules = [];
      let NextToken: string | undefined;
      do {
        const page = await s.clients.eventBridge.send(new ListRulesCommand({ NextToken }));
        rules.push(...(page.Rules ?? []));
        NextToken = page.NextToken;
      } while (NextToken);
      const findingRules = rules.filter((r) => r.State === 'ENABLED' && /aws\.guardduty|aws\.securityhub|GuardDuty Finding|Security Hub Findings|Findings Imported V2/.test(r.EventPattern ?? ''));
      const reaching: string[] = [];
      for (const rule of findingRules) {
        const targets = (await s.clients.eventBridge.send(new ListTargetsByRuleCommand({ Rule: rule.Name, EventBusName: rule.EventBusName }))).Targets ?? [];
        for (const t of targets.filter((x) => x.Arn?.includes(':api-destination/'))) {
          const name = t.Arn!.split(':api-destination/')[1].split('/')[0];
          const dest = await s.clients.eventBridge.send(new DescribeApiDestinationCommand({ Name: name }));
          const url = dest.InvocationEndpoint ?? '';
          if (config.doctor.ingestUrl ? url === config.doctor.ingestUrl : url.endsWith('/aws/events')) reaching.push(`${rule.Name} → ${url}`);
        }
      }
      add(
        'EventBridge rule to this bot',
        reaching.length > 0,
        reaching.length ? list(reaching, 3) : `${findingRules.length} finding rule(s), none targets ${config.doctor.ingestUrl ?? 'an API destination …/aws/events'}`,
        `create a rule for GuardDuty and Security Hub findings with an API destination ${config.doctor.ingestUrl ?? 'https://YOUR-HOST/aws/events'} sending x-api-key (docs/setup.md#aws-wiring, or the CDK app)`,
      );
    });
  }

  await guard('CloudTrail', `create a multi-region trail (or an organization trail): aws cloudtrail create-trail --name ir-trail --s3-bucket-name <bucket> --is-multi-region-trail`, async () => {
    const trails = (await s.clients.cloudTrail.send(new DescribeTrailsCommand({ includeShadowTrails: true }))).trailList ?? [];
    const covering = trails.filter((t) => t.IsMultiRegionTrail || t.HomeRegion === region);
    let logging: string | undefined;
    for (const t of covering) {
      const st = await s.clients.cloudTrail.send(new GetTrailStatusCommand({ Name: t.TrailARN ?? t.Name }));
      if (st.IsLogging) {
        logging = t.Name;
        break;
      }
    }
    add(
      'CloudTrail',
      !!logging,
      logging ? `trail ${logging} logging` : covering.length ? `trail(s) ${list(covering.map((t) => t.Name ?? '?'))} not logging` : 'no trail covers this region',
      covering.length ? `start logging: aws cloudtrail start-logging --name ${covering[0].Name}` : 'create a multi-region trail (or an organization trail): aws cloudtrail create-trail --name ir-trail --s3-bucket-name <bucket> --is-multi-region-trail, then start-logging',
    );
  });

  if (isHome && config.athena) {
    const athena = config.athena;
    for (const [kind, table] of Object.entries(athena.tables)) {
      const name = `Athena table ${athena.database}.${table}`;
      try {
        await s.clients.athena.send(new GetTableMetadataCommand({ CatalogName: 'AwsDataCatalog', DatabaseName: athena.database, TableName: table, WorkGroup: athena.workgroup }));
        add(name, true, `${kind} table exists`);
      } catch (err) {
        const code = awsErrorCode(err);
        const missing = code === 'MetadataException' || code === 'EntityNotFoundException' || /not found/i.test((err as Error).message ?? '');
        add(name, false, missing ? `${kind} table not found` : `could not check (${reason(err)})`, `create ${athena.database}.${table} over the ${kind === 'vpcflow' ? 'VPC Flow Logs' : 'CloudTrail'} bucket (partitioned by ${athena.partitionColumns[kind as 'cloudtrail' | 'vpcflow']}), or fix athena.tables.${kind}`);
      }
    }
  }

  let running: { id: string; vpc?: string }[] = [];
  await guard('VPC Flow Logs', 'allow ec2:DescribeInstances and ec2:DescribeFlowLogs', async () => {
    const instances: { id: string; vpc?: string; state?: string }[] = [];
    let NextToken: string | undefined;
    do {
      const page = await s.clients.ec2.send(new DescribeInstancesCommand({ NextToken, Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] }));
      for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) instances.push({ id: i.InstanceId ?? '?', vpc: i.VpcId, state: i.State?.Name });
      NextToken = page.NextToken;
    } while (NextToken);
    running = instances.filter((i) => i.state === 'running');
    const vpcs = [...new Set(instances.map((i) => i.vpc).filter((v): v is string => !!v))].sort();
    if (!vpcs.length) return add('VPC Flow Logs', true, 'no VPC holds instances');
    const logs = (await s.clients.ec2.send(new DescribeFlowLogsCommand({ Filter: [{ Name: 'resource-id', Values: vpcs }] }))).FlowLogs ?? [];
    const on = new Set(logs.filter((l) => l.FlowLogStatus === 'ACTIVE').map((l) => l.ResourceId));
    const off = vpcs.filter((v) => !on.has(v));
    add(
      'VPC Flow Logs',
      off.length === 0,
      off.length ? `off for ${list(off)} (of ${vpcs.length} VPCs holding instances)` : `on for all ${vpcs.length} VPCs holding instances`,
      `turn them on: aws ec2 create-flow-logs --resource-type VPC --resource-ids ${off.join(' ')} --traffic-type ALL --log-destination-type s3 --log-destination arn:aws:s3:::<flow-logs-bucket> --region ${region}`,
    );
  });

  if (config.memory.evidenceBucket) {
    await guard('SSM agents online', 'allow ssm:DescribeInstanceInformation', async () => {
      const online = new Set<string>();
      let NextToken: string | undefined;
      do {
        const page = await s.clients.ssm.send(new DescribeInstanceInformationCommand({ NextToken }));
        for (const i of page.InstanceInformationList ?? []) if (i.PingStatus === 'Online' && i.InstanceId) online.add(i.InstanceId);
        NextToken = page.NextToken;
      } while (NextToken);
      const without = running.map((i) => i.id).filter((id) => !online.has(id));
      add(
        'SSM agents online',
        without.length === 0,
        without.length ? `${without.length} of ${running.length} running instances have no SSM agent online: ${list(without)}` : `${running.length} running instances, every agent online`,
        'memory capture needs the SSM agent: install or start it, give the instances AmazonSSMManagedInstanceCore and a path to SSM (VPC endpoints ssm, ssmmessages, ec2messages, s3)',
      );
    });
  }
  return out;
}

async function checkEvidenceBucket(s: DoctorSession, bucket: string): Promise<DoctorCheck> {
  const name = `evidence bucket ${bucket}`;
  const fix = `turn versioning on: aws s3api put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled (or use Object Lock)`;
  try {
    const v = await s.clients.s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    return { scope: s.account, name, ok: v.Status === 'Enabled', detail: `reachable, versioning ${v.Status ?? 'never enabled'}`, ...(v.Status === 'Enabled' ? {} : { fix }) };
  } catch (err) {
    return { scope: s.account, name, ok: false, detail: `not reachable (${reason(err)})`, fix: `create ${bucket}, or fix memory.evidenceBucket, and allow s3:GetBucketVersioning on it` };
  }
}

/** The whole preflight: every account and region, in order, each ✗ with its fix. */
export async function runDoctor(config: DoctorConfig, aws: DoctorAws, now: () => Date = () => new Date()): Promise<DoctorReport> {
  const regions = configuredRegions(config);
  const checks: DoctorCheck[] = [];
  const targets: { account: string; region: string }[] = [];
  if (!regions.length) {
    checks.push({ scope: 'config', name: 'regions', ok: false, detail: 'no region to check', fix: 'set AWS_REGION or doctor.regions' });
    return { at: now().toISOString(), ok: false, targets, checks };
  }
  let homeAccount: string | undefined;
  try {
    const s = await aws.home(regions[0]);
    homeAccount = s.account;
    s.destroy();
  } catch (err) {
    checks.push({ scope: 'bot', name: "the bot's credentials", ok: false, detail: `sts:GetCallerIdentity failed (${reason(err)})`, fix: 'give the bot AWS credentials (AWS_PROFILE, a role, or the task role) and AWS_REGION' });
    return { at: now().toISOString(), ok: false, targets, checks };
  }
  const accounts = new Set([homeAccount, ...configuredAccounts(config)]);
  if (config.doctor.organization) {
    try {
      for (const a of await aws.organizationAccounts()) accounts.add(a);
    } catch (err) {
      checks.push({ scope: homeAccount, name: 'Organization accounts', ok: false, detail: `organizations:ListAccounts failed (${reason(err)})`, fix: 'run from the management or a delegated administrator account, or list the accounts in doctor.accounts' });
    }
  }
  for (const account of accounts) {
    for (const region of regions) {
      targets.push({ account, region });
      let s: DoctorSession;
      try {
        s = account === homeAccount ? await aws.home(region) : await aws.session(account, region);
      } catch (err) {
        const roleArn = roleArnFor(config.aws, account);
        checks.push({
          scope: `${account} ${region}`,
          name: 'responder role',
          ok: false,
          detail: roleArn ? `cannot assume ${roleArn} (${reason(err)}); nothing else checked here` : `${(err as Error).message}; nothing else checked here`,
          fix: roleArn
            ? `deploy ${roleArn.split('/').pop()} in ${account} trusting the bot's role (iam/ir-responder-trust-policy.json, or the IrBotResponders StackSet), and allow the bot sts:AssumeRole and sts:SetSourceIdentity on it`
            : `set aws.responderRoleArn (e.g. arn:aws:iam::{account}:role/ir-responder) and deploy that role in ${account}`,
        });
        continue;
      }
      try {
        checks.push({ scope: `${account} ${region}`, name: s.roleArn ? 'responder role' : "the bot's credentials", ok: true, detail: s.roleArn ? `assumed ${s.roleArn}` : `acting as ${s.principalArn}` });
        checks.push(...(await checkTarget(config, s, region, account === homeAccount)));
        if (account === homeAccount && region === regions[0] && config.memory.evidenceBucket) checks.push(await checkEvidenceBucket(s, config.memory.evidenceBucket));
      } finally {
        s.destroy();
      }
    }
  }
  return { at: now().toISOString(), ok: checks.every((c) => c.ok), targets, checks };
}

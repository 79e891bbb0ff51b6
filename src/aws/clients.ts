import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { KMSClient } from '@aws-sdk/client-kms';
import { IAMClient } from '@aws-sdk/client-iam';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { AthenaClient } from '@aws-sdk/client-athena';
import { SSMClient } from '@aws-sdk/client-ssm';
import { S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Config } from '../config/load';
import { assumedRoleCredentials } from './credentials';
import { AwsCallError, classifyAwsError } from './errors';
import { ACCOUNT_PATTERN, globalEventRegion, REGION_PATTERN } from './identifiers';
import { Responder, type ResponderClients, type TakeMutationToken } from './responder';

export interface AwsTarget {
  /** The finding's account; unknown for a bare `/ir` command (then: the credentials' account). */
  account?: string;
  region?: string;
}

/** Who the calls are made for: lands in the assumed role's session name and source identity. */
export interface AwsIdentity {
  requestId: string;
  userId: string;
}

export interface AwsSettings {
  aws: Config['aws'];
  awsRegion?: string;
  /** When assumed-role credentials count as expiring; tests move it. */
  now?: () => number;
}

export interface ResponderSession {
  clients: ResponderClients;
  account: string;
  region: string;
  /** The role assumed, when one is configured for the account. */
  roleArn?: string;
  /** The clients behind the responder gateway (mutation tokens, classified errors, credential renewal). */
  responder(takeToken?: TakeMutationToken): Responder;
  /** Who the bot's own credentials are (sts:GetCallerIdentity), when no role is assumed. */
  callerArn?: string;
  destroy(): void;
}

/** STS names allow [\w+=,.@-]; Slack IDs and request ids already fit, anything else is replaced. */
export function sessionName(identity: AwsIdentity): string {
  return `ir-${identity.requestId}-${identity.userId}`.replace(/[^\w+=,.@-]/g, '_').slice(0, 64);
}

export function roleArnFor(aws: Config['aws'], account: string | undefined): string | undefined {
  const r = aws.responderRoleArn;
  if (!r) return undefined;
  if (typeof r === 'string') {
    if (!r.includes('{account}')) return r;
    return account ? r.replace('{account}', account) : undefined;
  }
  return account ? r[account] : undefined;
}

/**
 * Clients are built once per service and region and reused (connection pooling, adaptive
 * client-side rate limiting that learns from throttling). Endpoints and credentials come from the
 * SDK's own chain (AWS_REGION, AWS_ENDPOINT_URL, profiles, roles): never overridden in code.
 */
export class AwsClients {
  private readonly securityHubClients = new Map<string, SecurityHubClient>();
  private readonly own = new Map<string, ResponderClients>();
  private callerAccount?: Promise<{ account: string; arn?: string }>;

  constructor(private readonly settings: AwsSettings = { aws: { mutationsPerSecond: 4, mutationBurst: 100, cloudTrailLookupsPerSecond: 1.8, maxAttempts: 6, jobAttempts: 5, jobBackoffMs: 5000 } }) {}

  securityHub(region?: string): SecurityHubClient {
    const key = region ?? '';
    let client = this.securityHubClients.get(key);
    if (!client) {
      client = new SecurityHubClient({ region, retryMode: 'adaptive', maxAttempts: 6 });
      this.securityHubClients.set(key, client);
    }
    return client;
  }

  private build(region: string, credentials?: AwsCredentialIdentityProvider): ResponderClients {
    const opts = { region, credentials, retryMode: 'adaptive', maxAttempts: this.settings.aws.maxAttempts };
    const cloudTrail = new CloudTrailClient(opts);
    const globalRegion = globalEventRegion(region);
    const cloudTrailGlobal = globalRegion === region ? cloudTrail : new CloudTrailClient({ ...opts, region: globalRegion });
    return { ec2: new EC2Client(opts), autoScaling: new AutoScalingClient(opts), elbv2: new ElasticLoadBalancingV2Client(opts), kms: new KMSClient(opts), iam: new IAMClient(opts), cloudTrail, cloudTrailGlobal, securityHub: new SecurityHubClient(opts), athena: new AthenaClient(opts), ssm: new SSMClient(opts), s3: new S3Client(opts) };
  }

  private ownAccount(region: string): Promise<{ account: string; arn?: string }> {
    this.callerAccount ??= new STSClient({ region, maxAttempts: this.settings.aws.maxAttempts })
      .send(new GetCallerIdentityCommand({}))
      .then((r) => ({ account: r.Account ?? 'unknown', arn: r.Arn }))
      .catch((err: unknown) => {
        this.callerAccount = undefined;
        throw classifyAwsError(err, 'sts:GetCallerIdentity');
      });
    return this.callerAccount;
  }

  /**
   * Clients acting in the target's account and region. With `aws.responderRoleArn` the role is
   * assumed per request, named after the request and the Slack user so CloudTrail shows who
   * authorised every call; without it the worker's own credentials must be in the right account.
   */
  async responder(target: AwsTarget, identity: AwsIdentity): Promise<ResponderSession> {
    const region = target.region ?? this.settings.awsRegion;
    if (!region) throw new AwsCallError('invalid', 'config', 'NoRegion', 'no AWS region: the finding names none and AWS_REGION is not set');
    // The region picks the endpoint and keys the client cache; the account picks the role.
    if (!REGION_PATTERN.test(region)) throw new AwsCallError('invalid', 'config', 'InvalidRegion', `"${region.slice(0, 40)}" is not an AWS region`);
    if (target.account !== undefined && !ACCOUNT_PATTERN.test(target.account)) throw new AwsCallError('invalid', 'config', 'InvalidAccount', `"${target.account.slice(0, 40)}" is not an AWS account id`);
    const roleArn = roleArnFor(this.settings.aws, target.account);
    if (roleArn) {
      // Renewed before expiry and on an expiry answer: a job may run for hours (snapshot waits).
      const credentials = assumedRoleCredentials({
        region,
        roleArn,
        sessionName: sessionName(identity),
        sourceIdentity: identity.userId.replace(/[^\w+=,.@-]/g, '_').slice(0, 64),
        maxAttempts: this.settings.aws.maxAttempts,
        now: this.settings.now,
      });
      try {
        await credentials(); // AccessDenied on the role surfaces here, before any action runs
      } catch (err) {
        credentials.destroy();
        throw err;
      }
      const clients = this.build(region, credentials);
      const account = roleArn.split(':')[4];
      return {
        clients,
        account,
        region,
        roleArn,
        responder: (takeToken = async () => undefined) => new Responder(clients, account, region, takeToken, credentials.refresh),
        destroy: () => {
          Object.values(clients).forEach((x) => x.destroy());
          credentials.destroy();
        },
      };
    }
    const { account, arn: callerArn } = await this.ownAccount(region);
    if (target.account && target.account !== account) {
      throw new AwsCallError(
        'invalid',
        'sts:AssumeRole',
        'WrongAccount',
        `the finding is in account ${target.account} but the bot's credentials are for account ${account}; set aws.responderRoleArn for ${target.account}`,
      );
    }
    let clients = this.own.get(region);
    if (!clients) {
      clients = this.build(region);
      this.own.set(region, clients);
    }
    const own = clients;
    return { clients, account, region, callerArn, responder: (takeToken = async () => undefined) => new Responder(own, account, region, takeToken), destroy: () => undefined };
  }

  destroy(): void {
    for (const c of this.securityHubClients.values()) c.destroy();
    this.securityHubClients.clear();
    for (const set of this.own.values()) Object.values(set).forEach((x) => x.destroy());
    this.own.clear();
  }
}

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
import type { Command } from '@smithy/types';
import { classifyAwsError } from './errors';

/** IAM service prefix per client, for error messages and the least-privilege policy. */
const IAM_PREFIX = new Map<unknown, string>([
  [EC2Client, 'ec2'],
  [AutoScalingClient, 'autoscaling'],
  [ElasticLoadBalancingV2Client, 'elasticloadbalancing'],
  [KMSClient, 'kms'],
  [IAMClient, 'iam'],
  [CloudTrailClient, 'cloudtrail'],
  [SecurityHubClient, 'securityhub'],
  [AthenaClient, 'athena'],
  [SSMClient, 'ssm'],
  [S3Client, 's3'],
]);

export interface ResponderClients {
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  elbv2: ElasticLoadBalancingV2Client;
  kms: KMSClient;
  iam: IAMClient;
  cloudTrail: CloudTrailClient;
  /** CloudTrail in the partition's global-event region (IAM, STS, sign-in events live only there); the same client when that is this region. */
  cloudTrailGlobal: CloudTrailClient;
  securityHub: SecurityHubClient;
  athena: AthenaClient;
  ssm: SSMClient;
  s3: S3Client;
}

/** Waits for permission to make one mutating call in this account and region. */
export type TakeMutationToken = () => Promise<void>;

type AnyClient = { send(command: any): Promise<any> };
type AnyCommand = { constructor: { name: string } };

/** Calls that AWS authorizes under another action's name. */
export const IAM_ACTION_OF_CALL: Readonly<Record<string, string>> = {
  's3:HeadObject': 's3:GetObject',
  'securityhub:BatchUpdateFindingsV2': 'securityhub:BatchUpdateFindings',
};

export function iamActionOf(client: AnyClient, command: AnyCommand): string {
  const prefix = IAM_PREFIX.get(client.constructor) ?? 'unknown';
  const call = `${prefix}:${command.constructor.name.replace(/Command$/, '')}`;
  return IAM_ACTION_OF_CALL[call] ?? call;
}

export function isMutating(command: AnyCommand): boolean {
  return !/^(Describe|Get|List|Lookup|Head)/.test(command.constructor.name);
}

/**
 * Every AWS call an action makes goes through here: mutating calls wait for the account's token
 * bucket, and failures come back classified (AccessDenied names the missing permission).
 */
export class Responder {
  constructor(
    readonly clients: ResponderClients,
    readonly account: string,
    readonly region: string,
    private readonly takeToken: TakeMutationToken,
    /** Makes the clients' credentials renew on their next use (assumed-role sessions). */
    private readonly refreshCredentials?: () => void,
  ) {}

  async send<I extends object, O extends object>(client: AnyClient, command: Command<any, I, any, O, any>): Promise<O> {
    const iamAction = iamActionOf(client, command);
    for (let attempt = 1; ; attempt++) {
      if (isMutating(command)) await this.takeToken();
      try {
        return (await client.send(command)) as O;
      } catch (err) {
        const e = classifyAwsError(err, iamAction);
        // Rejected, so nothing happened: renew the session and try once more.
        if (e.kind === 'expired' && this.refreshCredentials && attempt === 1) {
          this.refreshCredentials();
          continue;
        }
        throw e;
      }
    }
  }
}

import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { CfnStackSet } from 'aws-cdk-lib/aws-cloudformation';
import type { Construct } from 'constructs';
import { MEMORY_DOCUMENT_NAME, memoryDocumentResource, type DocumentBuckets } from './evidence';
import { ASSUME_RESPONDER_SID, BOT_ROLE_NAME, DENY_ALL_POLICY_NAME, RESPONDER_ROLE_NAME, botPolicy, denyAllPolicy, loadPolicy, type PolicyNames } from './policy';

/**
 * The template every member account gets: role ir-responder (the name aws.responderRoleArn
 * points at, `arn:aws:iam::{account}:role/ir-responder`), trusting only the bot's role, with the
 * bot's policy minus the right to assume responders (a responder never assumes another).
 * Trust comes from iam/ir-responder-trust-policy.json with its principal made a parameter.
 */
export function responderTemplate(names: PolicyNames): Record<string, unknown> {
  const trust = loadPolicy('ir-responder-trust-policy.json');
  const policy = botPolicy(names);
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: 'ir-bot responder role: the bot assumes it to act in this account, with the Slack user as source identity',
    Parameters: {
      BotRoleArn: { Type: 'String', AllowedPattern: '^arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$', Description: 'The ir-bot role that may assume this one' },
    },
    Resources: {
      ResponderRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: RESPONDER_ROLE_NAME,
          Description: 'Assumed by ir-bot for incident response; sessions carry the Slack user as source identity',
          MaxSessionDuration: 3600,
          AssumeRolePolicyDocument: { ...trust, Statement: trust.Statement.map((s) => ({ ...s, Principal: { AWS: { Ref: 'BotRoleArn' } } })) },
          Policies: [{ PolicyName: 'ir-bot', PolicyDocument: { ...policy, Statement: policy.Statement.filter((s) => s.Sid !== ASSUME_RESPONDER_SID) } }],
        },
      },
      // deny-principal attaches this one policy: the responder may attach no other (iam:PolicyARN).
      DenyAllPolicy: {
        Type: 'AWS::IAM::ManagedPolicy',
        Properties: { ManagedPolicyName: DENY_ALL_POLICY_NAME, Description: 'ir-bot deny-principal: attached to a compromised user or role, detached on undo', PolicyDocument: denyAllPolicy() },
      },
    },
    Outputs: { ResponderRoleArn: { Value: { 'Fn::GetAtt': ['ResponderRole', 'Arn'] } } },
  };
}

export interface RespondersStackProps extends StackProps {
  policyNames: PolicyNames;
  organizationalUnitIds: string[];
  callAs: 'SELF' | 'DELEGATED_ADMIN';
  /** Account of the bot's role; default: this stack's account. */
  botAccount?: string;
  /** Regions that get the memory capture document; none = no memory capture in member accounts. */
  documentRegions?: string[];
}

/** The template of the document StackSet: SSM documents are regional, the responder role is not. */
export function memoryDocumentTemplate(buckets: DocumentBuckets): Record<string, unknown> {
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `ir-bot memory capture SSM document (${MEMORY_DOCUMENT_NAME}): the only document the responder role may run`,
    Resources: { MemoryCaptureDocument: memoryDocumentResource(buckets) },
  };
}

/**
 * A service-managed StackSet: AWS Organizations creates the role in every account of the OUs,
 * and in accounts that join them later (auto-deployment), without an admin/execution role pair
 * in each account. IAM is global, so one region per account.
 */
export class RespondersStack extends Stack {
  readonly stackSet: CfnStackSet;

  constructor(scope: Construct, id: string, props: RespondersStackProps) {
    super(scope, id, props);
    const botRoleArn = `arn:${Aws.PARTITION}:iam::${props.botAccount ?? Aws.ACCOUNT_ID}:role/${BOT_ROLE_NAME}`;
    // Service-managed: Organizations deploys into every account of the OUs, and into accounts that join later.
    const orgWide = (regions: string[]) => ({
      permissionModel: 'SERVICE_MANAGED',
      callAs: props.callAs,
      autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
      managedExecution: { Active: true },
      operationPreferences: { maxConcurrentPercentage: 100, failureTolerancePercentage: 10, regionConcurrencyType: 'PARALLEL' },
      stackInstancesGroup: [{ deploymentTargets: { organizationalUnitIds: props.organizationalUnitIds }, regions }],
    });
    this.stackSet = new CfnStackSet(this, 'Responders', {
      ...orgWide([this.region]),
      stackSetName: 'ir-bot-responders',
      description: 'ir-bot responder role in every member account',
      capabilities: ['CAPABILITY_NAMED_IAM'],
      parameters: [{ parameterKey: 'BotRoleArn', parameterValue: botRoleArn }],
      templateBody: JSON.stringify(responderTemplate(props.policyNames)),
    });
    if (props.documentRegions?.length) {
      new CfnStackSet(this, 'MemoryDocument', {
        ...orgWide(props.documentRegions),
        stackSetName: 'ir-bot-memory-document',
        description: 'ir-bot memory capture SSM document in every member account and region it captures in',
        templateBody: JSON.stringify(memoryDocumentTemplate(props.policyNames)),
      });
    }
    new CfnOutput(this, 'ResponderRoleArnForConfig', {
      description: 'aws.responderRoleArn for the bot config',
      value: `arn:${Aws.PARTITION}:iam::{account}:role/${RESPONDER_ROLE_NAME}`,
    });
  }
}

import { Aws, CfnOutput, CfnResource, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { FlowLogDestination, Peer, Port, SecurityGroup, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { FileSystem, ThroughputMode } from 'aws-cdk-lib/aws-efs';
import { ApplicationLoadBalancer, ApplicationProtocol, ListenerAction, ListenerCertificate, ListenerCondition, SslPolicy } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { CfnParameterGroup, CfnReplicationGroup, CfnSubnetGroup, CfnUser, CfnUserGroup } from 'aws-cdk-lib/aws-elasticache';
import { ApiDestination, Authorization, Connection, HttpMethod, Rule, type EventPattern } from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { ManagedPolicy, PolicyDocument, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ARecord, HostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { LoadBalancerTarget } from 'aws-cdk-lib/aws-route53-targets';
import { BlockPublicAccess, Bucket, BucketEncryption, CfnBucketPolicy, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';
import { evidenceBucketPolicy, memoryDocumentResource } from './evidence';
import { BOT_ROLE_NAME, botPolicy, DENY_ALL_POLICY_NAME, denyAllPolicy } from './policy';
import type { BotSecrets } from './secrets-stack';
import { REPO_ROOT, type DeploySettings } from './settings';

/** The four kinds of event POST /aws/events takes (src/findings/events.ts), one rule each. */
export const EVENT_PATTERNS: Record<string, EventPattern> = {
  GuardDutyFindings: { source: ['aws.guardduty'], detailType: ['GuardDuty Finding'] },
  SecurityHubFindingsImported: { source: ['aws.securityhub'], detailType: ['Security Hub Findings - Imported'] },
  SecurityHubV2FindingsImported: { source: ['aws.securityhub'], detailType: ['Findings Imported V2'] },
  SecurityHubCustomAction: { source: ['aws.securityhub'], detailType: ['Security Hub Findings - Custom Action'] },
};

const PORT = 3000;
const REDIS_PORT = 6380;
const AUDIT_EXPORT_DIR = '/app/audit-export';
const HEALTH_CHECK = ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${PORT}/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))`];

/**
 * The image reads its config from a file (IR_CONFIG) and Redis from one URL. Fargate has no host
 * files, and the URL must carry the ElastiCache password from Secrets Manager, so a shell writes
 * the file from IR_CONFIG_YAML, builds REDIS_URL, then execs node (which gets SIGTERM directly).
 */
function startCommand(processName: 'bot' | 'worker', composeRedisUrl: boolean): string[] {
  const lines = [
    'set -e',
    'umask 077',
    'printf "%s" "$IR_CONFIG_YAML" > /tmp/ir-bot.yaml',
    'unset IR_CONFIG_YAML',
    'export IR_CONFIG=/tmp/ir-bot.yaml',
    ...(composeRedisUrl ? ['export REDIS_URL="rediss://irbot:$REDIS_PASSWORD@$REDIS_HOST:$REDIS_PORT"', 'unset REDIS_PASSWORD'] : []),
    `exec node dist/main.js ${processName}`,
  ];
  return ['/bin/sh', '-c', lines.join('\n')];
}

export interface IrBotStackProps extends StackProps {
  settings: DeploySettings;
  secrets: BotSecrets;
}

export class IrBotStack extends Stack {
  readonly botService: ecs.FargateService;
  readonly workerService: ecs.FargateService;
  readonly workerRole: Role;
  readonly deadLetterQueue: Queue;
  readonly replicationGroup?: CfnReplicationGroup;

  constructor(scope: Construct, id: string, props: IrBotStackProps) {
    super(scope, id, props);
    const { settings, secrets } = props;

    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: settings.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      flowLogs: {
        rejected: {
          destination: FlowLogDestination.toCloudWatchLogs(new LogGroup(this, 'VpcFlowLogs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY })),
        },
      },
    });
    const appSg = new SecurityGroup(this, 'AppSg', { vpc, description: 'ir-bot bot and worker tasks' });

    // Redis: ElastiCache (Multi-AZ, TLS, at-rest encryption, ACL user irbot) or an existing one.
    const composeRedisUrl = !settings.redisUrlSecretArn;
    let redisEnv: Record<string, string> = {};
    let redisSecrets: Record<string, ecs.Secret>;
    if (settings.redisUrlSecretArn) {
      redisSecrets = { REDIS_URL: ecs.Secret.fromSecretsManager(Secret.fromSecretCompleteArn(this, 'ExistingRedisUrl', settings.redisUrlSecretArn)) };
    } else {
      if (!secrets.redisPassword) throw new Error('the secrets stack made no Redis password, but no redisUrlSecretArn was given');
      const redisSg = new SecurityGroup(this, 'RedisSg', { vpc, description: 'ir-bot ElastiCache', allowAllOutbound: false });
      redisSg.addIngressRule(appSg, Port.tcp(REDIS_PORT), 'bot and worker tasks');
      const subnets = new CfnSubnetGroup(this, 'RedisSubnets', {
        description: 'ir-bot Redis, isolated subnets',
        subnetIds: vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_ISOLATED }).subnetIds,
      });
      // BullMQ must never lose a key to eviction: it would lose jobs and locks silently.
      const params = new CfnParameterGroup(this, 'RedisParams', {
        cacheParameterGroupFamily: 'redis7',
        description: 'ir-bot: noeviction (BullMQ)',
        properties: { 'maxmemory-policy': 'noeviction' },
      });
      // Like docker-compose: the default user is off, the bot connects as irbot, which may not flush.
      const defaultUser = new CfnUser(this, 'RedisDefaultUser', {
        engine: 'redis',
        userId: 'ir-bot-default-off',
        userName: 'default',
        accessString: 'off -@all',
        noPasswordRequired: true,
      });
      const botUser = new CfnUser(this, 'RedisBotUser', {
        engine: 'redis',
        userId: 'ir-bot-irbot',
        userName: 'irbot',
        accessString: 'on ~* &* +@all -flushall -flushdb',
        passwords: [secrets.redisPassword.secretValue.unsafeUnwrap()],
      });
      const users = new CfnUserGroup(this, 'RedisUsers', { engine: 'redis', userGroupId: 'ir-bot', userIds: [defaultUser.userId, botUser.userId] });
      users.addResourceDependency(defaultUser);
      users.addResourceDependency(botUser);
      const rg = new CfnReplicationGroup(this, 'Redis', {
        replicationGroupDescription: 'ir-bot: BullMQ queues and bot state',
        engine: 'redis',
        engineVersion: '7.1',
        cacheNodeType: settings.redisNodeType,
        // A primary and two replicas: with REDIS_WAIT_REPLICAS=1 (below) an acknowledged finding is
        // on a replica before the 202, and one lost node still leaves a replica to confirm writes.
        numCacheClusters: 3,
        multiAzEnabled: true,
        automaticFailoverEnabled: true,
        transitEncryptionEnabled: true,
        transitEncryptionMode: 'required',
        atRestEncryptionEnabled: true,
        userGroupIds: [users.ref],
        port: REDIS_PORT,
        cacheParameterGroupName: params.ref,
        cacheSubnetGroupName: subnets.ref,
        securityGroupIds: [redisSg.securityGroupId],
        autoMinorVersionUpgrade: true,
        snapshotRetentionLimit: 7,
        snapshotWindow: '03:00-04:00',
        preferredMaintenanceWindow: 'sun:05:00-sun:06:00',
      });
      rg.addResourceDependency(users);
      this.replicationGroup = rg;
      // The primary endpoint follows a failover by DNS; ioredis reconnects to it.
      redisEnv = { REDIS_HOST: rg.attrPrimaryEndPointAddress, REDIS_PORT: rg.attrPrimaryEndPointPort, REDIS_WAIT_REPLICAS: '1' };
      redisSecrets = { REDIS_PASSWORD: ecs.Secret.fromSecretsManager(secrets.redisPassword) };
    }

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const image = ecs.ContainerImage.fromAsset(REPO_ROOT, {
      platform: Platform.LINUX_AMD64,
      // Only what the Dockerfile copies: the staged asset (and its hash) ignores everything else.
      exclude: ['**', '!Dockerfile', '!package.json', '!package-lock.json', '!tsconfig.json', '!tsconfig.build.json', '!src/**', '!config/ir-bot.example.yaml'],
    });
    const environment = {
      SLACK_MODE: 'http',
      PORT: String(PORT),
      AWS_REGION: Aws.REGION,
      LOG_LEVEL: 'info',
      IR_CONFIG_YAML: settings.configText,
      ...redisEnv,
    };
    const appSecrets = {
      SLACK_BOT_TOKEN: ecs.Secret.fromSecretsManager(secrets.slackBotToken),
      SLACK_SIGNING_SECRET: ecs.Secret.fromSecretsManager(secrets.slackSigningSecret),
      INGEST_API_KEY: ecs.Secret.fromSecretsManager(secrets.ingestApiKey),
      ...redisSecrets,
    };

    const taskDefinition = (name: 'bot' | 'worker', taskRole: Role) => {
      const td = new ecs.FargateTaskDefinition(this, `${name === 'bot' ? 'Bot' : 'Worker'}Task`, {
        cpu: 512,
        memoryLimitMiB: 1024,
        taskRole,
        runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      });
      td.addVolume({ name: 'tmp' });
      const logGroup = new LogGroup(this, `${name === 'bot' ? 'Bot' : 'Worker'}Logs`, { retention: RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.RETAIN });
      const container = td.addContainer(name, {
        image,
        command: startCommand(name, composeRedisUrl),
        entryPoint: [],
        user: 'node',
        readonlyRootFilesystem: true,
        environment,
        secrets: appSecrets,
        logging: ecs.LogDrivers.awsLogs({ streamPrefix: name, logGroup }),
        healthCheck: { command: HEALTH_CHECK, interval: Duration.seconds(30), timeout: Duration.seconds(5), startPeriod: Duration.seconds(30), retries: 3 },
        portMappings: [{ containerPort: PORT }],
        // SIGTERM lets running jobs finish (docker-compose gives 30 s too).
        stopTimeout: Duration.seconds(30),
      });
      container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });
      return { td, container };
    };

    // Only the worker calls AWS; the internet-facing bot process gets a role with no rights at all.
    const botRole = new Role(this, 'BotTaskRole', { assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com'), description: 'ir-bot Slack-facing process: no AWS rights' });
    this.workerRole = new Role(this, 'WorkerTaskRole', {
      roleName: BOT_ROLE_NAME,
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'ir-bot worker: iam/ir-bot-policy.json; member accounts trust this role (ir-responder)',
      inlinePolicies: { 'ir-bot': PolicyDocument.fromJson(botPolicy(settings.policyNames)) },
    });

    // deny-principal in this account attaches this one policy: the worker may attach no other (iam:PolicyARN).
    new ManagedPolicy(this, 'DenyAll', {
      managedPolicyName: DENY_ALL_POLICY_NAME,
      description: 'ir-bot deny-principal: attached to a compromised user or role, detached on undo',
      document: PolicyDocument.fromJson(denyAllPolicy()),
    });

    const bot = taskDefinition('bot', botRole);
    const worker = taskDefinition('worker', this.workerRole);

    // audit.exportDir: the worker writes the audit entries trimmed from Redis, one JSONL file a day.
    const auditFs = new FileSystem(this, 'AuditExport', {
      vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      encrypted: true,
      throughputMode: ThroughputMode.ELASTIC,
      removalPolicy: RemovalPolicy.RETAIN,
      enableAutomaticBackups: true,
    });
    auditFs.connections.allowDefaultPortFrom(appSg);
    const accessPoint = auditFs.addAccessPoint('Worker', { path: '/audit-export', posixUser: { uid: '1000', gid: '1000' }, createAcl: { ownerUid: '1000', ownerGid: '1000', permissions: '750' } });
    worker.td.addVolume({
      name: 'audit-export',
      efsVolumeConfiguration: { fileSystemId: auditFs.fileSystemId, transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: accessPoint.accessPointId, iam: 'ENABLED' } },
    });
    worker.container.addMountPoints({ sourceVolume: 'audit-export', containerPath: AUDIT_EXPORT_DIR, readOnly: false });
    auditFs.grant(this.workerRole, 'elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite');

    const service = (name: string, td: ecs.FargateTaskDefinition, desiredCount: number) =>
      new ecs.FargateService(this, name, {
        cluster,
        taskDefinition: td,
        desiredCount,
        securityGroups: [appSg],
        vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
        circuitBreaker: { rollback: true },
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
      });
    this.botService = service('BotService', bot.td, settings.botCount);
    this.workerService = service('WorkerService', worker.td, settings.workerCount);

    // HTTPS in front of the bot: Slack and EventBridge call it from the internet.
    const accessLogs = new Bucket(this, 'LoadBalancerLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const lbSg = new SecurityGroup(this, 'LoadBalancerSg', { vpc, description: 'ir-bot load balancer: HTTPS from Slack and EventBridge', allowAllOutbound: false });
    lbSg.addIngressRule(Peer.anyIpv4(), Port.tcp(443), 'Slack and EventBridge API destinations (no fixed source ranges)');
    const lb = new ApplicationLoadBalancer(this, 'LoadBalancer', { vpc, internetFacing: true, securityGroup: lbSg, dropInvalidHeaderFields: true });
    lb.logAccessLogs(accessLogs, 'alb');
    const listener = lb.addListener('Https', {
      port: 443,
      protocol: ApplicationProtocol.HTTPS,
      sslPolicy: SslPolicy.RECOMMENDED_TLS,
      certificates: [ListenerCertificate.fromArn(settings.certificateArn)],
      defaultAction: ListenerAction.fixedResponse(404, { contentType: 'text/plain', messageBody: 'not found' }),
    });
    listener.addTargets('Bot', {
      port: PORT,
      protocol: ApplicationProtocol.HTTP,
      targets: [this.botService],
      healthCheck: { path: '/healthz', healthyHttpCodes: '200', interval: Duration.seconds(15) },
      deregistrationDelay: Duration.seconds(30),
      priority: 10,
      // Only the routes outsiders need; /metrics stays unreachable from the internet.
      conditions: [ListenerCondition.pathPatterns(['/slack/events', '/aws/events', '/healthz'])],
    });
    appSg.addIngressRule(lbSg, Port.tcp(PORT), 'load balancer to the bot');
    lbSg.addEgressRule(appSg, Port.tcp(PORT), 'load balancer to the bot');

    if (settings.hostedZone) {
      const zone = HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: settings.hostedZone.id, zoneName: settings.hostedZone.name });
      new ARecord(this, 'Alias', { zone, recordName: settings.domainName, target: RecordTarget.fromAlias(new LoadBalancerTarget(lb)) });
    }

    // EventBridge → POST /aws/events with the x-api-key header; failures land in an encrypted DLQ.
    this.deadLetterQueue = new Queue(this, 'EventsDeadLetter', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const connection = new Connection(this, 'IngestConnection', {
      description: 'ir-bot POST /aws/events (INGEST_API_KEY)',
      authorization: Authorization.apiKey('x-api-key', secrets.ingestApiKey.secretValue),
    });
    const destination = new ApiDestination(this, 'IngestDestination', {
      connection,
      endpoint: `https://${settings.domainName}/aws/events`,
      httpMethod: HttpMethod.POST,
      rateLimitPerSecond: settings.eventRateLimitPerSecond,
      description: 'ir-bot POST /aws/events',
    });
    const target = new targets.ApiDestination(destination, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 185,
      maxEventAge: Duration.hours(24),
    });
    for (const [name, eventPattern] of Object.entries(EVENT_PATTERNS)) {
      new Rule(this, name, { eventPattern, targets: [target], description: `ir-bot: ${eventPattern.detailType?.join(', ')} to POST /aws/events` });
    }

    const alarmTopic = settings.alarmTopicArn ? Topic.fromTopicArn(this, 'AlarmTopic', settings.alarmTopicArn) : undefined;
    const dlqAlarm = new Alarm(this, 'EventsDeadLetterAlarm', {
      alarmDescription: 'EventBridge could not deliver findings to ir-bot (after retries): see the messages in the dead-letter queue',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    if (alarmTopic) dlqAlarm.addAlarmAction(new SnsAction(alarmTopic));

    new CfnOutput(this, 'LoadBalancerDns', { value: lb.loadBalancerDnsName, description: `Point ${settings.domainName} here (CNAME or alias) unless hostedZoneId was given` });
    new CfnOutput(this, 'SlackRequestUrl', { value: `https://${settings.domainName}/slack/events`, description: 'Request URL for the Slack app (events, interactivity, /ir)' });
    new CfnOutput(this, 'BotRoleArn', { value: this.workerRole.roleArn, description: 'The role member accounts trust (ir-responder)' });

    const evidenceBucket = settings.policyNames.evidenceBucket;
    if (evidenceBucket) {
      // The bot captures in its own account and region with the same document the member accounts get.
      const doc = memoryDocumentResource(settings.policyNames);
      new CfnResource(this, 'MemoryCaptureDocument', { type: doc.Type as string, properties: doc.Properties as Record<string, unknown> });
      if (settings.evidence.manageBucketPolicy) {
        new CfnBucketPolicy(this, 'EvidenceBucketPolicy', {
          bucket: evidenceBucket,
          policyDocument: evidenceBucketPolicy({ bucket: evidenceBucket, prefix: settings.evidence.prefix, botRoleArn: this.workerRole.roleArn, organizationId: settings.evidence.organizationId }),
        });
      }
    }
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });

    this.suppress();
  }

  /** Each cdk-nag finding left, and why it stays. */
  private suppress(): void {
    const path = (p: string) => `/${this.stackName}/${p}`;
    NagSuppressions.addResourceSuppressionsByPath(this, path('WorkerTaskRole/Resource'), [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'The policy is iam/ir-bot-policy.json: the bot acts on instances, snapshots, groups, keys and findings it learns of from findings, in any member account and region, so resources are patterns narrowed by tag conditions; test/iam-policy.test.ts checks every action against the code and every write on "*" against iam/ir-bot-policy.reasons.json.',
      },
    ]);
    NagSuppressions.addResourceSuppressionsByPath(
      this,
      [path('BotTask/ExecutionRole/DefaultPolicy/Resource'), path('WorkerTask/ExecutionRole/DefaultPolicy/Resource')],
      [{ id: 'AwsSolutions-IAM5', reason: 'ecr:GetAuthorizationToken has no resource-level permissions; every other statement names the image repository, log group and secrets.', appliesTo: ['Resource::*'] }],
    );
    NagSuppressions.addResourceSuppressionsByPath(this, [path('BotTask/Resource'), path('WorkerTask/Resource')], [
      {
        id: 'AwsSolutions-ECS2',
        reason: 'The environment holds no secret: process mode, port, region, log level, the bot config file (channel and user IDs, no credentials) and the Redis host; every credential comes from Secrets Manager as an ECS secret.',
      },
    ]);
    NagSuppressions.addResourceSuppressionsByPath(this, path('LoadBalancerSg/Resource'), [
      { id: 'AwsSolutions-EC23', reason: 'Slack and EventBridge API destinations call from AWS and Slack address space without published fixed ranges; every request is authenticated by the bot (Slack signature, x-api-key), and only HTTPS 443 is open.' },
    ]);
    NagSuppressions.addResourceSuppressionsByPath(this, path('LoadBalancerLogs/Resource'), [
      { id: 'AwsSolutions-S1', reason: 'This bucket only receives the load balancer access logs; logging its own access would need another bucket for a log of logs.' },
    ]);
    NagSuppressions.addResourceSuppressionsByPath(this, path('EventsDeadLetter/Resource'), [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the EventBridge targets; an alarm (EventsDeadLetterAlarm) fires on its first message.' },
    ]);
    if (this.replicationGroup) {
      NagSuppressions.addResourceSuppressionsByPath(this, path('Redis'), [
        { id: 'AwsSolutions-AEC6', reason: 'Authentication is RBAC instead of an AUTH token: user group ir-bot with the default user off and user irbot (password from Secrets Manager), which cannot FLUSHALL/FLUSHDB, as in docker-compose.yml.' },
      ]);
    }
  }
}

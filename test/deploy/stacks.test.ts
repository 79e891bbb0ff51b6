import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../deploy/lib/app';
import { EXAMPLE_CONTEXT } from '../../deploy/lib/example-context';
import { readSettings } from '../../deploy/lib/settings';
import { matchesPattern } from '../support/event-pattern';
import { shippedPolicy, unjustifiedWritesOnStar, type Policy } from '../support/iam-policy';

// One synthesis per app: CDK takes seconds, more under ts-jest on a loaded machine.
jest.setTimeout(180_000);

/** Names unlike the policy's examples, so a substitution that did nothing would show. */
const NAMES = {
  cloudTrailBucket: 'acme-org-trail',
  vpcFlowLogsBucket: 'acme-flow-logs',
  evidenceBucket: 'acme-ir-evidence',
  toolsBucket: 'acme-ir-tools',
  athenaResultsBucket: 'acme-athena',
  athenaResultsPrefix: 'hunts/',
  athenaWorkgroup: 'soc',
  athenaDatabase: 'seclogs',
  manageEvidenceBucketPolicy: 'true',
  organizationId: 'o-a1b2c3d4e5',
  memoryDocumentRegions: 'us-east-1,eu-west-1',
};
const CORPUS = join(__dirname, '../../../shared/corpus/findings');
const FIXTURES = join(__dirname, '../fixtures');

type Resources = Record<string, { Type: string; Properties: any }>;
const ofType = (t: Template, type: string) => Object.values(t.toJSON().Resources as Resources).filter((r) => r.Type === type);

const outdirs: string[] = [];
function synth(context: Record<string, unknown>) {
  const outdir = mkdtempSync(join(tmpdir(), 'ir-bot-cdk-test-'));
  outdirs.push(outdir);
  const built = buildApp(context, outdir);
  // Annotations.fromStack synthesizes (forced) once; the templates then come from that assembly.
  const annotations = [built.bot, built.secrets, built.responders!].map((s) => Annotations.fromStack(s));
  const assembly = built.app.synth();
  const template = (name: string) => Template.fromJSON(assembly.getStackByName(name).template);
  return { annotations, bot: template('IrBot'), secrets: template('IrBotSecrets'), responders: template('IrBotResponders') };
}

let app: ReturnType<typeof synth>;
beforeAll(() => {
  app = synth({ ...EXAMPLE_CONTEXT, ...NAMES });
});
afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function containers() {
  const defs = ofType(app.bot, 'AWS::ECS::TaskDefinition').map((r) => r.Properties.ContainerDefinitions[0]);
  const byName = (n: string) => defs.find((d) => d.Name === n)!;
  return { bot: byName('bot'), worker: byName('worker') };
}

describe('deploy/: the AWS deployment (CDK)', () => {
  it('runs the bot and the workers on Fargate from our image, as the node user, with logs and /healthz', () => {
    const services = ofType(app.bot, 'AWS::ECS::Service');
    expect(services).toHaveLength(2);
    for (const s of services) expect(s.Properties.LaunchType).toBe('FARGATE');
    const { bot, worker } = containers();
    for (const [name, c] of Object.entries({ bot, worker })) {
      expect(c.Command.at(-1)).toMatch(new RegExp(`\\nexec node dist/main\\.js ${name}$`));
      expect(c.User).toBe('node');
      expect(c.ReadonlyRootFilesystem).toBe(true);
      expect(c.LogConfiguration.LogDriver).toBe('awslogs');
      expect(c.HealthCheck.Command.join(' ')).toContain('/healthz');
      expect(c.Image['Fn::Sub']).toContain('cdk-hnb659fds-container-assets');
    }
    app.bot.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPath: '/healthz', Port: 3000 });
    app.bot.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: EXAMPLE_CONTEXT.certificateArn }] });
    app.bot.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing' });
  });

  it('gives the tasks the credentials from Secrets Manager under the names of .env.example, and nothing secret in plain env', () => {
    const envExample = readFileSync(join(__dirname, '../../.env.example'), 'utf8');
    const { bot, worker } = containers();
    for (const c of [bot, worker]) {
      const secretNames = c.Secrets.map((s: { Name: string }) => s.Name).sort();
      expect(secretNames).toEqual(['INGEST_API_KEY', 'REDIS_PASSWORD', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET']);
      for (const s of c.Secrets) expect(JSON.stringify(s.ValueFrom)).toMatch(/Fn::ImportValue|secretsmanager/);
      // Every variable the bot reads is one .env.example documents; the rest feed the start command.
      for (const { Name } of [...c.Environment, ...c.Secrets]) {
        if (!['IR_CONFIG_YAML', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD'].includes(Name)) expect(envExample).toMatch(new RegExp(`^${Name}=`, 'm'));
      }
      expect(c.Environment).toEqual(expect.arrayContaining([{ Name: 'SLACK_MODE', Value: 'http' }]));
      expect(c.Command.at(-1)).toContain('export REDIS_URL="rediss://irbot:$REDIS_PASSWORD@$REDIS_HOST:$REDIS_PORT"');
    }
  });

  it('creates a Multi-AZ ElastiCache replication group (primary and two replicas; the tasks wait for one) with TLS, encryption at rest, the irbot ACL user and noeviction', () => {
    app.bot.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      NumCacheClusters: 3,
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
      UserGroupIds: Match.anyValue(),
    });
    app.bot.hasResourceProperties('AWS::ElastiCache::ParameterGroup', { Properties: { 'maxmemory-policy': 'noeviction' } });
    app.bot.hasResourceProperties('AWS::ElastiCache::User', { UserName: 'default', AccessString: 'off -@all' });
    const irbot = ofType(app.bot, 'AWS::ElastiCache::User').find((u) => u.Properties.UserName === 'irbot')!;
    expect(JSON.stringify(irbot.Properties.Passwords)).toContain('{{resolve:secretsmanager:');
    const { bot } = containers();
    expect(JSON.stringify(bot.Environment)).toContain('PrimaryEndPoint.Address');
    expect(bot.Environment).toEqual(expect.arrayContaining([{ Name: 'REDIS_WAIT_REPLICAS', Value: '1' }]));
  });

  it('delivers findings through an API destination with the x-api-key header, retries and an encrypted dead-letter queue with an alarm', () => {
    const [connection] = ofType(app.bot, 'AWS::Events::Connection');
    expect(connection.Properties).toMatchObject({ AuthorizationType: 'API_KEY', AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'x-api-key' } } });
    expect(JSON.stringify(connection.Properties.AuthParameters.ApiKeyAuthParameters.ApiKeyValue)).toContain('{{resolve:secretsmanager:');
    app.bot.hasResourceProperties('AWS::Events::ApiDestination', { HttpMethod: 'POST', InvocationEndpoint: 'https://ir-bot.example.com/aws/events' });
    app.bot.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    const rules = ofType(app.bot, 'AWS::Events::Rule');
    expect(rules).toHaveLength(4);
    for (const r of rules) {
      expect(r.Properties.Targets).toHaveLength(1);
      expect(r.Properties.Targets[0]).toMatchObject({ RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 }, DeadLetterConfig: { Arn: expect.anything() } });
    }
    app.bot.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
  });

  it('routes every real event of the four kinds POST /aws/events takes to its rule, and nothing else', () => {
    const patterns = ofType(app.bot, 'AWS::Events::Rule').map((r) => r.Properties.EventPattern);
    // The corpus (CI lays shared/ beside the clone) when it is there; our fixtures always.
    const corpus = existsSync(CORPUS) ? readdirSync(CORPUS).map((f) => join(CORPUS, f)) : [];
    const events = [...corpus, ...readdirSync(FIXTURES).map((f) => join(FIXTURES, f))]
      .filter((f) => f.endsWith('.json') && !f.endsWith('manifest.json'))
      .map((f) => ({ f, e: JSON.parse(readFileSync(f, 'utf8')) }))
      .filter(({ e }) => typeof e?.['detail-type'] === 'string');
    const kinds = ['GuardDuty Finding', 'Security Hub Findings - Imported', 'Findings Imported V2', 'Security Hub Findings - Custom Action'];
    const seen = new Set<string>();
    for (const { f, e } of events) {
      const matched = patterns.filter((p) => matchesPattern(p, e));
      const expected = kinds.includes(e['detail-type']) ? 1 : 0;
      if (matched.length !== expected) throw new Error(`${f} (${e['detail-type']}) matched ${matched.length} rules`);
      if (expected) {
        expect(matched[0]['detail-type']).toEqual([e['detail-type']]);
        seen.add(e['detail-type']);
      }
    }
    expect([...seen].sort()).toEqual([...kinds].sort());
    // Insight results and the pre-2019 detail-type are in the corpus; they reach no rule (above).
    if (corpus.length) expect(events.some(({ e }) => e['detail-type'] === 'Security Hub Insight Results')).toBe(true);
    const stateChange = { source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification', detail: { state: 'running' } };
    expect(patterns.filter((p) => matchesPattern(p, stateChange))).toEqual([]);
    expect(patterns.filter((p) => matchesPattern(p, { ...stateChange, 'detail-type': 'GuardDuty Finding' }))).toEqual([]);
  });

  it("gives the worker role ir-bot exactly iam/ir-bot-policy.json with this deployment's names, and the bot process no rights", () => {
    const expected = JSON.parse(
      readFileSync(join(__dirname, '../../iam/ir-bot-policy.json'), 'utf8')
        .replaceAll('example-athena-results/ir-bot/', 'acme-athena/hunts/')
        .replaceAll('example-athena-results', 'acme-athena')
        .replaceAll('example-cloudtrail-logs', 'acme-org-trail')
        .replaceAll('example-vpc-flow-logs', 'acme-flow-logs')
        .replaceAll('example-ir-evidence', 'acme-ir-evidence')
        .replaceAll('example-ir-tools', 'acme-ir-tools')
        .replaceAll('workgroup/primary', 'workgroup/soc')
        .replaceAll('security_logs', 'seclogs'),
    );
    const roles = ofType(app.bot, 'AWS::IAM::Role').filter((r) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('ecs-tasks.amazonaws.com') && r.Properties.Description?.startsWith('ir-bot'));
    const worker = roles.find((r) => r.Properties.RoleName === 'ir-bot')!;
    // CDK writes a one-element Action or Resource list as a string: the same policy to IAM.
    const normalize = (p: Policy) => ({ ...p, Statement: p.Statement.map((st) => ({ ...st, Action: [st.Action].flat(), Resource: [st.Resource].flat() })) });
    expect(worker.Properties.Policies).toHaveLength(1);
    expect(worker.Properties.Policies[0].PolicyName).toBe('ir-bot');
    expect(normalize(worker.Properties.Policies[0].PolicyDocument)).toEqual(normalize(expected));
    expect(unjustifiedWritesOnStar(worker.Properties.Policies[0].PolicyDocument as Policy)).toEqual([]);
    const bot = roles.find((r) => r.Properties.RoleName === undefined)!;
    expect(bot.Properties.Policies).toBeUndefined();
    expect(JSON.stringify(app.bot.toJSON())).not.toMatch(/ManagedPolicyArns/);
  });

  it('installs ir-responder in every member account through a service-managed StackSet, trusting only the bot role, with SetSourceIdentity', () => {
    const [set] = ofType(app.responders, 'AWS::CloudFormation::StackSet');
    expect(set.Properties).toMatchObject({
      PermissionModel: 'SERVICE_MANAGED',
      AutoDeployment: { Enabled: true },
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      StackInstancesGroup: [{ DeploymentTargets: { OrganizationalUnitIds: ['ou-ab12-abcdefgh'] }, Regions: ['us-east-1'] }],
    });
    const botRoleArn = set.Properties.Parameters.find((p: { ParameterKey: string }) => p.ParameterKey === 'BotRoleArn').ParameterValue;
    expect(JSON.stringify(botRoleArn)).toMatch(/:role\/ir-bot"/);
    const member = Template.fromJSON(JSON.parse(set.Properties.TemplateBody));
    const [role] = ofType(member, 'AWS::IAM::Role');
    expect(role.Properties.RoleName).toBe('ir-responder');
    const trust = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(trust).toEqual([{ Sid: expect.any(String), Effect: 'Allow', Principal: { AWS: { Ref: 'BotRoleArn' } }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }]);
    expect(trust[0].Condition).toBeUndefined();
    // The bot's policy minus assuming responders, with the same names.
    const shipped = shippedPolicy();
    const memberPolicy = role.Properties.Policies[0].PolicyDocument as Policy;
    expect(memberPolicy.Statement.map((s) => s.Sid)).toEqual(shipped.Statement.map((s) => s.Sid).filter((s) => s !== 'AssumeResponderRole'));
    expect(JSON.stringify(memberPolicy)).toContain('arn:aws:s3:::acme-ir-evidence/*');
  });

  it('creates the managed deny-all that deny-principal attaches, in the bot account and in every member account', () => {
    const shipped = JSON.parse(readFileSync(join(__dirname, '../../iam/ir-bot-deny-all-policy.json'), 'utf8'));
    const asShipped = (doc: Policy) => ({ ...doc, Statement: doc.Statement.map((st) => ({ ...st, Action: [st.Action].flat(), Resource: [st.Resource].flat() })) });
    const [own] = ofType(app.bot, 'AWS::IAM::ManagedPolicy').filter((r) => r.Properties.ManagedPolicyName === 'ir-bot-deny-all');
    expect(asShipped(own.Properties.PolicyDocument)).toEqual(asShipped(shipped));
    const [set] = ofType(app.responders, 'AWS::CloudFormation::StackSet');
    const [member] = ofType(Template.fromJSON(JSON.parse(set.Properties.TemplateBody)), 'AWS::IAM::ManagedPolicy');
    expect(member.Properties.ManagedPolicyName).toBe('ir-bot-deny-all');
    expect(asShipped(member.Properties.PolicyDocument)).toEqual(asShipped(shipped));
  });

  it('creates our memory capture document (bot account, and every member account and region) and the evidence bucket policy member responder roles need', () => {
    const shipped = JSON.parse(readFileSync(join(__dirname, '../../deploy/ssm/memory-capture.json'), 'utf8'));
    const [doc] = ofType(app.bot, 'AWS::SSM::Document');
    // As shipped, but its URLs pinned to this deployment's buckets (checked below).
    const deployed = { ...shipped, parameters: { ...shipped.parameters, toolUrl: { ...shipped.parameters.toolUrl, allowedPattern: expect.any(String) }, uploadUrl: { ...shipped.parameters.uploadUrl, allowedPattern: expect.any(String) } } };
    expect(doc.Properties).toMatchObject({ Name: 'ir-bot-memory-capture', DocumentType: 'Command', Content: deployed });
    const set = ofType(app.responders, 'AWS::CloudFormation::StackSet').find((x) => x.Properties.StackSetName === 'ir-bot-memory-document')!;
    expect(set.Properties.StackInstancesGroup).toEqual([{ DeploymentTargets: { OrganizationalUnitIds: ['ou-ab12-abcdefgh'] }, Regions: ['us-east-1', 'eu-west-1'] }]);
    const member = JSON.parse(set.Properties.TemplateBody).Resources.MemoryCaptureDocument.Properties;
    expect(member).toMatchObject({ Name: 'ir-bot-memory-capture', Content: deployed });
    for (const content of [doc.Properties.Content, member.Content]) {
      // The document runs what toolUrl serves as root and sends memory to uploadUrl: only our buckets.
      const tool = new RegExp(content.parameters.toolUrl.allowedPattern);
      const upload = new RegExp(content.parameters.uploadUrl.allowedPattern);
      expect(tool.test('https://acme-ir-tools.s3.eu-west-1.amazonaws.com/avml/avml?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-Signature=0a1b')).toBe(true);
      expect(upload.test('https://acme-ir-evidence.s3.us-east-1.amazonaws.com/memory/case-1/i-0a1b2c3d4e5f60718/memory-i-0a1b2c3d4e5f60718-1.lime?X-Amz-Expires=720&x-id=PutObject')).toBe(true);
      expect(tool.test('') && upload.test('')).toBe(true);
      for (const elsewhere of ['https://attacker.example/avml', 'https://acme-ir-tools.s3.eu-west-1.s3.us-east-1.amazonaws.com/avml', 'https://s3.us-east-1.amazonaws.com/acme-ir-tools-x/avml', 'https://acme-ir-tools.s3.eu-west-1.amazonaws.com.attacker.example/avml']) {
        expect(tool.test(elsewhere)).toBe(false);
      }
      expect(upload.test('https://attacker.example/memory.lime')).toBe(false);
      expect(upload.test('https://acme-ir-tools.s3.us-east-1.amazonaws.com/memory.lime')).toBe(false);
    }
    const policy = ofType(app.bot, 'AWS::S3::BucketPolicy').find((x) => x.Properties.Bucket === 'acme-ir-evidence')!;
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements.find((x: { Sid: string }) => x.Sid === 'MemberResponderRolesWriteImages')).toEqual({
      Sid: 'MemberResponderRolesWriteImages',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: ['s3:PutObject', 's3:GetObject', 's3:PutObjectTagging'],
      Resource: 'arn:aws:s3:::acme-ir-evidence/memory/*',
      Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' }, ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/ir-responder' } },
    });
    expect(statements.find((x: { Sid: string }) => x.Sid === 'NoOverwrite')).toMatchObject({ Effect: 'Deny', Action: ['s3:PutObject'], Condition: { Null: { 's3:if-none-match': 'true' } } });
  });

  it('leaves no cdk-nag AwsSolutions error or warning unsuppressed, and every suppression gives its reason', () => {
    for (const a of app.annotations) {
      expect(a.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
      expect(a.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    }
    const suppressions = [app.bot, app.secrets, app.responders].flatMap((t) =>
      Object.values(t.toJSON().Resources as Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: Array<{ id: string; reason: string }> } } }>).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []),
    );
    expect(suppressions.length).toBeGreaterThan(5);
    for (const s of suppressions) expect(s.reason.length).toBeGreaterThan(60);
  });

  it('uses an existing Redis instead of ElastiCache when given its URL secret', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:ir-bot/redis-url-AbCdEf';
    const other = synth({ ...EXAMPLE_CONTEXT, redisUrlSecretArn: arn });
    expect(ofType(other.bot, 'AWS::ElastiCache::ReplicationGroup')).toEqual([]);
    expect(ofType(other.bot, 'AWS::ElastiCache::User')).toEqual([]);
    const c = ofType(other.bot, 'AWS::ECS::TaskDefinition')[0].Properties.ContainerDefinitions[0];
    expect(c.Secrets).toEqual(expect.arrayContaining([{ Name: 'REDIS_URL', ValueFrom: arn }]));
    expect(c.Command.at(-1)).not.toContain('REDIS_URL');
    expect(ofType(other.secrets, 'AWS::SecretsManager::Secret')).toHaveLength(3);
    for (const a of other.annotations) expect(a.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
  });

  it('refuses to synthesize without the settings a deployment needs, naming each', () => {
    let message = '';
    try {
      readSettings(() => undefined);
    } catch (err) {
      message = (err as Error).message;
    }
    for (const key of ['region', 'configFile', 'domainName', 'certificateArn', 'athenaResultsBucket', 'cloudTrailBucket', 'vpcFlowLogsBucket']) expect(message).toContain(`-c ${key}=`);
  });
});

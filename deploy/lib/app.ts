import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IrBotStack } from './ir-bot-stack';
import { RespondersStack } from './responders-stack';
import { SecretsStack } from './secrets-stack';
import { readSettings } from './settings';

/** The three stacks, checked by cdk-nag's AwsSolutions rules. Context as `cdk -c key=value` gives it. */
export function buildApp(context: Record<string, unknown> = {}, outdir?: string) {
  // Cross-stack references (the secrets) stay CloudFormation exports, as they always were.
  const app = new App({ context: { '@aws-cdk/core:defaultCrossStackReferences': 'strong', ...context }, outdir, analyticsReporting: false });
  // The CLI's region (profile, AWS_REGION) is the default; the account stays generic.
  const settings = readSettings((key) => (key === 'defaultRegion' ? process.env.CDK_DEFAULT_REGION : app.node.tryGetContext(key)));
  const env = { region: settings.region };
  const secrets = new SecretsStack(app, 'IrBotSecrets', {
    env,
    description: 'ir-bot secrets (Slack credentials, ingest API key, Redis password)',
    createRedisPassword: !settings.redisUrlSecretArn,
  });
  const bot = new IrBotStack(app, 'IrBot', { env, description: 'ir-bot: Slack bot and workers on Fargate, Redis, EventBridge delivery', settings, secrets: secrets.secrets });
  const responders = settings.responders
    ? new RespondersStack(app, 'IrBotResponders', { env, description: 'ir-bot responder role in member accounts (StackSet)', policyNames: settings.policyNames, ...settings.responders, documentRegions: settings.policyNames.evidenceBucket ? settings.evidence.documentRegions : [] })
    : undefined;
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, settings, secrets, bot, responders };
}

import { Stack, type StackProps } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';

export interface BotSecrets {
  slackBotToken: Secret;
  slackSigningSecret: Secret;
  ingestApiKey: Secret;
  /** Password of the ElastiCache user irbot; absent with an existing Redis. */
  redisPassword?: Secret;
}

/**
 * Deployed first, so the Slack credentials can be put before any task starts: a task started
 * with the generated placeholder would fail the bot's config check (token must be xoxb-…).
 */
export class SecretsStack extends Stack {
  readonly secrets: BotSecrets;

  constructor(scope: Construct, id: string, props: StackProps & { createRedisPassword: boolean }) {
    super(scope, id, props);
    // Letters and digits only: the password goes into REDIS_URL unescaped, and ElastiCache refuses some punctuation.
    const generated = (name: string, description: string, length: number) =>
      new Secret(this, name, { secretName: `ir-bot/${name}`, description, generateSecretString: { passwordLength: length, excludePunctuation: true } });
    this.secrets = {
      slackBotToken: generated('slack-bot-token', 'SLACK_BOT_TOKEN: put the xoxb- token of the Slack app', 16),
      slackSigningSecret: generated('slack-signing-secret', 'SLACK_SIGNING_SECRET: put the signing secret of the Slack app', 16),
      ingestApiKey: generated('ingest-api-key', 'INGEST_API_KEY: the x-api-key EventBridge sends to POST /aws/events (generated)', 48),
      redisPassword: props.createRedisPassword ? generated('redis-password', 'Password of ElastiCache user irbot (generated)', 64) : undefined,
    };
    NagSuppressions.addStackSuppressions(this, [
      {
        id: 'AwsSolutions-SMG4',
        reason:
          'No rotation Lambda can rotate these: Slack issues the bot token and signing secret (rotated in the Slack app, then put here); the ingest key is copied into the EventBridge connection and the Redis password into the ElastiCache user at deploy time, so rotating either is a new value plus a stack update that touches those resources (README, Deploy on AWS), which a rotation Lambda alone would not do.',
      },
    ]);
  }
}

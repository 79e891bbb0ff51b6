import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths whose values are secrets wherever they appear in a log object. */
const REDACT = [
  'token',
  '*.token',
  'botToken',
  '*.botToken',
  'appToken',
  '*.appToken',
  'signingSecret',
  '*.signingSecret',
  'ingestApiKey',
  '*.ingestApiKey',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-slack-signature"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers["x-slack-signature"]',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  '*.credentials.SecretAccessKey',
  '*.credentials.SessionToken',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'ir-bot' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

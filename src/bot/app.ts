import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import type { RequestListener } from 'node:http';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import { slackHost, slackLogger } from '../slack/web-client';
import type { BotDeps } from './deps';
import { registerListeners } from './listeners';

export interface BoltApp {
  app: App;
  /** HTTP mode: our server hands `/slack/events` to this. */
  slackRequestListener?: RequestListener;
}

export function createBoltApp(config: Config, log: Logger, deps: BotDeps): BoltApp {
  const logger = slackLogger(log.child({ component: 'bolt', service: 'slack', host: slackHost(config.slackApp.apiUrl) }));
  const clientOptions = { slackApiUrl: config.slackApp.apiUrl };
  if (config.slackApp.mode === 'http') {
    const receiver = new HTTPReceiver({
      signingSecret: config.slackApp.signingSecret ?? '',
      endpoints: '/slack/events',
      logger,
      logLevel: LogLevel.INFO,
    });
    const app = new App({ token: config.slackApp.botToken, receiver, clientOptions, logger });
    registerListeners(app, deps);
    return { app, slackRequestListener: receiver.requestListener };
  }
  const app = new App({
    token: config.slackApp.botToken,
    appToken: config.slackApp.appToken,
    socketMode: true,
    clientOptions,
    logger,
  });
  registerListeners(app, deps);
  return { app };
}

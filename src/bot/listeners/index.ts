import type { App } from '@slack/bolt';
import { ACTION_ID, FINDING_MENU_ACTION_ID } from '../action-ids';
import { responseButton } from './actions/response-button';
import { irCommand } from './commands/ir';

/** Every listener is registered here and implemented in its own file. */
export function registerListeners(app: App): void {
  for (const id of [...Object.values(ACTION_ID), FINDING_MENU_ACTION_ID]) app.action(id, responseButton);
  app.command('/ir', irCommand);
}

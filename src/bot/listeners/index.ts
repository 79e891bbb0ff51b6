import type { App } from '@slack/bolt';
import { ACTION_ID, APPROVE_ACTION_ID, DECLARE_ACTION_ID, HOLD_ACTION_ID, BULK_ACTION_ID, HUNT_CANCEL_ACTION_ID, PIVOT_ACTION_ID, REPORT_ACTION_ID, WORKFLOW_ACTION_ID, FINDING_MENU_ACTION_ID, REJECT_ACTION_ID, RELEASE_ACTION_ID, SHOW_ALL_ACTION_ID, UNDO_ACTION_ID } from '../../views/action-ids';
import type { BotDeps } from '../deps';
import { bulkButton } from './actions/bulk-button';
import { caseButton } from './actions/case-buttons';
import { huntCancelButton, pivotButton } from './actions/hunt-buttons';
import { decisionButton, holdButton } from './actions/decision';
import { responseButton } from './actions/response-button';
import { showAllButton } from './actions/show-all-button';
import { undoButton } from './actions/undo-button';
import { suppressDecisionButton } from './actions/suppress-decision';
import { irCommand } from './commands/ir';
import { catchupButton, declareButton } from './actions/incident-buttons';
import { memberJoined, reactionAdded } from './events/incident-events';
import { CATCHUP_ACTION_ID } from '../../incidents/view';
import { huntSubmit } from './views/hunt-submit';
import { HUNT_MODAL_CALLBACK } from '../../views/hunt-modal';
import { SUPPRESS_APPROVE_ACTION_ID, SUPPRESS_REJECT_ACTION_ID } from '../../views/action-ids';

/** Every listener is registered here and implemented in its own file. */
export function registerListeners(app: App, deps: BotDeps): void {
  const onResponse = responseButton(deps);
  // A card with several resources numbers its repeated buttons (ir_isolate, ir_isolate_1…); the value says what to do.
  for (const id of Object.values(ACTION_ID)) app.action(new RegExp(`^${id}(_\\d+)?$`), onResponse);
  app.action(FINDING_MENU_ACTION_ID, onResponse);
  app.action(APPROVE_ACTION_ID, decisionButton(deps, 'approve'));
  app.action(REJECT_ACTION_ID, decisionButton(deps, 'reject'));
  app.action(HOLD_ACTION_ID, holdButton(deps));
  app.action(RELEASE_ACTION_ID, undoButton(deps, (id) => deps.requests.releaseOf(id)));
  app.action(UNDO_ACTION_ID, undoButton(deps, (id) => deps.requests.undoOf(id)));
  const onBulk = bulkButton(deps);
  for (const id of Object.values(BULK_ACTION_ID)) app.action(id, onBulk);
  for (const [status, id] of Object.entries(WORKFLOW_ACTION_ID)) app.action(id, caseButton(deps, status as keyof typeof WORKFLOW_ACTION_ID));
  app.action(REPORT_ACTION_ID, caseButton(deps, 'report'));
  app.action(SUPPRESS_APPROVE_ACTION_ID, suppressDecisionButton(deps, 'approve'));
  app.action(SUPPRESS_REJECT_ACTION_ID, suppressDecisionButton(deps, 'reject'));
  app.action(SHOW_ALL_ACTION_ID, showAllButton(deps));
  app.action(HUNT_CANCEL_ACTION_ID, huntCancelButton(deps));
  app.action(new RegExp(`^${PIVOT_ACTION_ID}_\\d+$`), pivotButton(deps));
  app.command('/ir', irCommand(deps));
  app.view(HUNT_MODAL_CALLBACK, huntSubmit(deps));
  app.action(DECLARE_ACTION_ID, declareButton(deps));
  app.action(CATCHUP_ACTION_ID, catchupButton(deps));
  app.event('member_joined_channel', memberJoined(deps));
  app.event('reaction_added', reactionAdded(deps));
}

import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { CommandError, HELP_TEXT, parseIrCommand } from '../../commands';

type Args = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/** `/ir`: answered in the acknowledgement itself, so the user sees the result at once. */
export async function irCommand({ ack, command }: Args): Promise<void> {
  let reply: string;
  try {
    const cmd = parseIrCommand(command.text ?? '');
    reply =
      cmd.kind === 'help'
        ? HELP_TEXT
        : `\`/ir ${cmd.kind}\` is understood but not available yet: response actions arrive with the approval pipeline. Nothing was changed in AWS.`;
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    reply = `:warning: ${err.message}`;
  }
  await ack({ response_type: 'ephemeral', text: reply });
}

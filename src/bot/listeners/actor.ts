import type { Actor } from '../authz';

interface InteractionBody {
  user: { id: string; team_id?: string };
  team?: { id?: string } | null;
  enterprise?: { id?: string } | null;
}

/** Who sent a button click or modal, with the workspace ids Slack put in the payload. */
export function actorOf(body: InteractionBody): Actor {
  return { userId: body.user.id, teamIds: [body.user.team_id, body.team?.id ?? undefined], enterpriseId: body.enterprise?.id ?? undefined };
}

/** Who typed a slash command. */
export function commandActor(command: { user_id: string; team_id?: string; enterprise_id?: string }): Actor {
  return { userId: command.user_id, teamIds: [command.team_id], enterpriseId: command.enterprise_id || undefined };
}

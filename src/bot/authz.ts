import type { WebClient } from '@slack/web-api';
import type { Config } from '../config/load';
import type { Logger } from '../log';

/**
 * Who may ask for and approve actions. Anyone who can see a message can click its buttons, so
 * every click is checked here, server-side. User-group IDs (S…) are expanded through Slack's
 * usergroups.users.list and cached briefly, so a membership change takes effect within minutes.
 */
export class Authorizer {
  private readonly groups = new Map<string, { members: Set<string>; at: number }>();

  constructor(
    private readonly access: Config['access'],
    private readonly log: Logger,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  private async members(group: string, client: WebClient): Promise<Set<string>> {
    const hit = this.groups.get(group);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.members;
    try {
      const res = await client.usergroups.users.list({ usergroup: group });
      const members = new Set(res.users ?? []);
      this.groups.set(group, { members, at: Date.now() });
      return members;
    } catch (err) {
      // Fail closed, but keep using a recent answer rather than lock everyone out during a Slack blip.
      this.log.warn({ group, err: (err as Error).message }, 'could not read user-group members');
      return hit?.members ?? new Set();
    }
  }

  private async inList(list: string[], userId: string, client: WebClient): Promise<boolean> {
    if (list.includes(userId)) return true;
    for (const g of list.filter((x) => x.startsWith('S'))) {
      if ((await this.members(g, client)).has(userId)) return true;
    }
    return false;
  }

  /** An empty responders list means anyone in the workspace may ask. */
  isResponder(userId: string, client: WebClient): Promise<boolean> {
    return this.access.responders.length === 0 ? Promise.resolve(true) : this.inList(this.access.responders, userId, client);
  }

  /** With no approvers configured, responders approve each other's requests. */
  isApprover(userId: string, client: WebClient): Promise<boolean> {
    const list = this.access.approvers.length ? this.access.approvers : this.access.responders;
    return list.length === 0 ? Promise.resolve(true) : this.inList(list, userId, client);
  }

  describe(kind: 'responders' | 'approvers'): string {
    const list = kind === 'approvers' && this.access.approvers.length === 0 ? this.access.responders : this.access[kind];
    return list.map((x) => (x.startsWith('S') ? `<!subteam^${x}>` : `<@${x}>`)).join(', ');
  }
}

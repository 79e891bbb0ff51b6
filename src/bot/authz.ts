import type { WebClient } from '@slack/web-api';
import type { Config } from '../config/load';
import type { Logger } from '../log';

/** Who clicked or typed, as the Slack payload names them. */
export interface Actor {
  userId: string;
  /** Workspace ids the payload carries (the user's home team, the team it came through). */
  teamIds?: (string | undefined)[];
  enterpriseId?: string;
}

export type Role = 'responders' | 'approvers';
export type Decision = { ok: true } | { ok: false; reason: string };

interface Cached<T> {
  value: T;
  at: number;
}

interface SlackUser {
  teamId?: string;
  enterpriseId?: string;
  guest: boolean;
}

class MembershipUnknown extends Error {}

/**
 * Who may ask for, approve and read. Anyone who can see a message can click its buttons, so
 * every click is checked here, server-side, and the defaults fail closed: an empty list allows
 * nobody, guests and users from other workspaces are refused unless the config allows them.
 * User-group IDs (S…) are expanded through usergroups.users.list and cached briefly; when Slack
 * keeps failing, a cached answer is trusted only for `membershipMaxStaleMinutes`.
 */
export class Authorizer {
  private readonly groups = new Map<string, Cached<Set<string>>>();
  private readonly users = new Map<string, Cached<SlackUser>>();
  private home?: Promise<{ teamId?: string; enterpriseId?: string }>;

  constructor(
    private readonly access: Config['access'],
    private readonly log: Logger,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  private get maxStaleMs(): number {
    return this.access.membershipMaxStaleMinutes * 60_000;
  }

  /** A fresh answer, or within the stale bound the last good one; else MembershipUnknown. */
  private async cached<T>(map: Map<string, Cached<T>>, key: string, what: string, read: () => Promise<T>): Promise<T> {
    const hit = map.get(key);
    const age = hit ? this.now() - hit.at : Infinity;
    if (hit && age < this.ttlMs) return hit.value;
    try {
      const value = await read();
      map.set(key, { value, at: this.now() });
      return value;
    } catch (err) {
      this.log.warn({ key, err: (err as Error).message }, `could not read ${what}`);
      if (hit && age < this.maxStaleMs) return hit.value;
      const since = hit ? ` and the last answer is ${Math.round(age / 60_000)} min old (over the ${this.access.membershipMaxStaleMinutes}-minute limit)` : '';
      throw new MembershipUnknown(`Slack did not answer ${what} (${(err as Error).message})${since}`);
    }
  }

  private members(group: string, client: WebClient): Promise<Set<string>> {
    return this.cached(this.groups, group, `the members of user group ${group}`, async () => {
      try {
        return new Set((await client.usergroups.users.list({ usergroup: group })).users ?? []);
      } catch (err) {
        // A group that does not exist (or was disabled) is a definite answer: nobody is in it.
        if (['no_such_subteam', 'subteam_not_found'].includes((err as { data?: { error?: string } }).data?.error ?? '')) return new Set<string>();
        throw err;
      }
    });
  }

  private user(userId: string, client: WebClient): Promise<SlackUser> {
    return this.cached(this.users, userId, `who ${userId} is (users.info)`, async () => {
      const u = (await client.users.info({ user: userId })).user as
        | { team_id?: string; is_restricted?: boolean; is_ultra_restricted?: boolean; enterprise_user?: { enterprise_id?: string } }
        | undefined;
      if (!u) throw new Error('no user in the answer');
      return { teamId: u.team_id, enterpriseId: u.enterprise_user?.enterprise_id, guest: Boolean(u.is_restricted || u.is_ultra_restricted) };
    });
  }

  /** The workspace (and enterprise) the bot is installed in, from auth.test once. */
  private installedIn(client: WebClient): Promise<{ teamId?: string; enterpriseId?: string }> {
    this.home ??= client.auth.test().then(
      (r) => ({ teamId: r.team_id, enterpriseId: r.enterprise_id || undefined }),
      (err: Error) => {
        this.home = undefined;
        throw new MembershipUnknown(`Slack did not say which workspace ir-bot is installed in (${err.message})`);
      },
    );
    return this.home;
  }

  private async inList(list: string[], userId: string, client: WebClient): Promise<boolean> {
    if (list.includes('*') || list.includes(userId)) return true;
    let unknown: MembershipUnknown | undefined;
    for (const g of list.filter((x) => x.startsWith('S'))) {
      try {
        if ((await this.members(g, client)).has(userId)) return true;
      } catch (err) {
        if (!(err instanceof MembershipUnknown)) throw err;
        unknown ??= err;
      }
    }
    if (unknown) throw unknown;
    return false;
  }

  private sameOrg(home: { teamId?: string; enterpriseId?: string }, teamId: string | undefined, enterpriseId: string | undefined): boolean {
    if (home.enterpriseId && enterpriseId) return enterpriseId === home.enterpriseId;
    return !teamId || teamId === home.teamId;
  }

  /** Whether this person may act in `role`; a refusal carries the reason to show them. */
  async check(actor: Actor | string, role: Role, client: WebClient): Promise<Decision> {
    const a = typeof actor === 'string' ? { userId: actor } : actor;
    const list = this.access[role];
    if (list.length === 0) {
      return { ok: false, reason: `No ${role} are configured (\`access.${role}\` is empty), so nobody may ${role === 'approvers' ? 'approve' : 'act'} from Slack.` };
    }
    try {
      if (!(await this.inList(list, a.userId, client))) {
        return { ok: false, reason: `You are not among the ${role} (${this.describe(role)}).` };
      }
      const home = await this.installedIn(client);
      const u = await this.user(a.userId, client);
      if (!this.access.allowOtherWorkspaces) {
        const teams = [...(a.teamIds ?? []), u.teamId];
        const foreign = teams.find((t) => !this.sameOrg(home, t, u.enterpriseId ?? a.enterpriseId));
        if (foreign || (a.enterpriseId && home.enterpriseId && a.enterpriseId !== home.enterpriseId)) {
          return { ok: false, reason: `Your account belongs to another workspace or organisation (${foreign ?? a.enterpriseId}) than the one ir-bot is installed in; \`access.allowOtherWorkspaces\` is off.` };
        }
      }
      if (u.guest && !this.access.allowGuests) {
        return { ok: false, reason: 'Guest accounts may not act through ir-bot (`access.allowGuests` is off).' };
      }
      return { ok: true };
    } catch (err) {
      if (!(err instanceof MembershipUnknown)) throw err;
      return { ok: false, reason: `Your access could not be confirmed: ${err.message}. Try again later, or act from the AWS console.` };
    }
  }

  /** Reading (status, audit, reports) is for responders and approvers. */
  async checkReader(actor: Actor | string, client: WebClient): Promise<Decision> {
    const asResponder = await this.check(actor, 'responders', client);
    if (asResponder.ok) return asResponder;
    const asApprover = await this.check(actor, 'approvers', client);
    return asApprover.ok ? asApprover : asResponder;
  }

  async isResponder(actor: Actor | string, client: WebClient): Promise<boolean> {
    return (await this.check(actor, 'responders', client)).ok;
  }

  async isApprover(actor: Actor | string, client: WebClient): Promise<boolean> {
    return (await this.check(actor, 'approvers', client)).ok;
  }

  describe(kind: Role): string {
    const list = this.access[kind];
    if (list.length === 0) return 'nobody';
    if (list.includes('*')) return 'everyone in the workspace';
    return list.map((x) => (x.startsWith('S') ? `<!subteam^${x}>` : `<@${x}>`)).join(', ');
  }

  /** Said at start-up, so an operator sees at once why nobody can act. */
  logPolicy(): void {
    for (const role of ['responders', 'approvers'] as const) {
      if (this.access[role].length === 0) this.log.warn(`access.${role} is empty: nobody may ${role === 'approvers' ? 'approve actions' : 'request actions or read reports'} from Slack`);
      else if (this.access[role].includes('*')) this.log.warn(`access.${role} is ["*"]: everyone in the workspace counts as one of the ${role}`);
    }
  }
}

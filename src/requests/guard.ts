import type { Config } from '../config/load';
import type { ActionName } from './model';

/** Each undo and the action it reverses. */
export const UNDO_OF: Partial<Record<ActionName, ActionName>> = {
  release: 'isolate',
  'enable-key': 'disable-key',
  'allow-principal': 'deny-principal',
  'restore-sessions': 'revoke-sessions',
};

/** An undo needs the approval its action needed, unless `access.undoNeedsApproval` is off. */
export function needsApproval(action: ActionName, access: Config['access']): boolean {
  if (access.requireApproval.includes(action)) return true;
  const forward = UNDO_OF[action];
  return Boolean(forward && access.undoNeedsApproval && access.requireApproval.includes(forward));
}

/** Actions that lock a principal out: they must never hit the bot itself or the break-glass roles. */
export const LOCKING_ACTIONS: readonly ActionName[] = ['deny-principal', 'revoke-sessions', 'disable-key'];

export interface PrincipalRef {
  account: string;
  kind: 'user' | 'role';
  name: string;
}

/** `arn:…:iam::123:role/path/name` or `arn:…:sts::123:assumed-role/name/session` → the user or role. */
export function principalOf(arn: string): PrincipalRef | undefined {
  const m = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):(user|role|assumed-role)\/(.+)$/.exec(arn);
  if (!m) return undefined;
  const parts = m[3].split('/');
  // A role session ARN is role-name/session-name; an IAM ARN may carry a path before the name.
  const name = m[2] === 'assumed-role' ? parts[0] : parts[parts.length - 1];
  return { account: m[1], kind: m[2] === 'user' ? 'user' : 'role', name };
}

/**
 * Why containing this principal would lock the bot or the organisation out, or undefined. The
 * bot's own roles (`aws.responderRoleArn`, `{account}` filled in) and `access.protectedPrincipals`
 * (ARNs, or bare names that match in every account) are protected.
 */
export function protectedReason(p: PrincipalRef, config: Pick<Config, 'access' | 'aws'>, ownArns: (string | undefined)[] = []): string | undefined {
  const same = (arn: string) => {
    const q = principalOf(arn);
    return q && q.kind === p.kind && q.name === p.name && q.account === p.account;
  };
  if (ownArns.some((a) => a && same(a))) return `${p.kind} ${p.name} is ir-bot's own identity: containing it would stop the bot from acting at all. Act from the AWS console if you must.`;
  const roles = config.aws.responderRoleArn;
  const own = typeof roles === 'string' ? [roles.replace('{account}', p.account)] : Object.values(roles ?? {});
  if (own.some(same)) return `${p.kind} ${p.name} is the role ir-bot acts through in account ${p.account}: containing it would lock the bot out of the account. Act from the AWS console if you must.`;
  const listed = config.access.protectedPrincipals.find((x) => (x.startsWith('arn:') ? same(x) : x === p.name));
  if (listed) return `${p.kind} ${p.name} is a protected (break-glass) principal in \`access.protectedPrincipals\`: ir-bot will not lock it out. Act from the AWS console if you must.`;
  return undefined;
}

/** `/ir` grammar, parsed without Slack so it can be tested and reused by the help text. */
export type IrCommand =
  | { kind: 'help' }
  | { kind: 'isolate' | 'release' | 'snapshot' | 'stop' | 'memory'; instanceIds: string[]; reason?: string }
  | { kind: 'blast-radius' | 'delete-keys' | 'revoke-rules'; target: string; reason?: string }
  | { kind: 'terminate'; target: string; instanceIds: string[]; reason?: string }
  | { kind: IamCommand; target: string; reason?: string }
  | { kind: 'hunt'; template?: string; params: Record<string, string> }
  | { kind: 'status'; jobId?: string }
  | { kind: 'report'; findingId: string }
  | { kind: 'audit'; query: string }
  | { kind: 'doctor' }
  /** Kill switch: `on`/`off`, or undefined for its state. */
  | { kind: 'autonomy'; on?: boolean }
  | { kind: 'policy'; testFindingId?: string };

import { REQUEST_ID_PATTERN } from '../views/action-ids';

/** `/ir` verbs for the IAM actions, and the action each asks for. */
export const IAM_COMMANDS = {
  'disable-key': 'disable-key',
  'enable-key': 'enable-key',
  deny: 'deny-principal',
  allow: 'allow-principal',
  'revoke-sessions': 'revoke-sessions',
  'restore-sessions': 'restore-sessions',
} as const;
export type IamCommand = (typeof IAM_COMMANDS)[keyof typeof IAM_COMMANDS];

export const ACCESS_KEY_PATTERN = /^(AKIA|ASIA)[A-Z0-9]{16}$/;
export const PRINCIPAL_ARN_PATTERN = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role)\/[\w+=,.@/-]{1,512}$/;

export const INSTANCE_ID_PATTERN = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export const HELP_TEXT = [
  '*ir-bot* — incident response for EC2 from Slack',
  '`/ir help` — this list',
  '`/ir isolate <instance-id>… [reason]` — quarantine instances (one plan and approval, run in parallel; undo with release)',
  '`/ir release <instance-id>…` — undo isolations from the state recorded before them',
  '`/ir snapshot <instance-id>… [reason]` — snapshot every attached EBS volume (one crash-consistent set per instance)',
  '`/ir stop <instance-id>… [without-memory] [reason]` — stop instances (never terminate), in parallel, after approval; waits for a running memory capture, and after a failed one needs `without-memory`',
  '`/ir memory <instance-id>… [reason]` — capture memory over SSM (AVML on Linux, winpmem on Windows) into the evidence bucket',
  '`/ir blast-radius <access-key-id|user-arn>` — every write the principal made (CloudTrail, 90 days), grouped by resource, with current state',
  '`/ir delete-keys <access-key-id|user-arn>` / `/ir revoke-rules <…>` — delete the access keys that principal created, revoke the security-group rules it added (from CloudTrail; always approved)',
  '`/ir terminate <access-key-id|user-arn> <instance-id>…` — terminate instances that principal launched, once every volume has a completed snapshot of the instance and any memory capture is verified (`without-memory` to go on without one; two-person approval)',
  '`/ir hunt <template> key=value…` — run an Athena hunt; `/ir hunt` lists the templates',
  '`/ir disable-key <access-key-id>` / `/ir enable-key <access-key-id>` — set an IAM access key Inactive, or back',
  '`/ir deny <user-or-role-arn>` / `/ir allow <arn>` — attach the managed deny-all policy ir-bot-deny-all, or detach exactly it',
  '`/ir revoke-sessions <role-arn|instance-id>` / `/ir restore-sessions <…>` — deny sessions issued before now (and remove the instance profile), or undo',
  '`/ir status [request-id]` — running and recent requests, or one request',
  '`/ir audit <instance-id|finding-id|request-id|user|key|arn>` — who asked, approved and did what',
  '`/ir report <finding-id>` — upload the Markdown incident report to the alert\'s thread',
  '`/ir doctor` — check every account and region before an incident (role, permissions, GuardDuty, Security Hub, EventBridge, CloudTrail, Athena, flow logs, SSM, evidence bucket)',
  '`/ir incident declare|add|lead|scribe|status|close …`, `/ir note`, `/ir timeline`, `/ir catchup`, `/ir stats [days]` — declared incidents (docs/incidents.md)',
  '`/ir policy` / `/ir policy test <finding-id>` — the automatic containment rules; which rule a finding matches and why',
  '`/ir autonomy off|on` — stop (and hold every pending) or resume automatic containment (approvers)',
].join('\n');

export class CommandError extends Error {}

export function parseIrCommand(text: string): IrCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const [verb = 'help', ...rest] = words;
  switch (verb.toLowerCase()) {
    case 'help':
      return { kind: 'help' };
    case 'isolate':
    case 'release':
    case 'snapshot':
    case 'stop':
    case 'memory': {
      const kind = verb.toLowerCase() as 'isolate' | 'release' | 'snapshot' | 'stop' | 'memory';
      const ids: string[] = [];
      let i = 0;
      for (; i < rest.length && /^i-/.test(rest[i]); i++) {
        if (!INSTANCE_ID_PATTERN.test(rest[i])) throw new CommandError(`"${rest[i].slice(0, 40)}" is not an EC2 instance id (expected i- followed by 8 or 17 hex digits)`);
        ids.push(rest[i]);
      }
      if (ids.length === 0) {
        const got = rest[0] ? `"${rest[0].slice(0, 40)}" is not an EC2 instance id; ` : '';
        throw new CommandError(`${got}\`/ir ${kind}\` needs one or more instance ids, e.g. \`/ir ${kind} i-0123456789abcdef0 i-0fedcba9876543210\``);
      }
      if (ids.length > 50) throw new CommandError(`at most 50 instances at once (got ${ids.length})`);
      const reason = rest.slice(i).join(' ').slice(0, 500);
      return { kind, instanceIds: [...new Set(ids)], reason: reason || undefined };
    }
    case 'hunt': {
      const [template, ...pairs] = rest;
      const params: Record<string, string> = {};
      for (const p of pairs) {
        const eq = p.indexOf('=');
        if (eq <= 0) throw new CommandError(`hunt parameters are key=value; "${p.slice(0, 40)}" is not`);
        params[p.slice(0, eq)] = p.slice(eq + 1);
      }
      return { kind: 'hunt', template, params };
    }
    case 'disable-key':
    case 'enable-key':
    case 'deny':
    case 'allow':
    case 'revoke-sessions':
    case 'restore-sessions': {
      const v = verb.toLowerCase() as keyof typeof IAM_COMMANDS;
      const [target, ...reason] = rest;
      const keyVerb = v === 'disable-key' || v === 'enable-key';
      const sessions = v === 'revoke-sessions' || v === 'restore-sessions';
      const ok = target && (keyVerb ? ACCESS_KEY_PATTERN.test(target) : PRINCIPAL_ARN_PATTERN.test(target) || (sessions && INSTANCE_ID_PATTERN.test(target)));
      if (!ok) {
        const want = keyVerb ? 'an access key id (AKIA… or ASIA…, 20 characters)' : sessions ? 'a role ARN or an instance id' : 'an IAM user or role ARN';
        throw new CommandError(`\`/ir ${v}\` needs ${want}${target ? `; "${target.slice(0, 60)}" is not one` : ''}`);
      }
      return { kind: IAM_COMMANDS[v], target, reason: reason.length ? reason.join(' ').slice(0, 500) : undefined };
    }
    case 'blast-radius':
    case 'delete-keys':
    case 'revoke-rules':
    case 'terminate': {
      const [target, ...more] = rest;
      if (!target || !(ACCESS_KEY_PATTERN.test(target) || PRINCIPAL_ARN_PATTERN.test(target))) {
        throw new CommandError(
          `\`/ir ${verb.toLowerCase()}\` needs the compromised principal first: an access key id (AKIA…/ASIA…) or an IAM user ARN${target ? `; "${target.slice(0, 60)}" is neither` : ''}`,
        );
      }
      const v = verb.toLowerCase();
      if (v === 'blast-radius' || v === 'delete-keys' || v === 'revoke-rules') return { kind: v, target, reason: more.join(' ').slice(0, 500) || undefined };
      const ids: string[] = [];
      let i = 0;
      for (; i < more.length && /^i-/.test(more[i]); i++) {
        if (!INSTANCE_ID_PATTERN.test(more[i])) throw new CommandError(`"${more[i].slice(0, 40)}" is not an EC2 instance id (expected i- followed by 8 or 17 hex digits)`);
        ids.push(more[i]);
      }
      if (ids.length === 0) throw new CommandError('`/ir terminate` needs the principal and then the instance ids it launched, e.g. `/ir terminate AKIAIOSFODNN7EXAMPLE i-0123456789abcdef0`');
      if (ids.length > 50) throw new CommandError(`at most 50 instances at once (got ${ids.length})`);
      return { kind: 'terminate', target, instanceIds: [...new Set(ids)], reason: more.slice(i).join(' ').slice(0, 500) || undefined };
    }
    case 'report':
    case 'audit': {
      // Slack turns a typed @mention into <@U…|name>.
      const arg = rest[0]?.replace(/^<@([UW][A-Z0-9]+)(\|[^>]*)?>$/, '$1');
      if (!arg || arg.length > 300 || !/^[\w:/+=,.@-]+$/.test(arg)) {
        throw new CommandError(verb.toLowerCase() === 'report' ? '`/ir report` needs a finding id, e.g. `/ir report 7cc4f1c3a4b2d5e6f708192a3b4c5d6e`' : '`/ir audit` needs an instance id, finding id, request id, Slack user id, access key id or ARN');
      }
      return verb.toLowerCase() === 'report' ? { kind: 'report', findingId: arg } : { kind: 'audit', query: arg };
    }
    case 'doctor':
      return { kind: 'doctor' };
    case 'autonomy': {
      const arg = rest[0]?.toLowerCase();
      if (arg !== undefined && arg !== 'on' && arg !== 'off') throw new CommandError('`/ir autonomy` takes `off` (hold every pending automatic action) or `on`');
      return { kind: 'autonomy', on: arg === undefined ? undefined : arg === 'on' };
    }
    case 'policy': {
      if (rest.length === 0) return { kind: 'policy' };
      const id = rest[1];
      if (rest[0].toLowerCase() !== 'test' || !id || id.length > 300 || !/^[\w:/+=,.@-]+$/.test(id)) throw new CommandError('`/ir policy` lists the rules; `/ir policy test <finding-id>` says which rule a finding matches and why');
      return { kind: 'policy', testFindingId: id };
    }
    case 'status': {
      const id = rest[0];
      if (id !== undefined && !REQUEST_ID_PATTERN.test(id)) {
        throw new CommandError(`"${id.slice(0, 40)}" is not a request id (they look like isolate-i-0123456789abcdef0-7; \`/ir status\` lists them)`);
      }
      return { kind: 'status', jobId: id };
    }
    default:
      throw new CommandError(`unknown command "${verb.slice(0, 40)}". Try \`/ir help\`.`);
  }
}

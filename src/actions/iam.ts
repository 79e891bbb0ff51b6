import {
  AssociateIamInstanceProfileCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DisassociateIamInstanceProfileCommand,
} from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetAccessKeyLastUsedCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  ListAccessKeysCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  PutRolePolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { AwsCallError } from '../aws/errors';
import type { Responder } from '../aws/responder';
import { couldNotCheck, type Checked } from './advisory';
import { findInstance, InstanceUnavailable } from './instance';
import { instancesSharingProfile } from './role-sharing';
import { blockedPlan, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

/** Names a responder recognises in the IAM console; undo removes exactly these. */
export const DENY_ALL_POLICY = 'ir-bot-deny-all';
export const REVOKE_POLICY = 'ir-bot-revoke-older-sessions';



function isMissing(err: unknown): boolean {
  return err instanceof AwsCallError && err.kind === 'not-found';
}

/**
 * IAM is eventually consistent: a change can read back as the old value for a few seconds. Re-read
 * with doubling waits until `done` holds, and say how many reads it took.
 */
export async function readUntil<T>(ctx: ActionContext, read: () => Promise<T>, done: (v: T) => boolean): Promise<{ value: T; reads: number; ok: boolean }> {
  let wait = ctx.iam.verifyIntervalMs;
  for (let reads = 1; ; reads++) {
    const value = await read();
    if (done(value)) return { value, reads, ok: true };
    if (reads >= ctx.iam.verifyAttempts) return { value, reads, ok: false };
    await ctx.sleep(wait);
    wait *= 2;
  }
}

const consistency = (reads: number) => (reads > 1 ? ` (read back ${reads} times: IAM is eventually consistent)` : '');

/** An undo button whose request no longer owns the record: a newer request took over. */
const superseded = (target: string, newer: string, command: string) =>
  `${target} was changed again since, by \`${newer}\`: undo from that one's result, or \`${command}\``;

// ---------------------------------------------------------------- access keys

interface KeyRecord {
  requestId: string;
  keyId: string;
  userName: string;
  previous: 'Active' | 'Inactive';
}

export const keyRecordName = (keyId: string) => `iam-key:${keyId}`;

async function keyStatus(aws: Responder, userName: string, keyId: string): Promise<string | undefined> {
  const out = await aws.send(aws.clients.iam, new ListAccessKeysCommand({ UserName: userName }));
  return out.AccessKeyMetadata?.find((k) => k.AccessKeyId === keyId)?.Status;
}

async function keyOwner(aws: Responder, keyId: string): Promise<{ userName?: string; lastUsed?: string }> {
  try {
    const out = await aws.send(aws.clients.iam, new GetAccessKeyLastUsedCommand({ AccessKeyId: keyId }));
    const u = out.AccessKeyLastUsed;
    const lastUsed = u?.LastUsedDate ? `last used ${new Date(u.LastUsedDate).toISOString()} with ${u.ServiceName ?? '?'} in ${u.Region ?? '?'}` : 'never used';
    return { userName: out.UserName, lastUsed };
  } catch (err) {
    // IAM answers AccessDenied, not NoSuchEntity, for a key id it does not know in this account.
    if (isMissing(err) || (err instanceof AwsCallError && err.kind === 'access-denied' && /GetAccessKeyLastUsed/.test(err.iamAction))) return {};
    throw err;
  }
}

function keyAction(to: 'Inactive' | 'Active'): ResponseAction {
  return {
    async plan([keyId], ctx) {
      const { aws } = ctx;
      if (keyId.startsWith('ASIA')) {
        return blockedPlan(`${keyId} is a temporary key (ASIA…) from an assumed role or session: it cannot be disabled. Revoke the role's sessions instead (\`/ir revoke-sessions <role-arn>\`).`);
      }
      let userName: string | undefined;
      let lastUsed: string | undefined;
      if (to === 'Active') {
        const rec = await ctx.records.get<KeyRecord>(keyRecordName(keyId));
        if (!rec) return blockedPlan(`nothing is recorded for ${keyId}: ir-bot did not disable it, so it will not re-enable it. Use the IAM console if you are sure.`);
        if (ctx.undoes && ctx.undoes !== rec.requestId) return blockedPlan(superseded(keyId, rec.requestId, `/ir enable-key ${keyId}`));
        userName = rec.userName;
      } else {
        ({ userName, lastUsed } = await keyOwner(aws, keyId));
      }
      if (!userName) return blockedPlan(`access key ${keyId} does not exist in account ${aws.account} (or belongs to another account): nothing to disable`);
      const guarded = to === 'Inactive' && ctx.protectedReason?.({ account: aws.account, kind: 'user', name: userName });
      if (guarded) return blockedPlan(`access key ${keyId} belongs to user ${userName}: ${guarded}`);
      let keys;
      try {
        keys = await aws.send(aws.clients.iam, new ListAccessKeysCommand({ UserName: userName }));
      } catch (err) {
        if (isMissing(err)) return blockedPlan(`user ${userName} no longer exists in account ${aws.account}`);
        throw err;
      }
      const key = keys.AccessKeyMetadata?.find((k) => k.AccessKeyId === keyId);
      if (!key) return blockedPlan(`access key ${keyId} no longer exists on user ${userName}`);
      if (key.Status === to) return blockedPlan(`access key ${keyId} of user ${userName} is already ${to}`);
      const others = (keys.AccessKeyMetadata ?? []).filter((k) => k.AccessKeyId !== keyId && k.Status === 'Active');
      const warnings =
        to === 'Inactive'
          ? [
              ...others.map((k) => `user ${userName} has another active key ${k.AccessKeyId}: disable it too if it may be exposed`),
              'Disabling the key does not end sessions already obtained with it (e.g. sts:GetSessionToken); deny the user as well if the attacker may hold those.',
            ]
          : ['The key becomes usable again: make sure it was rotated out of whatever leaked it, or delete it instead.'];
      return {
        summary: [`access key ${keyId} of user ${userName}: ${key.Status} → ${to}${lastUsed ? ` (${lastUsed})` : ''}`],
        warnings,
        steps: [to === 'Inactive' ? 'disable the key' : 're-enable the key', 'verify'],
        fingerprint: fingerprint([userName, keyId, key.Status]),
        data: { userName, keyId, previous: key.Status },
      };
    },
    async execute(p, ctx) {
      const { aws } = ctx;
      const { userName, keyId, previous } = p.data as { userName: string; keyId: string; previous: 'Active' | 'Inactive' };
      let verified: { value: string | undefined; reads: number; ok: boolean } | undefined;
      await runSteps(ctx, [
        {
          label: p.steps[0],
          run: async () => {
            if (to === 'Inactive') await ctx.records.putIfAbsent(keyRecordName(keyId), { requestId: ctx.requestId, keyId, userName, previous } satisfies KeyRecord);
            if ((await keyStatus(aws, userName, keyId)) !== to) await aws.send(aws.clients.iam, new UpdateAccessKeyCommand({ UserName: userName, AccessKeyId: keyId, Status: to }));
            return `access key ${keyId} set ${to}`;
          },
        },
        {
          label: 'verify',
          run: async () => {
            verified = await readUntil(ctx, () => keyStatus(aws, userName, keyId), (s) => s === to);
            if (verified.ok && to === 'Active') await ctx.records.retire(keyRecordName(keyId), ctx.now().getTime());
            return undefined;
          },
        },
      ]);
      return {
        ok: verified!.ok,
        lines: [`access key ${keyId} of user ${userName}: ${verified!.value ?? 'gone'}${consistency(verified!.reads)} ${verified!.ok ? '✓' : '✗'}`],
        notes: to === 'Inactive' ? ['Undo with `/ir enable-key ' + keyId + '` (same approval rules). Rotate or delete the key once the investigation allows.'] : [],
      };
    },
  };
}

// ---------------------------------------------------------------- principals (deny-all, revoke sessions)

interface Principal {
  kind: 'user' | 'role';
  name: string;
  arn: string;
  account: string;
}

/** User or role ARN (an assumed-role ARN means its role). */
export function parsePrincipal(arn: string): Principal | undefined {
  const m = /^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(user|role|assumed-role)\/(.+)$/.exec(arn);
  if (!m) return undefined;
  const [, partition, , account, type, rest] = m;
  if (type === 'assumed-role') {
    const role = rest.split('/')[0];
    return { kind: 'role', name: role, arn: `arn:${partition}:iam::${account}:role/${role}`, account };
  }
  return { kind: type as 'user' | 'role', name: rest.split('/').pop()!, arn: `arn:${partition}:iam::${account}:${type}/${rest}`, account };
}

async function principalExists(aws: Responder, p: Principal): Promise<boolean> {
  try {
    if (p.kind === 'user') await aws.send(aws.clients.iam, new GetUserCommand({ UserName: p.name }));
    else await aws.send(aws.clients.iam, new GetRoleCommand({ RoleName: p.name }));
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

async function inlinePolicy(aws: Responder, p: Principal, policyName: string): Promise<string | undefined> {
  try {
    const out =
      p.kind === 'user'
        ? await aws.send(aws.clients.iam, new GetUserPolicyCommand({ UserName: p.name, PolicyName: policyName }))
        : await aws.send(aws.clients.iam, new GetRolePolicyCommand({ RoleName: p.name, PolicyName: policyName }));
    return out.PolicyDocument ? decodeURIComponent(out.PolicyDocument) : '';
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** Inline policies are written on roles only (revoke-sessions: its cut-off is a date no shipped policy can hold). */
async function putRolePolicy(aws: Responder, role: Principal, policyName: string, doc: unknown): Promise<void> {
  await aws.send(aws.clients.iam, new PutRolePolicyCommand({ RoleName: role.name, PolicyName: policyName, PolicyDocument: JSON.stringify(doc) }));
}

async function deleteRolePolicy(aws: Responder, role: Principal, policyName: string): Promise<void> {
  try {
    await aws.send(aws.clients.iam, new DeleteRolePolicyCommand({ RoleName: role.name, PolicyName: policyName }));
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
}

/** The managed deny-all ir-bot ships (iam/ir-bot-deny-all-policy.json; deploy/ creates it in every account). */
export const denyAllPolicyArn = (p: Principal) => `arn:${p.arn.split(':')[1]}:iam::${p.account}:policy/${DENY_ALL_POLICY}`;

async function attachedPolicies(aws: Responder, p: Principal): Promise<string[]> {
  const out =
    p.kind === 'user'
      ? await aws.send(aws.clients.iam, new ListAttachedUserPoliciesCommand({ UserName: p.name, MaxItems: 1000 }))
      : await aws.send(aws.clients.iam, new ListAttachedRolePoliciesCommand({ RoleName: p.name, MaxItems: 1000 }));
  return (out.AttachedPolicies ?? []).map((x) => x.PolicyArn!).filter(Boolean);
}

const isDenyAll = (doc: unknown): boolean => {
  const d = doc as { Statement?: unknown };
  const list = [d?.Statement].flat() as { Effect?: string; Action?: unknown; Resource?: unknown; Condition?: unknown; NotAction?: unknown; NotResource?: unknown }[];
  return list.length > 0 && list.every((x) => x.Effect === 'Deny' && [x.Action].flat().includes('*') && [x.Resource].flat().includes('*') && !x.Condition && !x.NotAction && !x.NotResource);
};

/**
 * Why the account's ir-bot-deny-all cannot be attached, if it cannot: missing, or not (any more)
 * the deny-all we ship. Attaching a policy someone rewrote would grant whatever it now says.
 */
async function denyAllProblem(aws: Responder, p: Principal): Promise<string | undefined> {
  const arn = denyAllPolicyArn(p);
  let version: string | undefined;
  try {
    version = (await aws.send(aws.clients.iam, new GetPolicyCommand({ PolicyArn: arn }))).Policy?.DefaultVersionId;
  } catch (err) {
    if (isMissing(err)) return `the managed policy ${arn} does not exist: deploy/ creates it in every account (or create it from iam/ir-bot-deny-all-policy.json)`;
    throw err;
  }
  const doc = (await aws.send(aws.clients.iam, new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: version }))).PolicyVersion?.Document;
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeURIComponent(doc ?? ''));
  } catch {
    parsed = undefined;
  }
  return isDenyAll(parsed) ? undefined : `${arn} no longer denies everything (its default version ${version} was changed): refusing to attach it; restore it from iam/ir-bot-deny-all-policy.json`;
}

/** Which request attached the deny-all, so its undo button acts on that attachment only. */
interface DenyRecord {
  requestId: string;
}

export const denyRecordName = (arn: string) => `iam-deny:${arn}`;

export const DENY_ALL_DOCUMENT = { Version: '2012-10-17', Statement: [{ Sid: 'IrBotDenyAll', Effect: 'Deny', Action: '*', Resource: '*' }] };

/** What the AWS console's "Revoke active sessions" attaches: deny for tokens issued before now. */
export function revokeDocument(before: string) {
  return { Version: '2012-10-17', Statement: [{ Sid: 'IrBotRevokeOlderSessions', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': before } } }] };
}

/**
 * Deny-all attaches the managed policy ir-bot-deny-all, so the bot's own policy can allow exactly
 * that attachment (iam:PolicyARN) instead of writing any inline policy on any principal. Undo
 * detaches exactly it; an inline ir-bot-deny-all left by an earlier ir-bot is removed from roles
 * (the bot keeps DeleteRolePolicy for revoke-sessions) and named for a human to remove from users.
 */
function denyAllAction(mode: 'attach' | 'detach', describe: (p: Principal) => string): ResponseAction {
  return {
    async plan([arn], ctx) {
      const p = parsePrincipal(arn);
      if (!p) return blockedPlan(`${arn} is not an IAM user or role ARN`);
      if (p.account !== ctx.aws.account) return blockedPlan(`${p.arn} is in account ${p.account}, but this request acts in ${ctx.aws.account}`);
      const guarded = mode === 'attach' && ctx.protectedReason?.(p);
      if (guarded) return blockedPlan(guarded);
      if (!(await principalExists(ctx.aws, p))) return blockedPlan(`${p.kind} ${p.name} does not exist in account ${p.account}`);
      const attached = (await attachedPolicies(ctx.aws, p)).includes(denyAllPolicyArn(p));
      const legacy = (await inlinePolicy(ctx.aws, p, DENY_ALL_POLICY)) !== undefined;
      if (mode === 'attach') {
        if (attached) return blockedPlan(`${p.kind} ${p.name} already has the managed policy ${DENY_ALL_POLICY} attached`);
        if (legacy) return blockedPlan(`${p.kind} ${p.name} already has the inline policy ${DENY_ALL_POLICY} (attached by an earlier ir-bot)`);
        const problem = await denyAllProblem(ctx.aws, p);
        if (problem) return blockedPlan(problem);
      } else {
        if (!attached && !legacy) return blockedPlan(`${p.kind} ${p.name} has no ${DENY_ALL_POLICY} policy: nothing to remove`);
        if (!attached && p.kind === 'user') {
          return blockedPlan(`user ${p.name} has the inline policy ${DENY_ALL_POLICY} from an earlier ir-bot, which may no longer write users' inline policies: delete it in the IAM console (Users → ${p.name} → Permissions)`);
        }
        if (ctx.undoes) {
          const rec = await ctx.records.get<DenyRecord>(denyRecordName(p.arn));
          if (rec && rec.requestId !== ctx.undoes) return blockedPlan(superseded(`${p.kind} ${p.name}`, rec.requestId, `/ir allow ${p.arn}`));
        }
      }
      const warnings =
        mode === 'attach'
          ? [`Everything ${p.name} does is denied, including anything legitimate (deploys, applications running as it).`, ...(p.kind === 'role' ? ['Every instance and service using this role is hit.'] : [])]
          : ['The principal regains its permissions.'];
      return {
        summary: [describe(p)],
        warnings,
        steps: [mode === 'attach' ? `attach ${DENY_ALL_POLICY}` : `remove ${DENY_ALL_POLICY}`, 'verify'],
        fingerprint: fingerprint([p.arn, attached, legacy]),
        data: { ...p, legacy: mode === 'detach' && !attached },
      };
    },
    async execute(plan, ctx) {
      const { legacy, ...p } = plan.data as Principal & { legacy: boolean };
      const policyArn = denyAllPolicyArn(p);
      const present = async () => (legacy ? (await inlinePolicy(ctx.aws, p, DENY_ALL_POLICY)) !== undefined : (await attachedPolicies(ctx.aws, p)).includes(policyArn));
      let verified: { reads: number; ok: boolean } | undefined;
      await runSteps(ctx, [
        {
          label: plan.steps[0],
          run: async () => {
            if (mode === 'attach') {
              if (!(await present())) {
                await ctx.records.replace(denyRecordName(p.arn), { requestId: ctx.requestId } satisfies DenyRecord, ctx.now().getTime());
                if (p.kind === 'user') await ctx.aws.send(ctx.aws.clients.iam, new AttachUserPolicyCommand({ UserName: p.name, PolicyArn: policyArn }));
                else await ctx.aws.send(ctx.aws.clients.iam, new AttachRolePolicyCommand({ RoleName: p.name, PolicyArn: policyArn }));
              }
            } else if (legacy) await deleteRolePolicy(ctx.aws, p, DENY_ALL_POLICY);
            else {
              try {
                if (p.kind === 'user') await ctx.aws.send(ctx.aws.clients.iam, new DetachUserPolicyCommand({ UserName: p.name, PolicyArn: policyArn }));
                else await ctx.aws.send(ctx.aws.clients.iam, new DetachRolePolicyCommand({ RoleName: p.name, PolicyArn: policyArn }));
              } catch (err) {
                if (!isMissing(err)) throw err;
              }
            }
            return `${DENY_ALL_POLICY} ${mode === 'attach' ? 'attached to' : 'removed from'} ${p.kind} ${p.name}`;
          },
        },
        {
          label: 'verify',
          run: async () => {
            verified = await readUntil(ctx, present, (on) => on === (mode === 'attach'));
            if (verified.ok && mode === 'detach') await ctx.records.retire(denyRecordName(p.arn), ctx.now().getTime());
            return undefined;
          },
        },
      ]);
      const state = mode === 'attach' ? (verified!.ok ? 'attached' : 'not visible yet') : verified!.ok ? 'removed' : 'still present';
      return {
        ok: verified!.ok,
        lines: [`${p.kind} ${p.name}: ${legacy ? 'inline' : 'managed'} policy ${DENY_ALL_POLICY} ${state}${consistency(verified!.reads)} ${verified!.ok ? '✓' : '✗'}`],
        notes: mode === 'attach' ? [`Undo with \`/ir allow ${p.arn}\`: it removes exactly ${DENY_ALL_POLICY} and nothing else.`] : [],
      };
    },
  };
}

// ---------------------------------------------------------------- revoke sessions (role, or an instance's role)

/**
 * One record per revoked target. The cut-off is the latest revocation's (every revoke denies
 * tokens issued before *that* run); what undo restores is the state from before the first.
 */
export interface RevokeRecord {
  /** The latest revocation, whose cut-off the policy carries. */
  requestId: string;
  issuedBefore: string;
  /** The first revocation; absent in records written before later revocations were possible. */
  firstRequestId?: string;
  role: Principal;
  instanceId?: string;
  /** The instance profile before the first revocation removed it. */
  profileArn?: string;
  /** Our policy's document before the first revocation (normally none). */
  policyBefore?: string;
}

export const revokeRecordName = (target: string) => `iam-revoke:${target}`;

/** The instance's profile association: what revoke-sessions removes and restore-sessions puts back. */
async function profileOf(aws: Responder, instanceId: string): Promise<{ profileArn?: string; associationId?: string }> {
  const out = await aws.send(aws.clients.ec2, new DescribeIamInstanceProfileAssociationsCommand({ Filters: [{ Name: 'instance-id', Values: [instanceId] }] }));
  const assoc = out.IamInstanceProfileAssociations?.find((a) => a.State === 'associated');
  return { profileArn: assoc?.IamInstanceProfile?.Arn, associationId: assoc?.AssociationId };
}

async function roleOfProfile(aws: Responder, profileArn: string): Promise<Principal | undefined> {
  const prof = await aws.send(aws.clients.iam, new GetInstanceProfileCommand({ InstanceProfileName: profileArn.split('/').pop()! }));
  const r = prof.InstanceProfile?.Roles?.[0];
  return r?.Arn ? parsePrincipal(r.Arn) : undefined;
}

const revokeSessions: ResponseAction = {
  async plan([target], ctx) {
    const { aws } = ctx;
    let role: Principal | undefined;
    let instance: { id: string; profileArn: string } | undefined;
    let sharing: Promise<Checked<string[]>> | undefined;
    const warnings: string[] = [];
    const earlier = await ctx.records.get<RevokeRecord>(revokeRecordName(target.startsWith('i-') ? target : (parsePrincipal(target)?.arn ?? target)));
    if (target.startsWith('i-')) {
      try {
        await findInstance(aws, target);
      } catch (err) {
        if (err instanceof InstanceUnavailable) return blockedPlan(err.message);
        throw err;
      }
      const r = await profileOf(aws, target);
      // Started now, awaited last: the advisory lookup runs beside the reads the plan needs.
      sharing = instancesSharingProfile(ctx, target, r.profileArn);
      const current = r.profileArn ? await roleOfProfile(aws, r.profileArn) : undefined;
      if (current && r.profileArn) {
        role = current;
        instance = { id: target, profileArn: r.profileArn };
        if (earlier?.profileArn && earlier.profileArn !== r.profileArn) {
          warnings.push(`${target} had ${earlier.profileArn} before the first revocation; undo puts that one back, not ${r.profileArn}`);
        }
      } else if (earlier?.instanceId && earlier.profileArn) {
        // Revoked before: the profile is still off, the role is the one recorded then.
        role = earlier.role;
        instance = { id: target, profileArn: earlier.profileArn };
      } else {
        return blockedPlan(`${target} has no instance profile: there are no role sessions to revoke`);
      }
    } else {
      role = parsePrincipal(target);
      if (!role || role.kind !== 'role') return blockedPlan(`${target} is not a role ARN or an instance id`);
      warnings.push('Every current session of the role is denied, including legitimate ones; new sessions work (callers re-assume the role).');
    }
    if (role.account !== aws.account) return blockedPlan(`${role.arn} is in account ${role.account}, but this request acts in ${aws.account}`);
    const guarded = ctx.protectedReason?.(role);
    if (guarded) return blockedPlan(instance ? `${instance.id} runs as role ${role.name}: ${guarded}` : guarded);
    if (!(await principalExists(aws, role))) return blockedPlan(`role ${role.name} does not exist in account ${role.account}`);
    const shared = instance && sharing ? await sharing : undefined;
    if (shared && !shared.ok) warnings.unshift(couldNotCheck(`whether role ${role.name} is shared with other instances (instance profile ${instance!.profileArn})`, shared.why));
    else if (shared?.ok && shared.value.length) warnings.unshift(`role ${role.name} is shared by ${shared.value.length} other instance(s): the deny hits their current sessions too (they fetch new credentials within minutes)`);
    const summary = [`role ${role.name}: inline policy ${REVOKE_POLICY} denying every action to credentials issued before the moment it runs`];
    if (earlier) summary.push(`replaces the cut-off ${earlier.issuedBefore} of the earlier revocation (\`${earlier.requestId}\`); undo still restores the state from before the first`);
    if (instance) {
      summary.push(`${instance.id}: remove instance profile ${instance.profileArn}, or the instance simply fetches fresh credentials from its metadata service`);
    }
    return {
      summary,
      warnings,
      steps: [...(instance ? ['remove the instance profile'] : []), 'deny older sessions', 'verify'],
      fingerprint: fingerprint([role.arn, instance?.profileArn ?? null, earlier?.requestId ?? null]),
      data: { role, instance },
    };
  },
  async execute(p, ctx) {
    const { aws } = ctx;
    const { role, instance } = p.data as { role: Principal; instance?: { id: string; profileArn: string } };
    const recordName = revokeRecordName(instance?.id ?? role.arn);
    const stored = await revocationOf(ctx, recordName, role, instance);
    let verified: { reads: number; ok: boolean } | undefined;
    const steps: { label: string; run: () => Promise<string | undefined> }[] = [];
    if (instance) {
      steps.push({
        label: 'remove the instance profile',
        run: async () => {
          const r = await profileOf(aws, instance.id);
          if (r.associationId) await aws.send(aws.clients.ec2, new DisassociateIamInstanceProfileCommand({ AssociationId: r.associationId }));
          return `instance profile removed from ${instance.id}`;
        },
      });
    }
    steps.push(
      {
        label: 'deny older sessions',
        run: async () => {
          await putRolePolicy(aws, role, REVOKE_POLICY, revokeDocument(stored.issuedBefore));
          return `sessions of role ${role.name} issued before ${stored.issuedBefore} denied`;
        },
      },
      {
        label: 'verify',
        run: async () => {
          verified = await readUntil(ctx, () => inlinePolicy(aws, role, REVOKE_POLICY), (d) => d !== undefined && d.includes(stored.issuedBefore));
          return undefined;
        },
      },
    );
    await runSteps(ctx, steps);
    const lines = [`role ${role.name}: ${REVOKE_POLICY} denies sessions issued before ${stored.issuedBefore}${consistency(verified!.reads)} ${verified!.ok ? '✓' : '✗'}`];
    let ok = verified!.ok;
    if (instance) {
      const r = await profileOf(aws, instance.id);
      lines.push(`${instance.id}: ${r.profileArn ? `still has ${r.profileArn} ✗` : 'no instance profile ✓'}`);
      ok &&= !r.profileArn;
    }
    return { ok, lines, notes: [`Undo with \`/ir restore-sessions ${instance?.id ?? role.arn}\`: removes ${REVOKE_POLICY}${instance ? ' and puts the instance profile back' : ''}.`] };
  },
};

/**
 * This request's revocation record. A re-run of the same request keeps its cut-off; a later
 * request moves the cut-off to its own run and keeps what the first one found (profile, policy).
 */
async function revocationOf(ctx: ActionContext, recordName: string, role: Principal, instance?: { id: string; profileArn: string }): Promise<RevokeRecord> {
  const now = ctx.now().toISOString();
  const prior = await ctx.records.get<RevokeRecord>(recordName);
  if (prior?.requestId === ctx.requestId) return prior;
  if (prior) {
    const next: RevokeRecord = { ...prior, firstRequestId: prior.firstRequestId ?? prior.requestId, requestId: ctx.requestId, issuedBefore: now };
    await ctx.records.replace(recordName, next, ctx.now().getTime());
    return next;
  }
  const policyBefore = await inlinePolicy(ctx.aws, role, REVOKE_POLICY);
  const first: RevokeRecord = { requestId: ctx.requestId, firstRequestId: ctx.requestId, issuedBefore: now, role, instanceId: instance?.id, profileArn: instance?.profileArn, policyBefore };
  await ctx.records.putIfAbsent(recordName, first);
  return (await ctx.records.get<RevokeRecord>(recordName)) ?? first;
}

const restoreSessions: ResponseAction = {
  async plan([target], ctx) {
    const rec = await ctx.records.get<RevokeRecord>(revokeRecordName(target));
    if (!rec) return blockedPlan(`nothing is recorded for ${target}: ir-bot did not revoke its sessions (or they were restored already)`);
    if (ctx.undoes && ctx.undoes !== rec.requestId) {
      return blockedPlan(`the sessions of ${target} were revoked again since (\`${rec.requestId}\`): undo from that result, or \`/ir restore-sessions ${target}\``);
    }
    const summary = [rec.policyBefore === undefined ? `role ${rec.role.name}: remove ${REVOKE_POLICY}` : `role ${rec.role.name}: put back the ${REVOKE_POLICY} it had before the first revocation`];
    if (rec.instanceId) summary.push(`${rec.instanceId}: associate instance profile ${rec.profileArn} again`);
    if (rec.firstRequestId && rec.firstRequestId !== rec.requestId) summary.push(`restores the state from before the first revocation (\`${rec.firstRequestId}\`)`);
    return { summary, warnings: ['Credentials issued before the revocation work again until they expire.'], steps: ['restore', 'verify'], fingerprint: fingerprint([rec.requestId]), data: rec };
  },
  async execute(p, ctx) {
    const { aws } = ctx;
    const rec = p.data as RevokeRecord;
    let verified: { reads: number; ok: boolean } | undefined;
    await runSteps(ctx, [
      {
        label: 'restore',
        run: async () => {
          if (rec.policyBefore === undefined) await deleteRolePolicy(aws, rec.role, REVOKE_POLICY);
          else if ((await inlinePolicy(aws, rec.role, REVOKE_POLICY)) !== rec.policyBefore) await putRolePolicy(aws, rec.role, REVOKE_POLICY, JSON.parse(rec.policyBefore));
          if (rec.instanceId && rec.profileArn && !(await profileOf(aws, rec.instanceId)).profileArn) {
            await aws.send(aws.clients.ec2, new AssociateIamInstanceProfileCommand({ InstanceId: rec.instanceId, IamInstanceProfile: { Arn: rec.profileArn } }));
          }
          return 'restored';
        },
      },
      {
        label: 'verify',
        run: async () => {
          verified = await readUntil(ctx, () => inlinePolicy(aws, rec.role, REVOKE_POLICY), (d) => (rec.policyBefore === undefined ? d === undefined : d !== undefined && d.replace(/\s/g, '') === rec.policyBefore.replace(/\s/g, '')));
          return undefined;
        },
      },
    ]);
    const lines = [`role ${rec.role.name}: ${REVOKE_POLICY} ${verified!.ok ? (rec.policyBefore === undefined ? 'removed ✓' : 'as before ✓') : 'still present ✗'}`];
    let ok = verified!.ok;
    if (rec.instanceId && rec.profileArn) {
      const now = (await profileOf(aws, rec.instanceId)).profileArn;
      lines.push(`${rec.instanceId}: ${now === rec.profileArn ? `instance profile ${rec.profileArn} ✓` : `${now ? `has ${now}` : 'no instance profile'}, expected ${rec.profileArn} ✗`}`);
      ok &&= now === rec.profileArn;
    }
    if (ok) await ctx.records.retire(revokeRecordName(rec.instanceId ?? rec.role.arn), ctx.now().getTime());
    return { ok, lines, notes: [] };
  },
};

export const disableKeyAction = keyAction('Inactive');
export const enableKeyAction = keyAction('Active');
export const denyPrincipalAction = denyAllAction('attach', (p) => `${p.kind} ${p.name}: attach the managed policy ${denyAllPolicyArn(p)} (Deny * on *)`);
export const allowPrincipalAction = denyAllAction('detach', (p) => `${p.kind} ${p.name}: remove ${DENY_ALL_POLICY} (only that policy)`);
export const revokeSessionsAction = revokeSessions;
export const restoreSessionsAction = restoreSessions;

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allowPrincipalAction, DENY_ALL_DOCUMENT, denyPrincipalAction } from '../../src/actions/iam';
import { FakeAws } from '../support/fake-aws';
import { actionContext } from '../support/mock-action-context';

/**
 * Deny-all attaches the managed policy ir-bot-deny-all that deploy/ creates in every account, so
 * the bot's policy can allow that one attachment instead of any inline policy on any principal.
 */

const ACCOUNT = '111122223333';
const USER = `arn:aws:iam::${ACCOUNT}:user/alice`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/web-app-role`;
const DENY_ALL = `arn:aws:iam::${ACCOUNT}:policy/ir-bot-deny-all`;

let aws: FakeAws;
beforeEach(() => {
  aws = new FakeAws();
  aws.account = ACCOUNT;
  aws.users.set('alice', { keys: [], policies: new Map() });
  aws.roles.set('web-app-role', { policies: new Map() });
});
afterEach(() => aws.restore());

const writes = () => aws.calls.filter((c) => /^(Put|Attach|Detach|Delete)/.test(c.api)).map((c) => c.api);

describe('deny-all through the managed policy ir-bot ships', () => {
  it('attaches ir-bot-deny-all to a role and detaches exactly it on undo, writing no inline policy', async () => {
    const ctx = actionContext();
    const plan = await denyPrincipalAction.plan([ROLE], ctx);
    expect(plan.summary).toEqual([`role web-app-role: attach the managed policy ${DENY_ALL} (Deny * on *)`]);
    expect((await denyPrincipalAction.execute(plan, ctx)).lines).toEqual(['role web-app-role: managed policy ir-bot-deny-all attached ✓']);
    expect(aws.attachedPolicies.get('role/web-app-role')).toEqual([DENY_ALL]);
    const undo = await allowPrincipalAction.plan([ROLE], ctx);
    expect((await allowPrincipalAction.execute(undo, ctx)).ok).toBe(true);
    expect(aws.attachedPolicies.get('role/web-app-role')).toEqual([]);
    expect(writes()).toEqual(['AttachRolePolicy', 'DetachRolePolicy']);
  });

  it('refuses to attach an ir-bot-deny-all someone rewrote to allow things', async () => {
    aws.managedPolicies.set('ir-bot-deny-all', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }));
    const plan = await denyPrincipalAction.plan([USER], actionContext());
    expect(plan.blocked).toBe(`${DENY_ALL} no longer denies everything (its default version v1 was changed): refusing to attach it; restore it from iam/ir-bot-deny-all-policy.json`);
    expect(writes()).toEqual([]);
  });

  it('says where the policy comes from when the account does not have it', async () => {
    aws.managedPolicies.clear();
    const plan = await denyPrincipalAction.plan([USER], actionContext());
    expect(plan.blocked).toBe(`the managed policy ${DENY_ALL} does not exist: deploy/ creates it in every account (or create it from iam/ir-bot-deny-all-policy.json)`);
  });

  it('lifts an inline deny-all an earlier ir-bot left on a role, and names the console step for a user', async () => {
    const legacy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'IrBotDenyAll', Effect: 'Deny', Action: '*', Resource: '*' }] });
    aws.roles.get('web-app-role')!.policies.set('ir-bot-deny-all', legacy);
    aws.users.get('alice')!.policies.set('ir-bot-deny-all', legacy);
    const ctx = actionContext();
    expect((await denyPrincipalAction.plan([ROLE], ctx)).blocked).toBe('role web-app-role already has the inline policy ir-bot-deny-all (attached by an earlier ir-bot)');
    const outcome = await allowPrincipalAction.execute(await allowPrincipalAction.plan([ROLE], ctx), ctx);
    expect(outcome.lines).toEqual(['role web-app-role: inline policy ir-bot-deny-all removed ✓']);
    expect(aws.roles.get('web-app-role')!.policies.size).toBe(0);
    expect((await allowPrincipalAction.plan([USER], ctx)).blocked).toBe(
      'user alice has the inline policy ir-bot-deny-all from an earlier ir-bot, which may no longer write users\' inline policies: delete it in the IAM console (Users → alice → Permissions)',
    );
  });
});

describe('the shipped deny-all document', () => {
  it('is the deny-all the code checks for', () => {
    expect(JSON.parse(readFileSync(join(__dirname, '../../iam/ir-bot-deny-all-policy.json'), 'utf8'))).toEqual(DENY_ALL_DOCUMENT);
  });
});

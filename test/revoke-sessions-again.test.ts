import { allowPrincipalAction, denyPrincipalAction, disableKeyAction, enableKeyAction, REVOKE_POLICY, restoreSessionsAction, revokeSessionsAction } from '../src/actions/iam';
import type { ActionContext } from '../src/actions/types';
import { actionContext, MemoryRecords, TestClock } from './support/action-context';
import { FakeAws } from './support/fake-aws';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const PROFILE = 'arn:aws:iam::123456789012:instance-profile/web';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/web-role';
const DAY = 86_400_000;

function account(): FakeAws {
  const aws = FakeAws.withWebServer(INSTANCE);
  aws.roles.set('web-role', { policies: new Map() });
  return aws;
}

const cutOff = (aws: FakeAws) => JSON.parse(aws.roles.get('web-role')!.policies.get(REVOKE_POLICY)!).Statement[0].Condition.DateLessThan['aws:TokenIssueTime'] as string;

async function run(action: typeof revokeSessionsAction, target: string, ctx: ActionContext) {
  const plan = await action.plan([target], ctx);
  if (plan.blocked) return { plan, outcome: undefined };
  return { plan, outcome: await action.execute(plan, ctx) };
}

describe('revoke sessions again: every revocation denies tokens issued before its own run', () => {
  let aws: FakeAws;
  afterEach(() => aws?.restore());

  it("moves an instance role's cut-off to the second run three days later, and undo restores the state from before the first (profile included)", async () => {
    aws = account();
    const clock = new TestClock();
    const records = new MemoryRecords();
    const ctx = (requestId: string, undoes?: string) => actionContext({ account: aws.account, requestId, records, clock, undoes });

    const first = await run(revokeSessionsAction, INSTANCE, ctx('revoke-sessions-i-0a1b2c3d4e5f60718-1'));
    expect(first.outcome?.ok).toBe(true);
    const t1 = new Date(clock.now()).toISOString();
    expect(cutOff(aws)).toBe(t1);
    expect(aws.instances.get(INSTANCE)!.profileArn).toBeUndefined();

    // Three days later the attacker got fresh credentials from somewhere: revoke again.
    clock.advance(3 * DAY);
    const second = await run(revokeSessionsAction, INSTANCE, ctx('revoke-sessions-i-0a1b2c3d4e5f60718-2'));
    expect(second.plan.blocked).toBeUndefined();
    expect(second.plan.summary.join('\n')).toContain(`replaces the cut-off ${t1}`);
    const t2 = new Date(clock.now()).toISOString();
    expect(second.outcome?.ok).toBe(true);
    expect(cutOff(aws)).toBe(t2);
    expect(second.outcome?.lines[0]).toContain(`denies sessions issued before ${t2} ✓`);

    // A re-delivered job of the second request later on keeps its own cut-off.
    clock.advance(60_000);
    await run(revokeSessionsAction, INSTANCE, ctx('revoke-sessions-i-0a1b2c3d4e5f60718-2'));
    expect(cutOff(aws)).toBe(t2);

    // The first result's undo is superseded by the second; the second's restores everything.
    const stale = await run(restoreSessionsAction, INSTANCE, ctx('restore-sessions-i-0a1b2c3d4e5f60718-3', 'revoke-sessions-i-0a1b2c3d4e5f60718-1'));
    expect(stale.plan.blocked).toContain('revoked again since (`revoke-sessions-i-0a1b2c3d4e5f60718-2`)');
    expect(aws.roles.get('web-role')!.policies.has(REVOKE_POLICY)).toBe(true);

    const undo = await run(restoreSessionsAction, INSTANCE, ctx('restore-sessions-i-0a1b2c3d4e5f60718-4', 'revoke-sessions-i-0a1b2c3d4e5f60718-2'));
    expect(undo.plan.summary.join('\n')).toContain('before the first revocation (`revoke-sessions-i-0a1b2c3d4e5f60718-1`)');
    expect(undo.outcome?.ok).toBe(true);
    expect(undo.outcome?.lines).toEqual(['role web-role: ir-bot-revoke-older-sessions removed ✓', `${INSTANCE}: instance profile ${PROFILE} ✓`]);
    expect(aws.roles.get('web-role')!.policies.size).toBe(0);
    expect(aws.instances.get(INSTANCE)!.profileArn).toBe(PROFILE);
  });

  it("moves a role's cut-off on a second revocation, and undo puts back the policy the role had before the first", async () => {
    aws = account();
    const before = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:*', Resource: '*' }] });
    aws.roles.get('web-role')!.policies.set(REVOKE_POLICY, before);
    const clock = new TestClock();
    const records = new MemoryRecords();
    const ctx = (requestId: string) => actionContext({ account: aws.account, requestId, records, clock });

    await run(revokeSessionsAction, ROLE_ARN, ctx('revoke-sessions-abc-1'));
    clock.advance(2 * DAY + 5_000);
    const second = await run(revokeSessionsAction, ROLE_ARN, ctx('revoke-sessions-abc-2'));
    expect(cutOff(aws)).toBe(new Date(clock.now()).toISOString());
    expect(second.outcome?.ok).toBe(true);

    const undo = await run(restoreSessionsAction, ROLE_ARN, ctx('restore-sessions-abc-3'));
    expect(undo.outcome?.ok).toBe(true);
    expect(aws.roles.get('web-role')!.policies.get(REVOKE_POLICY)).toBe(before);
    // Undone: nothing is left to restore.
    const again = await run(restoreSessionsAction, ROLE_ARN, ctx('restore-sessions-abc-4'));
    expect(again.plan.blocked).toContain('nothing is recorded');
  });

  it('an undo bound to an older disable-key or deny-all is refused at plan time when a newer request owns the record (a click racing a new request)', async () => {
    aws = account();
    aws.users.set('ci-deploy', { keys: [{ id: 'AKIAEXAMPLEKEY123456', status: 'Active' }], policies: new Map() });
    const records = new MemoryRecords();
    const ctx = (requestId: string, undoes?: string) => actionContext({ account: aws.account, requestId, records, undoes });
    await run(disableKeyAction, 'AKIAEXAMPLEKEY123456', ctx('disable-key-AKIAEXAMPLEKEY123456-2'));
    const stale = await run(enableKeyAction, 'AKIAEXAMPLEKEY123456', ctx('enable-key-AKIAEXAMPLEKEY123456-3', 'disable-key-AKIAEXAMPLEKEY123456-1'));
    expect(stale.plan.blocked).toBe('AKIAEXAMPLEKEY123456 was changed again since, by `disable-key-AKIAEXAMPLEKEY123456-2`: undo from that one\'s result, or `/ir enable-key AKIAEXAMPLEKEY123456`');
    const own = await run(enableKeyAction, 'AKIAEXAMPLEKEY123456', ctx('enable-key-AKIAEXAMPLEKEY123456-4', 'disable-key-AKIAEXAMPLEKEY123456-2'));
    expect(own.outcome?.ok).toBe(true);

    const arn = 'arn:aws:iam::123456789012:user/ci-deploy';
    await run(denyPrincipalAction, arn, ctx('deny-principal-abc-5'));
    const staleAllow = await run(allowPrincipalAction, arn, ctx('allow-principal-abc-6', 'deny-principal-abc-1'));
    expect(staleAllow.plan.blocked).toContain('by `deny-principal-abc-5`');
    const allow = await run(allowPrincipalAction, arn, ctx('allow-principal-abc-7', 'deny-principal-abc-5'));
    expect(allow.outcome?.ok).toBe(true);
    expect(aws.users.get('ci-deploy')!.policies.size).toBe(0);
  });
});

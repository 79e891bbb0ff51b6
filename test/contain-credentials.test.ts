import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { click, nextResponse, slash, textOf, threadReplies } from './support/slack-user';

const KEY = 'AKIAEXAMPLEKEY123456';
const USER_ARN = 'arn:aws:iam::123456789012:user/ci-deploy';
const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: ['disable-key', 'deny-principal'] };
const FILE = { access: ACCESS, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 }, iam: { verifyAttempts: 5, verifyIntervalMs: 20 } };

function account(): FakeAws {
  const aws = new FakeAws();
  aws.account = '123456789012';
  aws.users.set('ci-deploy', { keys: [{ id: KEY, status: 'Active' }, { id: 'AKIAOTHERKEY12345678', status: 'Active' }], policies: new Map([['deploy', '{"Statement":[]}']]) });
  return aws;
}

/** The status message of the latest request in the command's channel, once `pred` holds. */
function status(h: Harness, pred: (t: string) => boolean, what: string) {
  return waitFor(() => h.slack.channelMessages('C01ALERTS').filter((m) => pred(textOf(m))).at(-1), what);
}

async function approveLatest(h: Harness) {
  const card = await status(h, (t) => t.includes('ir_approve'), 'an approval card');
  await click(h, card, 'ir_approve', 'U02LEAD');
}

describe('credential containment: keys, deny-all, sessions — each with plan, approval, verify and undo', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('disables a key found by its id alone, re-reads until IAM shows it Inactive, and re-enables it on undo', async () => {
    aws = account();
    aws.iamLag = 2;
    h = await startHarness({ file: FILE });
    await slash(h, `disable-key ${KEY} leaked in a public repo`);
    const plan = await status(h, (t) => t.includes('ir_approve'), 'the approval card');
    expect(textOf(plan)).toContain(`access key ${KEY} of user ci-deploy: Active → Inactive (last used 2026-11-21T23:10:00.000Z with ec2 in us-east-1)`);
    expect(textOf(plan)).toContain('another active key AKIAOTHERKEY12345678');
    expect(aws.callsOf('UpdateAccessKey')).toHaveLength(0);
    await approveLatest(h);
    const done = await status(h, (t) => t.includes('Verified end state'), 'the result');
    expect(textOf(done)).toContain(`access key ${KEY} of user ci-deploy: Inactive (read back 3 times: IAM is eventually consistent) ✓`);
    expect(aws.users.get('ci-deploy')!.keys[0].status).toBe('Inactive');

    // Undo needs the approval its action needed (access.undoNeedsApproval).
    await slash(h, `enable-key ${KEY}`);
    await click(h, await status(h, (t) => t.includes('Re-enable access key') && t.includes('ir_approve'), 'the undo approval'), 'ir_approve', 'U02LEAD');
    await status(h, (t) => t.includes('Re-enable access key') && t.includes('Verified end state'), 'the undo');
    expect(aws.users.get('ci-deploy')!.keys[0].status).toBe('Active');
    const before = h.slack.responses.length;
    await slash(h, `enable-key ${KEY}`);
    await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('nothing is recorded for')), 'the refusal to undo twice');
    expect(h.slack.responses.length).toBeGreaterThan(before);
  });

  it('refuses a key that does not exist; a card about a temporary key offers revoking its role\'s sessions, not disabling it', async () => {
    aws = account();
    aws.addWebServer(INSTANCE);
    h = await startHarness({ file: FILE });
    await slash(h, 'disable-key AKIANOSUCHKEY0000000');
    await status(h, (t) => t.includes('AKIANOSUCHKEY0000000 does not exist in account 123456789012'), 'the refusal');

    expect((await h.postEvents(fixture('guardduty-credential-exfiltration'))).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the card');
    // A temporary key (ASIA…) cannot be disabled: the card does not offer it.
    expect(JSON.stringify(card.blocks)).not.toContain('ir_disable_key');
    expect(aws.callsOf('UpdateAccessKey')).toHaveLength(0);

    // The card also names the role behind those credentials: revoke its sessions from there.
    aws.roles.set('web-app-role', { policies: new Map() });
    await click(h, card, 'ir_revoke_sessions', 'U01ANA');
    const revoked = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Revoke sessions of') && textOf(m).includes('Verified end state')), 'the revocation');
    expect(textOf(revoked)).toContain('role web-app-role: ir-bot-revoke-older-sessions denies sessions issued before');
  });

  it('denies everything for a user by attaching the managed deny-all it ships, and undo detaches exactly that policy', async () => {
    aws = account();
    h = await startHarness({ file: FILE });
    await slash(h, `deny ${USER_ARN}`);
    await approveLatest(h);
    const done = await status(h, (t) => t.includes('Verified end state'), 'the result');
    expect(textOf(done)).toContain('user ci-deploy: managed policy ir-bot-deny-all attached ✓');
    expect(aws.attachedPolicies.get('user/ci-deploy')).toEqual(['arn:aws:iam::123456789012:policy/ir-bot-deny-all']);
    // No inline policy is written: the bot's policy allows attaching this one policy, nothing free-form.
    expect(aws.callsOf('PutUserPolicy')).toEqual([]);

    await slash(h, `allow ${USER_ARN}`);
    await click(h, await status(h, (t) => t.includes('Lift the deny-all') && t.includes('ir_approve'), 'the undo approval'), 'ir_approve', 'U02LEAD');
    await status(h, (t) => t.includes('Lift the deny-all') && t.includes('Verified end state'), 'the undo');
    expect([...aws.users.get('ci-deploy')!.policies.keys()]).toEqual(['deploy']);
    expect(aws.attachedPolicies.get('user/ci-deploy')).toEqual([]);
    await slash(h, `deny arn:aws:iam::123456789012:user/nobody`);
    await status(h, (t) => t.includes('user nobody does not exist'), 'the refusal for a missing user');
  });

  it("revokes an instance role's sessions together with its instance profile, warns that the role is shared, and restores both", async () => {
    aws = account();
    aws.addWebServer(INSTANCE);
    aws.addWebServer('i-0fffffffffffffff1', { eip: false, targetGroup: false });
    aws.roles.set('web-role', { policies: new Map() });
    h = await startHarness({ file: FILE });
    await slash(h, `revoke-sessions ${INSTANCE}`);
    const done = await status(h, (t) => t.includes('Verified end state'), 'the result');
    const t = textOf(done);
    expect(t).toMatch(/role web-role: ir-bot-revoke-older-sessions denies sessions issued before 20\d\d-/);
    expect(t).toContain(`${INSTANCE}: no instance profile ✓`);
    const plan = h.slack.callsOf('chat.postMessage').concat(h.slack.callsOf('chat.update')).map((c) => JSON.stringify(c.args.blocks)).join(' ');
    expect(plan).toContain('shared by 1 other instance');
    const doc = JSON.parse(aws.roles.get('web-role')!.policies.get('ir-bot-revoke-older-sessions')!);
    expect(doc.Statement[0]).toMatchObject({ Effect: 'Deny', Action: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': expect.any(String) } } });
    expect(aws.instances.get(INSTANCE)!.profileArn).toBeUndefined();

    const before = h.slack.responses.length;
    await slash(h, `restore-sessions ${INSTANCE}`);
    expect(await nextResponse(h, 'U01ANA', before)).toContain('Queued');
    await status(h, (x) => x.includes('Restore sessions of') && x.includes('Verified end state'), 'the undo');
    expect(aws.roles.get('web-role')!.policies.size).toBe(0);
    expect(aws.instances.get(INSTANCE)!.profileArn).toBe('arn:aws:iam::123456789012:instance-profile/web');
  });

  it('explains malformed IAM commands precisely', async () => {
    aws = account();
    h = await startHarness({ file: FILE, worker: false });
    expect((await slash(h, 'disable-key AKIA123')).ack.text).toContain('needs an access key id');
    expect((await slash(h, "deny arn:aws:s3:::bucket' OR 1=1")).ack.text).toContain('needs an IAM user or role ARN');
    expect((await slash(h, 'revoke-sessions bob')).ack.text).toContain('needs a role ARN or an instance id');
  });
});

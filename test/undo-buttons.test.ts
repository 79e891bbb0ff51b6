import { FakeAws } from './support/fake-aws';
import { startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { buttonIn, click, ephemeralsFor, slash, textOf, threadReplies } from './support/slack-user';

const KEY = 'AKIAEXAMPLEKEY123456';
const USER_ARN = 'arn:aws:iam::123456789012:user/ci-deploy';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/web-app-role';
const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: ['disable-key', 'deny-principal', 'enable-key'] };
const FILE = { access: ACCESS, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 }, iam: { verifyAttempts: 5, verifyIntervalMs: 20 } };

function account(): FakeAws {
  const aws = new FakeAws();
  aws.account = '123456789012';
  aws.users.set('ci-deploy', { keys: [{ id: KEY, status: 'Active' }], policies: new Map() });
  aws.roles.set('web-app-role', { policies: new Map() });
  return aws;
}

function inThread(h: Harness, parentTs: string, pred: (t: string) => boolean, what: string) {
  return waitFor(() => threadReplies(h, 'C01ALERTS', parentTs).filter((m) => pred(textOf(m))).at(-1), what);
}

/** Asks by command, approves when the config wants it, and returns the result message. */
async function doneByCommand(h: Harness, command: string, title: string, approve: boolean) {
  const before = new Set(h.slack.channelMessages('C01ALERTS').map((m) => m.ts));
  await slash(h, command);
  const fresh = (t: string) => t.includes(title);
  const msg = await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => !before.has(m.ts) && fresh(textOf(m))), `the status of ${command}`);
  if (approve) {
    await waitFor(() => textOf(msg).includes('ir_approve') || undefined, `the approval buttons of ${command}`);
    await click(h, msg, 'ir_approve', 'U02LEAD');
  }
  await waitFor(() => textOf(msg).includes('Verified end state') || undefined, `the result of ${command}`);
  return msg;
}

describe('undo one click away on IAM results: Re-enable key, Lift deny-all, Restore sessions', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('re-enables the key from the disable-key result, through the approval the config asks for, bound to that request', async () => {
    aws = account();
    h = await startHarness({ file: FILE });
    const done = await doneByCommand(h, `disable-key ${KEY} leaked`, 'Disable access key', true);
    const button = buttonIn(done, 'ir_undo')!;
    expect(button.text.text).toBe('Re-enable key');
    // A short request reference, never the key or an ARN.
    expect(JSON.parse(button.value)).toEqual({ q: expect.stringMatching(/^disable-key-AKIAEXAMPLEKEY123456-\d+$/), v: 1 });
    expect(button.value.length).toBeLessThan(80);
    expect(aws.users.get('ci-deploy')!.keys[0].status).toBe('Inactive');

    await click(h, done, 'ir_undo', 'U01ANA');
    const plan = await inThread(h, done.ts, (t) => t.includes('Re-enable access key') && t.includes('ir_approve'), 'the undo plan awaiting approval');
    expect(aws.callsOf('UpdateAccessKey')).toHaveLength(1);
    expect(textOf(plan)).toContain('Inactive → Active');
    await click(h, plan, 'ir_approve', 'U02LEAD');
    const undone = await inThread(h, done.ts, (t) => t.includes('Re-enable access key') && t.includes('Verified end state'), 'the undo result');
    expect(textOf(undone)).toContain(`access key ${KEY} of user ci-deploy: Active`);
    expect(aws.users.get('ci-deploy')!.keys[0].status).toBe('Active');
    expect(buttonIn(undone, 'ir_undo')).toBeUndefined();

    // Clicked again: already undone, nothing queued.
    const asked = h.slack.channelMessages('C01ALERTS').length + threadReplies(h, 'C01ALERTS', done.ts).length;
    await click(h, done, 'ir_undo', 'U01ANA');
    await waitFor(() => ephemeralsFor(h, 'U01ANA').find((t) => t.includes('was already undone by `enable-key-')), 'the refusal');
    expect(h.slack.channelMessages('C01ALERTS').length + threadReplies(h, 'C01ALERTS', done.ts).length).toBe(asked);
  });

  it('refuses an undo clicked from another workspace (Slack Connect), even when users.info names ours', async () => {
    aws = account();
    h = await startHarness({ file: { ...FILE, access: { ...ACCESS, requireApproval: [] } } });
    const done = await doneByCommand(h, `disable-key ${KEY}`, 'Disable access key', false);
    await click(h, done, 'ir_undo', 'U01ANA', 'T0STRANGER');
    const refusal = await waitFor(() => ephemeralsFor(h, 'U01ANA').find((t) => t.includes('refused')), 'the refusal');
    expect(refusal).toContain('T0STRANGER');
    expect(threadReplies(h, 'C01ALERTS', done.ts)).toHaveLength(0);
    expect(aws.users.get('ci-deploy')!.keys[0].status).toBe('Inactive');
  });

  it('refuses the undo of a disable-key that a newer one superseded, saying which; the newer one undoes', async () => {
    aws = account();
    h = await startHarness({ file: { ...FILE, access: { ...ACCESS, requireApproval: [] } } });
    const first = await doneByCommand(h, `disable-key ${KEY}`, 'Disable access key', false);
    await doneByCommand(h, `enable-key ${KEY}`, 'Re-enable access key', false);
    const second = await doneByCommand(h, `disable-key ${KEY} again`, 'Disable access key', false);
    const secondId = JSON.parse(buttonIn(second, 'ir_undo')!.value).q as string;

    await click(h, first, 'ir_undo', 'U01ANA');
    const refusal = await waitFor(() => ephemeralsFor(h, 'U01ANA').find((t) => t.includes('superseded')), 'the refusal');
    expect(refusal).toContain(`was superseded by \`${secondId}\` (done), which now holds the recorded state: undo from that one's result or with \`/ir enable-key ${KEY}\``);
    expect(threadReplies(h, 'C01ALERTS', first.ts)).toHaveLength(0);
    expect(aws.users.get('ci-deploy')!.keys[0].status).toBe('Inactive');

    await click(h, second, 'ir_undo', 'U01ANA');
    await inThread(h, second.ts, (t) => t.includes('Re-enable access key') && t.includes('Verified end state'), 'the undo result');
    expect(aws.users.get('ci-deploy')!.keys[0].status).toBe('Active');
  });

  it('lifts the deny-all from its result, and restores sessions from the latest revocation only', async () => {
    aws = account();
    h = await startHarness({ file: { ...FILE, access: { ...ACCESS, requireApproval: ['deny-principal'] } } });
    const denied = await doneByCommand(h, `deny ${USER_ARN}`, 'Deny everything for', true);
    expect(buttonIn(denied, 'ir_undo')!.text.text).toBe('Lift deny-all');
    expect(buttonIn(denied, 'ir_undo')!.value).not.toContain('arn:');
    await click(h, denied, 'ir_undo', 'U01ANA');
    // The undo needs the approval deny-all needed (access.undoNeedsApproval).
    await click(h, await inThread(h, denied.ts, (t) => t.includes('Lift the deny-all on') && t.includes('ir_approve'), 'the undo approval'), 'ir_approve', 'U02LEAD');
    await inThread(h, denied.ts, (t) => t.includes('Lift the deny-all on') && t.includes('Verified end state'), 'the lifted deny-all');
    expect(aws.attachedPolicies.get('user/ci-deploy')).toEqual([]);

    const first = await doneByCommand(h, `revoke-sessions ${ROLE_ARN}`, 'Revoke sessions of', false);
    expect(buttonIn(first, 'ir_undo')!.text.text).toBe('Restore sessions');
    const second = await doneByCommand(h, `revoke-sessions ${ROLE_ARN}`, 'Revoke sessions of', false);
    await click(h, first, 'ir_undo', 'U01ANA');
    await waitFor(() => ephemeralsFor(h, 'U01ANA').find((t) => t.includes('superseded')), 'the refusal of the older undo');
    expect(aws.roles.get('web-app-role')!.policies.size).toBe(1);
    await click(h, second, 'ir_undo', 'U01ANA');
    await inThread(h, second.ts, (t) => t.includes('Restore sessions of') && t.includes('Verified end state'), 'the restored sessions');
    expect(aws.roles.get('web-app-role')!.policies.size).toBe(0);
  });
});

import { approverShortfall } from '../../src/requests/custom-action';
import { FakeAws } from '../support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';
import { click, ephemeralsFor, textOf, threadReplies } from '../support/slack-user';

const INSTANCE = 'i-0c3d4e5f607182930';
const FAST_AWS = { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 };

function start(securityHub: Record<string, unknown> = {}): Promise<Harness> {
  return startHarness({
    file: {
      // A Slack responder's isolation would run at once here: only the custom action's origin asks for more.
      access: { responders: ['U01ANA'], approvers: ['U02LEAD', 'U03LEAD'], twoPersonRule: true, requireApproval: [] },
      aws: FAST_AWS,
      securityHub: { customActions: { 'ir-isolate': 'isolate' }, ...securityHub },
    },
  });
}

async function approvalCard(h: Harness, has: (text: string) => boolean = () => true) {
  const card = await waitFor(() => h.slack.channelMessages('C02CRIT').find((m) => textOf(m).includes('Backdoor:EC2')), 'the finding\'s card');
  return waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('securityhub:ir-isolate') && has(textOf(m))), 'the approval card');
}

describe('a request nobody in Slack asked for (Security Hub custom action)', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('runs only after two different approvers approve it, even with the two-person rule and no approval configured for isolate', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    h = await start();
    expect((await h.postEvents(fixture('securityhub-custom-action'))).status).toBe(202);
    const plan = await approvalCard(h, (t) => t.includes('ir_approve'));

    await click(h, plan, 'ir_approve', 'U02LEAD');
    await new Promise((r) => setTimeout(r, 500));
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute')).toHaveLength(0);
    const told = await waitFor(() => ephemeralsFor(h, 'U02LEAD').find((t) => t.includes('1 of 2')), 'the first approver told a second is needed');
    expect(told).toContain('a second approver must approve it');
    const waiting = await approvalCard(h, (t) => t.includes('1 of 2 approvals'));
    expect(textOf(waiting)).toContain('first approval by <@U02LEAD>');
    expect(textOf(waiting)).toContain('ir_approve');

    // The same approver again does not count twice.
    await click(h, waiting, 'ir_approve', 'U02LEAD');
    await waitFor(() => ephemeralsFor(h, 'U02LEAD').find((t) => t.includes('a different approver must give the second')), 'the repeat refused');
    await new Promise((r) => setTimeout(r, 300));
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute')).toHaveLength(0);
    const key = (await h.redis.keys(`${h.config.redisPrefix}:req:isolate-*`))[0];
    expect(await h.redis.hget(key, 'state')).toBe('awaiting-approval');

    await click(h, waiting, 'ir_approve', 'U03LEAD');
    await waitFor(() => aws.callsOf('ModifyNetworkInterfaceAttribute').length > 0, 'the isolation, after the second approval');
    const done = await approvalCard(h, (t) => t.includes('approved by <@U03LEAD>'));
    expect(textOf(done)).toContain('first approval by <@U02LEAD>');
    const audit = (await h.redis.xrange(`${h.config.redisPrefix}:audit`, '-', '+')).map(([, f]) => f.join(' '));
    expect(audit.some((a) => a.includes('approved-first') && a.includes('U02LEAD'))).toBe(true);
  }, 30_000);

  it('needs both approvals afresh when AWS changed between them and the plan was made again', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    h = await start();
    expect((await h.postEvents(fixture('securityhub-custom-action'))).status).toBe(202);
    const plan = await approvalCard(h, (t) => t.includes('ir_approve'));
    await click(h, plan, 'ir_approve', 'U02LEAD');
    await approvalCard(h, (t) => t.includes('1 of 2 approvals'));
    // Someone turns on termination protection: the plan U02LEAD approved is no longer what would run.
    aws.instances.get(INSTANCE)!.termination = !aws.instances.get(INSTANCE)!.termination;
    await click(h, await approvalCard(h, (t) => t.includes('1 of 2 approvals')), 'ir_approve', 'U03LEAD');
    const replanned = await approvalCard(h, (t) => t.includes('AWS changed after') && t.includes('ir_approve'));
    expect(textOf(replanned)).toContain('AWS changed after the approval by U02LEAD and U03LEAD, so nothing was run. This is the new plan: it needs its own approvals.');
    expect(textOf(replanned)).not.toContain('first approval by <@U02LEAD>');
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute')).toHaveLength(0);

    // U03LEAD's approval of the new plan is its first; U02LEAD's earlier one does not carry over.
    await click(h, replanned, 'ir_approve', 'U03LEAD');
    await waitFor(() => ephemeralsFor(h, 'U03LEAD').find((t) => t.includes('1 of 2')), 'U03LEAD told a second approval is needed');
    await new Promise((r) => setTimeout(r, 500));
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute')).toHaveLength(0);
    await click(h, await approvalCard(h, (t) => t.includes('first approval by <@U03LEAD>')), 'ir_approve', 'U02LEAD');
    await waitFor(() => aws.callsOf('ModifyNetworkInterfaceAttribute').length > 0, 'the isolation, after both approved the new plan');
  }, 30_000);

  it('asks nothing when one event would make more requests than securityHub.maxRequestsPerCustomAction, and says why', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    h = await start({ maxRequestsPerCustomAction: 2 });
    const event = fixture('securityhub-custom-action');
    const one = event.detail.findings[0];
    // The analyst selected three findings, each about another instance.
    event.detail.findings = ['i-0c3d4e5f607182930', 'i-0c3d4e5f607182931', 'i-0c3d4e5f607182932'].map((id, n) => ({
      ...one,
      Id: `${one.Id.slice(0, -1)}${n}`,
      Resources: [{ ...one.Resources[0], Id: `arn:aws:ec2:us-east-1:123456789012:instance/${id}`, Details: undefined }],
    }));
    const res = await h.postEvents(event);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toHaveLength(3);
    expect(res.body.customActions[0].requests).toEqual([]);
    expect(res.body.customActions[0].note).toContain('would ask for 3 requests, over securityHub.maxRequestsPerCustomAction (2): nothing was asked');
    expect(res.body.customActions[0].skipped).toHaveLength(3);
    expect(await h.redis.keys(`${h.config.redisPrefix}:req:*`)).toEqual([]);
  }, 30_000);

  it('warns at start-up when custom actions are mapped but the approvers can never be two different people', () => {
    const mapped = { customActions: { 'ir-isolate': 'isolate' as const } };
    expect(approverShortfall(['U02LEAD'], mapped)).toContain('needs two different approvers, so none can ever run');
    expect(approverShortfall([], mapped)).toContain('names nobody');
    expect(approverShortfall(['U02LEAD', 'U03LEAD'], mapped)).toBeUndefined();
    expect(approverShortfall(['S01LEADS'], mapped)).toBeUndefined();
    expect(approverShortfall(['U02LEAD'], { customActions: {} })).toBeUndefined();
  });
});

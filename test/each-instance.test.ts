import { eachInstance, shortReason } from '../src/actions/each-instance';
import { safeWords } from '../src/views/mrkdwn';
import type { ActionOutcome, PlanView } from '../src/actions/results';
import { FinalError, StepFailure, blockedPlan, type ActionContext, type ResponseAction } from '../src/actions/types';
import { AwsCallError } from '../src/aws/errors';

/** A one-instance action whose behaviour per instance the test picks. */
function fakeAction(behaviour: Record<string, 'ok' | 'gone' | 'denied' | 'throttled'>) {
  let running = 0;
  const seen = { maxParallel: 0, groupSetups: 0 };
  const action: ResponseAction = {
    async plan([id]) {
      if (behaviour[id] === 'gone') return blockedPlan(`${id} is terminated`);
      return { summary: [`eni-${id.slice(-4)}: sg-1 → ir-quarantine`], warnings: [`${id} is a Spot instance`], steps: ['a', 'b'], fingerprint: id, data: { id } };
    },
    async execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
      const { id } = p.data as { id: string };
      running++;
      seen.maxParallel = Math.max(seen.maxParallel, running);
      try {
        await ctx.serialize('sg:vpc-1', async () => {
          seen.groupSetups++;
          await new Promise((r) => setTimeout(r, 20));
        });
        await ctx.progress(1, 2, 'a');
        await new Promise((r) => setTimeout(r, 20));
        if (behaviour[id] === 'denied') throw new StepFailure(2, 'b', ['a done'], new AwsCallError('access-denied', 'ec2:ModifyNetworkInterfaceAttribute', 'UnauthorizedOperation', 'ec2:ModifyNetworkInterfaceAttribute is denied'));
        if (behaviour[id] === 'throttled') throw new AwsCallError('throttled', 'ec2:CreateTags', 'RequestLimitExceeded', 'throttled');
        return { ok: true, lines: [`eni-${id.slice(-4)}: ir-quarantine only ✓`], notes: ['processes keep running'] };
      } finally {
        running--;
      }
    },
  };
  return { action, seen };
}

function context() {
  const progress: [number, number, string][] = [];
  const ctx = {
    aws: { account: '123456789012', region: 'us-east-1' },
    requestId: 'isolate-1',
    planRevision: 1,
    progress: async (step: number, total: number, label: string) => void progress.push([step, total, label]),
    serialize: <T>(_name: string, fn: () => Promise<T>) => fn(),
  } as unknown as ActionContext;
  return { ctx, progress };
}

const ids = ['i-0000000000000aaa1', 'i-0000000000000aaa2', 'i-0000000000000aaa3', 'i-0000000000000aaa4'];

describe('one request over several instances (isolate, release)', () => {
  it('plans every instance with every change, skipping (and saying so) the ones that cannot be done', async () => {
    const { action } = fakeAction({ [ids[2]]: 'gone' });
    const { ctx } = context();
    const plan = await eachInstance(action, 'isolate').plan(ids, ctx);
    expect(plan.blocked).toBeUndefined();
    // Skipped first, then each change (a plan without a bulk digest shares only exact repeats), then where the detail is.
    expect(plan.summary).toEqual([
      `skipped ${ids[2]}: terminated`,
      `${ids[0]}: eni-aaa1: sg-1 → ir-quarantine`,
      `${ids[1]}: eni-aaa2: sg-1 → ir-quarantine`,
      `${ids[3]}: eni-aaa4: sg-1 → ir-quarantine`,
      'Every change, instance by instance: plan-isolate-1-r1.txt in this thread',
    ]);
    expect(plan.warnings).toContain(`${ids[0]}: ${ids[0]} is a Spot instance`);
    expect(plan.detail?.content).toContain(`${ids[2]}: skipped\n  ${ids[2]} is terminated`);
    expect(plan.detail?.content).toContain(`${ids[3]}\n  - eni-aaa4: sg-1 → ir-quarantine\n  ! ${ids[3]} is a Spot instance`);
    // A different AWS state (here: another instance set) gives another fingerprint, so a stale approval is caught.
    expect((await eachInstance(action, 'isolate').plan(ids.slice(0, 2), ctx)).fingerprint).not.toBe(plan.fingerprint);
  });

  it('is the action itself for one instance, and blocked when no instance can be done', async () => {
    const { action } = fakeAction({ [ids[0]]: 'gone', [ids[1]]: 'gone' });
    const { ctx } = context();
    expect(await eachInstance(action, 'isolate').plan([ids[3]], ctx)).toEqual(await action.plan([ids[3]], ctx));
    expect((await eachInstance(action, 'isolate').plan(ids.slice(0, 2), ctx)).blocked).toMatch(/^Nothing to isolate: .*terminated; .*terminated$/);
  });

  it('runs the instances in parallel, reports k of n, shares one VPC setup, and gives each instance its verified result or its failure', async () => {
    const { action, seen } = fakeAction({ [ids[1]]: 'denied' });
    const { ctx, progress } = context();
    const bulk = eachInstance(action, 'isolate', { sharedWork: (name) => name.startsWith('sg:') });
    const outcome = await bulk.execute(await bulk.plan(ids, ctx), ctx);
    expect(seen.maxParallel).toBe(4);
    expect(seen.groupSetups).toBe(1);
    expect(progress.map(([k, n]) => `${k}/${n}`)).toEqual(['1/4', '2/4', '3/4', '4/4']);
    expect(outcome.ok).toBe(false);
    // Counts first, then only the failure; every instance's state is in the file.
    expect(outcome.summary).toEqual([
      '3 isolated ✓, 1 FAILED ✗',
      `${ids[1]}: FAILED at step 2 (b): ec2:ModifyNetworkInterfaceAttribute is denied; done before: a done`,
      "Every instance's verified state: result-isolate-1.txt in this thread",
    ]);
    const every = [
      `${ids[0]}: verified: eni-aaa1: ir-quarantine only ✓`,
      `${ids[1]}: FAILED at step 2 (b): ec2:ModifyNetworkInterfaceAttribute is denied; done before: a done`,
      `${ids[2]}: verified: eni-aaa3: ir-quarantine only ✓`,
      `${ids[3]}: verified: eni-aaa4: ir-quarantine only ✓`,
    ];
    expect(outcome.attachment?.content.split('\n').filter(Boolean)).toEqual(every);
    // The full record keeps every instance (the report, the Security Hub note, the card read it).
    expect(outcome.lines).toEqual(['3 isolated ✓, 1 FAILED ✗', ...every]);
    expect(outcome.notes).toEqual(['processes keep running']);
  });

  it('hands a failure another attempt may fix (throttling) back to the job, after every instance has run', async () => {
    const { action, seen } = fakeAction({ [ids[0]]: 'throttled' });
    const { ctx, progress } = context();
    const bulk = eachInstance(action, 'isolate');
    await expect(bulk.execute(await bulk.plan(ids, ctx), ctx)).rejects.toThrow(AwsCallError);
    expect(progress).toHaveLength(4);
    expect(seen.groupSetups).toBe(4);
  });

  it('reports a final error as that instance’s failure', async () => {
    const action: ResponseAction = {
      plan: async ([id]) => ({ summary: [id], warnings: [], steps: [], fingerprint: id, data: { id } }),
      execute: async (p) => {
        if ((p.data as { id: string }).id === ids[0]) throw new FinalError('the instance was terminated meanwhile');
        return { ok: true, lines: ['done ✓'], notes: [] };
      },
    };
    const { ctx } = context();
    const bulk = eachInstance(action, 'release');
    const outcome = await bulk.execute(await bulk.plan(ids.slice(0, 2), ctx), ctx);
    expect(outcome.summary?.slice(0, 2)).toEqual(['1 released ✓, 1 FAILED ✗', `${ids[0]}: FAILED: the instance was terminated meanwhile`]);
    expect(outcome.attachment?.content).toContain(`${ids[1]}: verified: done ✓`);
  });

  it('says shared changes once, production impact first, and warns of a shared role only for instances outside the plan', async () => {
    const role = 'arn:aws:iam::123456789012:instance-profile/web';
    const action: ResponseAction = {
      plan: async ([id]) => {
        const warning = `its instance role (${role}) is shared by 3 other instance(s)`;
        const others = [...ids.slice(0, 3), 'i-0000000000000bbb9'].filter((x) => x !== id);
        return {
          summary: [`eni-${id.slice(-4)}: sg-1 → q`],
          warnings: [warning],
          steps: [],
          fingerprint: id,
          bulk: { same: ['every interface to q', 'tags'], impact: id === ids[0] ? ['detach from Auto Scaling group web-asg'] : [], sharedWith: { instances: others, warning } },
        };
      },
      execute: async () => ({ ok: true, lines: [], notes: [] }),
    };
    const { ctx } = context();
    const plan = await eachInstance(action, 'isolate').plan(ids.slice(0, 3), ctx);
    expect(plan.summary).toEqual([`:warning: ${ids[0]}: detach from Auto Scaling group web-asg`, '3 instances: every interface to q; tags', 'Every change, instance by instance: plan-isolate-1-r1.txt in this thread']);
    // The three share the role with each other and one instance outside the plan: only that one is named.
    expect(plan.warnings).toEqual(['3 instances: shares its instance role with 1 instance(s) outside this plan (i-0000000000000bbb9): revoking the role\'s sessions would hit them too']);
  });

  it('cuts a long line between words, never inside an id', () => {
    const line = `skipped ${ids[0]}: ${'word '.repeat(18)}${ids[1]} and more`;
    for (const max of [100, 110, 118, 125]) {
      const cut = safeWords(line, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(cut.endsWith(' …')).toBe(true);
      // Every token shown is a whole token of the line: no half word, no half id.
      const tokens = new Set(line.split(' '));
      for (const t of cut.slice(0, -2).split(' ')) expect(tokens.has(t)).toBe(true);
    }
    expect(shortReason(ids[0], `${ids[0]} is already isolated since 2026-12-07T19:00:00Z: every interface is in sg-1. Use /ir release.`)).toBe('already isolated since 2026-12-07T19:00:00Z');
  });
});

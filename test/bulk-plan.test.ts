import { ACCOUNT, MINERS, WEB_SERVER, buildScene, guardDutyFindings } from '../demo/scene';
import type { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { click, textOf, threadReplies } from './support/slack-user';
import { DEMO_ACCESS, DEMO_CHANNELS, FAST_SLACK, isolatedEarlier } from './support/demo-incident';
import { visibleText } from './support/visible';

describe('a bulk plan and its result read in ten seconds', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('the demo: Isolate all 11 asks in under 1,800 visible characters, production impact and the skipped miner first, every detail in a file; the result leads with counts', async () => {
    aws = buildScene();
    const earlier = isolatedEarlier(aws, MINERS[3]);
    h = await startHarness({ file: { channels: DEMO_CHANNELS, access: DEMO_ACCESS, slack: FAST_SLACK } });
    expect((await h.postEvents(guardDutyFindings(fixture('guardduty-crypto-dns')))).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRYPTO').find((m) => textOf(m).includes('ir_bulk_isolate')), 'the roll-up', 30_000);
    await click(h, card, 'ir_bulk_isolate', 'U01ANA');
    const approval = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('ir_approve')), 'the approval', 30_000);

    const seen = visibleText(approval.blocks);
    expect(seen.length).toBeLessThan(1800);
    const lines = seen.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    // Production impact and the skipped instance come before the changes every instance shares.
    const shared = at(/^• 10 instances: termination and stop protection on; every interface to (sg-\w+ \()?ir-quarantine/);
    expect(shared).toBeGreaterThan(0);
    expect(at(new RegExp(`${WEB_SERVER}: detach from Auto Scaling group web-asg`))).toBeGreaterThan(0);
    expect(at(new RegExp(`${WEB_SERVER}: detach from Auto Scaling group web-asg`))).toBeLessThan(shared);
    expect(at(new RegExp(`${WEB_SERVER}: deregister from target group web-tg port 80`))).toBeLessThan(shared);
    expect(at(new RegExp(`skipped ${MINERS[3]}: already isolated since ${earlier}`))).toBeLessThan(shared);
    // Nothing is cut: no ellipsis anywhere, so no half word and no half id.
    expect(seen).not.toContain('…');
    // Every warning is about an instance in the plan, in the plan's own account.
    for (const arn of seen.match(/arn:aws:[a-z]+::?\d*:/g) ?? []) expect(arn).toContain(ACCOUNT);

    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.thread_ts === card.ts && f.filename?.startsWith('plan-')), 'the plan file in the thread');
    expect(seen).toContain(file.filename);
    for (const id of [...MINERS, WEB_SERVER]) expect(file.content).toContain(id);
    expect(file.content).toMatch(/eni-e5f60718000000001 \(primary\): sg-0000000000000web1 \(web\), sg-0000000000000ssh1 \(ssh-admin\) →/);

    // The audit trail keeps what was approved, instance by instance, not only the summary.
    const entries = (await h.redis.xrange(`${h.config.redisPrefix}:audit`, '-', '+')).map(([, f]) => f);
    const asked = entries.find((f) => f[f.indexOf('event') + 1] === 'approval-requested')!;
    const detail = JSON.parse(asked[asked.indexOf('detail') + 1]);
    for (const id of [...MINERS, WEB_SERVER]) expect(detail.perInstance).toContain(id);

    await click(h, approval, 'ir_approve', 'U02LEAD');
    await waitFor(() => textOf(approval).includes('Verified end state'), 'the verified result', 60_000);
    const result = visibleText(approval.blocks);
    expect(result).toContain(`10 isolated ✓, 1 skipped: ${MINERS[3]} already isolated since ${earlier}`);
    expect(result).toContain(`${WEB_SERVER}: Auto Scaling group web-asg: detached ✓`);
    const out = await waitFor(() => [...h.slack.files.values()].find((f) => f.thread_ts === card.ts && f.filename?.startsWith('result-')), 'the result file');
    for (const id of [...MINERS.filter((m) => m !== MINERS[3]), WEB_SERVER]) expect(out.content).toContain(`${id}: verified`);
  }, 90_000);

  it.each([
    ['snapshot', 'Snapshot', /^• 11 instances: one crash-consistent set of 2 volume\(s\): \/dev\/xvda \(8 GiB\), \/dev\/xvdf \(100 GiB\)$/m],
    ['stop', 'Stop', /^• 11 instances: running → stopped \(never terminated\)$/m],
  ])('the demo: %s all 11 asks in one shared line, every instance and volume in the plan file', async (kind, title, shared) => {
    aws = buildScene();
    h = await startHarness({ file: { channels: DEMO_CHANNELS, access: DEMO_ACCESS, slack: FAST_SLACK } });
    expect((await h.postEvents(guardDutyFindings(fixture('guardduty-crypto-dns')))).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRYPTO').find((m) => textOf(m).includes(`ir_bulk_${kind}`)), 'the roll-up', 30_000);
    await click(h, card, `ir_bulk_${kind}`, 'U01ANA');
    const plan = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Every instance, one line each')), 'the plan', 30_000);
    const seen = visibleText(plan.blocks);
    // Before: 2,218 (snapshot) and 1,217 (stop) characters, one bullet per instance and the stop warning cut mid-command.
    expect(seen.length).toBeLessThan(800);
    expect(seen).toMatch(shared);
    expect(seen).not.toContain('…');
    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.thread_ts === card.ts && f.filename?.startsWith('plan-')), 'the plan file');
    expect(file.content.split('\n')[0]).toMatch(new RegExp(`^${title}: 11 instance\\(s\\) in account ${ACCOUNT}`));
    for (const id of [...MINERS, WEB_SERVER]) expect(file.content).toContain(id);
    if (kind === 'snapshot') {
      expect(file.content).toContain(`${WEB_SERVER}: one crash-consistent set of 2 volume(s): /dev/xvda vol-e5f60718000000001 (8 GiB)`);
      // Progress names the instance that lags, not 22 bare device names.
      await waitFor(() => /0 of 22 completed; slowest i-\w+ \/dev\/xvd[af] at \d+%/.test(visibleText(plan.blocks)), 'progress naming the slowest volume', 30_000);
      await waitFor(() => textOf(plan).includes('ir_approve') || textOf(plan).includes('Verified end state'), 'the approval or the result', 30_000);
    } else {
      expect(seen).toContain(`or the two commands in ${file.filename}`);
      expect(file.content).toMatch(/^\/ir memory (i-\w+ ){10}i-\w+$/m);
      expect(file.content).toMatch(/^\/ir snapshot (i-\w+ ){10}i-\w+$/m);
    }
    // The result leads with the count; every line is in its file (before: 22 and 11 bullets).
    if (textOf(plan).includes('ir_approve')) await click(h, plan, 'ir_approve', 'U02LEAD');
    await waitFor(() => textOf(plan).includes('Verified end state'), 'the verified result', 60_000);
    const result = visibleText(plan.blocks);
    expect(result).toContain(kind === 'snapshot' ? '• 22 of 22 snapshots of 11 instances completed ✓\n' : '• 11 of 11 stopped ✓\n');
    expect(result.length).toBeLessThan(800);
    const out = await waitFor(() => [...h.slack.files.values()].find((f) => f.thread_ts === card.ts && f.filename?.startsWith('result-')), 'the result file');
    expect(out.content.trim().split('\n')).toHaveLength(kind === 'snapshot' ? 22 : 11);
    expect(out.content).toContain(kind === 'snapshot' ? `${WEB_SERVER} /dev/xvdf vol-e5f60718000000002 → snap-` : `${WEB_SERVER}: stopped ✓`);
  }, 90_000);
});

import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import { needsApproval } from '../../src/requests/guard';
import { FakeAws } from '../support/fake-aws';
import { BASE_FILE_CONFIG, fixture, startHarness, tearDownAfterEach, testEnv, waitFor, writeConfigFile, type Harness } from '../support/harness';
import { buttonIn, click, ephemeralsFor, textOf, threadReplies } from '../support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const FAST_AWS = { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 };

async function cryptoCard(h: Harness) {
  expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
  return waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the crypto card');
}

describe('approval by default for what hides or reaches into an instance', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('memory capture and Suppress wait for an approver unless access.requireApproval leaves them out', () => {
    const defaults = loadConfig(testEnv({ IR_CONFIG: writeConfigFile({ channels: BASE_FILE_CONFIG.channels, access: { responders: ['U01ANA'], approvers: ['U02LEAD'] } }) })).access;
    expect(needsApproval('memory', defaults)).toBe(true);
    expect(defaults.requireApproval).toContain('suppress');
    const oneClick = loadConfig(testEnv({ IR_CONFIG: writeConfigFile({ channels: BASE_FILE_CONFIG.channels, access: { requireApproval: ['isolate'] } }) })).access;
    expect(needsApproval('memory', oneClick)).toBe(false);
    expect(oneClick.requireApproval).not.toContain('suppress');
  });

  it('the example config keeps the default; only the demo, on stand-ins, lets memory and Suppress run at once', () => {
    const defaults = loadConfig(testEnv({ IR_CONFIG: writeConfigFile({ channels: BASE_FILE_CONFIG.channels }) })).access.requireApproval;
    const example = loadConfig(testEnv({ IR_CONFIG: join(__dirname, '../../config/ir-bot.example.yaml') })).access.requireApproval;
    expect([...example].sort()).toEqual([...defaults].sort());
    const demo = loadConfig(testEnv({ IR_CONFIG: join(__dirname, '../../demo/ir-bot.demo.yaml') })).access.requireApproval;
    // docs/access.md names exactly these departures; a wider one would need saying there.
    expect(defaults.filter((a) => !demo.includes(a)).sort()).toEqual(['memory', 'revoke-sessions', 'suppress']);
  });

  it('Suppress asks in the thread; only another approver\'s click suppresses every finding on the card, once', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    h = await startHarness({ file: { access: { responders: ['U01ANA', 'U02LEAD'], approvers: ['U02LEAD', 'U03LEAD'], twoPersonRule: true }, aws: FAST_AWS } });
    const card = await cryptoCard(h);

    await click(h, card, 'ir_wf_suppress', 'U02LEAD');
    const ask = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => buttonIn(m, 'ir_suppress_approve')), 'the Suppress approval in the thread');
    expect(textOf(ask)).toContain('Suppress every finding on this card');
    expect(textOf(ask)).toContain('asked by <@U02LEAD>');
    await waitFor(() => ephemeralsFor(h, 'U02LEAD').find((t) => t.includes('Suppress needs an approver')), 'the asker told');
    // A second click joins the open ask instead of posting another.
    await click(h, card, 'ir_wf_suppress', 'U01ANA');
    await waitFor(() => ephemeralsFor(h, 'U01ANA').find((t) => t.includes('already waiting for an approver')), 'the second asker told');
    expect(threadReplies(h, card.channel, card.ts).filter((m) => buttonIn(m, 'ir_suppress_approve'))).toHaveLength(1);

    // A responder who is not an approver, and the asker under the two-person rule, cannot approve.
    await click(h, ask, 'ir_suppress_approve', 'U01ANA');
    await waitFor(() => ephemeralsFor(h, 'U01ANA').find((t) => t.includes('Only approvers may approve this')), 'the responder refused');
    await click(h, ask, 'ir_suppress_approve', 'U02LEAD');
    await waitFor(() => ephemeralsFor(h, 'U02LEAD').find((t) => t.includes('Two-person rule')), 'the asker refused');
    await new Promise((r) => setTimeout(r, 300));
    expect(aws.callsOf('BatchUpdateFindings')).toHaveLength(0);

    await click(h, ask, 'ir_suppress_approve', 'U03LEAD');
    const result = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('Security Hub workflow set to')), 'the workflow result');
    expect(textOf(result)).toContain('set to *SUPPRESSED* on 1 finding(s) by <@U02LEAD>, approved by <@U03LEAD>');
    expect(aws.callsOf('BatchUpdateFindings')).toHaveLength(1);
    expect(aws.callsOf('BatchUpdateFindings')[0].input.Note.Text).toContain('approved by U03LEAD');
    await waitFor(() => !buttonIn(ask, 'ir_suppress_approve') && textOf(ask).includes('approved by <@U03LEAD>'), 'the ask shown as approved, without buttons');

    // A stale click on the old buttons decides nothing more.
    const stale = { ...ask, blocks: JSON.parse(JSON.stringify(ask.blocks)) };
    stale.blocks.push({ type: 'actions', elements: [{ type: 'button', action_id: 'ir_suppress_reject', text: { type: 'plain_text', text: 'Reject' }, value: JSON.stringify({ k: JSON.parse(buttonIn(card, 'ir_wf_suppress')!.value).k, s: textOf(ask).match(/suppress-[0-9a-z]+-[0-9a-f]{8}/)![0] }) }] });
    await click(h, stale, 'ir_suppress_reject', 'U03LEAD');
    await waitFor(() => ephemeralsFor(h, 'U03LEAD').find((t) => t.includes('Already approved by <@U03LEAD>')), 'the stale click refused');
    await new Promise((r) => setTimeout(r, 300));
    expect(aws.callsOf('BatchUpdateFindings')).toHaveLength(1);
  }, 30_000);
});

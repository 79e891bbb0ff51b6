import { MINERS, WEB_SERVER, buildScene, guardDutyFindings } from '../demo/scene';
import type { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { click, sendToBot, textOf, threadReplies } from './support/slack-user';
import { DEMO_ACCESS, DEMO_CHANNELS, FAST_SLACK, isolatedEarlier } from './support/demo-incident';
import { blockActionBody, viewSubmissionBody } from './support/slack-signing';

const ATHENA = { workgroup: 'primary', database: 'security_logs', outputLocation: 's3://example-athena-results/ir-bot/', tables: { cloudtrail: 'cloudtrail_logs', vpcflow: 'vpc_flow_logs' } };
const PEOPLE = { U01ANA: { real_name: 'Ana Analyst', profile: { display_name: 'ana' } }, U02LEAD: { real_name: 'Lee Lead' } };

describe('the incident report tells the truth', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('after Acknowledge, a bulk isolation and a hunt: times and durations, every target, the hunt, names beside ids, no line repeated; /metrics has the durations', async () => {
    aws = buildScene();
    const earlier = isolatedEarlier(aws, MINERS[3]);
    h = await startHarness({
      slackOptions: { users: PEOPLE },
      file: { channels: DEMO_CHANNELS, access: DEMO_ACCESS, athena: ATHENA, hunts: { rowsInThread: 2 }, slack: FAST_SLACK },
    });
    expect((await h.postEvents(guardDutyFindings(fixture('guardduty-crypto-dns')))).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRYPTO').find((m) => textOf(m).includes('ir_bulk_isolate')), 'the roll-up', 30_000);
    // Ana acknowledges: the incident's "acknowledged", by her.
    await click(h, card, 'ir_wf_ack', 'U01ANA');
    await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('set to *NOTIFIED*')), 'the acknowledgement');

    // Isolate all 11: one was isolated earlier, ten are; Lee approves.
    await click(h, card, 'ir_bulk_isolate', 'U01ANA');
    const approval = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('ir_approve')), 'the approval', 30_000);
    await click(h, approval, 'ir_approve', 'U02LEAD');
    await waitFor(() => textOf(approval).includes('10 isolated ✓'), 'the isolation', 60_000);

    // A hunt from a row's menu, through the Hunt modal.
    const row = (card.blocks as any[]).find((b) => b.accessory?.action_id === 'ir_finding_menu');
    const hunt = row.accessory.options.find((o: any) => o.text.text === 'Hunt');
    await sendToBot(h, blockActionBody({ type: 'overflow', action_id: 'ir_finding_menu', selected_option: hunt }, { userId: 'U01ANA', channelId: card.channel, messageTs: card.ts, responseUrl: `${h.slack.baseUrl}/respond/menu` }));
    const open = await waitFor(() => h.slack.callsOf('views.open')[0], 'the Hunt modal');
    const view = (typeof open.args.view === 'string' ? JSON.parse(open.args.view) : open.args.view) as any;
    const instance = view.blocks.find((b: any) => b.block_id === 'instance').element.initial_value as string;
    const submitted = await sendToBot(h, viewSubmissionBody(view, {
      template: { value: { type: 'static_select', selected_option: { value: 'ec2-calls' } } },
      instance: { value: { type: 'plain_text_input', value: instance } },
      ip: { value: { type: 'plain_text_input', value: null } },
      principal: { value: { type: 'plain_text_input', value: null } },
      days: { value: { type: 'plain_text_input', value: '3' } },
    }));
    expect(submitted.text).toBe('');
    await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('*Results*')), 'the hunt result', 30_000);

    await click(h, card, 'ir_report', 'U01ANA');
    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.filename?.startsWith('incident-report-') && f.content && f.channel), 'the report', 30_000);
    const md = file.content;
    const section = (name: string) => md.split(`\n## ${name}\n`)[1]?.split('\n## ')[0] ?? '';

    // Times: first seen, acknowledged by Ana, contained (verified) with Lee's approval, with the durations.
    const times = section('Times');
    expect(times).toMatch(/\| first seen \| \d{4}-\d\d-\d\dT[\d:]+Z \| GuardDuty \|/);
    expect(times).toMatch(/\| acknowledged \| \d{4}-[^|]+ \| ana \(U01ANA\) \| 1 h( \d+ min)? \(time to acknowledge\) \|/);
    expect(times).toMatch(/\| contained \(verified\) \| \d{4}-[^|]+ \| Lee Lead \(U02LEAD\), `isolate-[^`]+` \| 1 h( \d+ min)? \(time to contain\) \|/);
    expect(times).toContain('| resolved | not yet |');

    // The isolation is listed with all eleven targets, the skipped one with why; names beside ids.
    const actions = section('Actions');
    expect(actions).toMatch(/### isolate 11 targets \(`isolate-/);
    for (const id of [...MINERS, WEB_SERVER]) expect(actions).toContain(`\`${id}\``);
    expect(actions).toContain(`- skipped \`${MINERS[3]}\`: ${MINERS[3]} is already isolated since ${earlier}`);
    expect(actions).toContain('- asked by ana (U01ANA) at');
    expect(actions).toContain('- approved by Lee Lead (U02LEAD) at');
    const contained = md.split('What damage was done, and what was contained?\n')[1].split('\n- ')[0];
    expect(contained).toContain('isolate 10 of 11: ');
    expect(contained).toContain(`(skipped: ${MINERS[3]})`);
    expect(contained).toContain(WEB_SERVER);

    // The hunt: template, parameters, rows, cost, the SQL; not "none".
    const hunts = section('Hunts');
    expect(hunts).not.toContain('none run');
    expect(hunts).toMatch(/### ec2-calls \(`hunt-/);
    expect(hunts).toContain(`instance = \`${instance}\``);
    expect(hunts).toMatch(/- rows: \d+/);
    expect(hunts).toMatch(/- result: \d+ row\(s\); [\d.]+ MB scanned; .*about \$[\d.]+ at \$5\/TB/);
    expect(hunts).toContain('```sql\nSELECT');

    // No line said twice within one part: eleven identical findings' lines are one line with a
    // count. (Two requests asked by the same person in the same second rightly read alike.)
    for (const part of md.split(/\n#{2,3} /)) {
      const bullets = part.split('\n').filter((l) => /^\s*- /.test(l) && !l.includes('unknown: for the investigator'));
      expect(bullets.filter((l, i) => bullets.indexOf(l) !== i)).toEqual([]);
    }
    expect(md).toContain('finding class CryptoCurrency (×11)');
    const rows = md.split('\n').filter((l) => l.includes('| finding first seen |'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('11 targets:');

    // The same durations on /metrics, once per incident: a second Acknowledge is not a second sample.
    await click(h, card, 'ir_wf_ack', 'U01ANA');
    await waitFor(() => threadReplies(h, card.channel, card.ts).filter((m) => textOf(m).includes('set to *NOTIFIED*')).length === 2, 'the second acknowledgement');
    const metrics = await (await fetch(`${h.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/ir_incident_time_to_acknowledge_seconds_count 1\b/);
    expect(metrics).toMatch(/ir_incident_time_to_contain_seconds_count 1\b/);
    expect(metrics).toMatch(/ir_incident_time_to_contain_seconds_bucket\{le="7200"\} 1\b/);
    expect(metrics).toMatch(/ir_incident_time_to_contain_seconds_bucket\{le="3600"\} 0\b/);
  }, 120_000);
});

import { AuditLog } from '../src/audit/log';
import { createLogger } from '../src/log';
import { FakeAws } from './support/fake-aws';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { viewSubmissionBody } from './support/slack-signing';
import { click, sendToBot, slash, textOf, threadReplies } from './support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ATHENA = {
  workgroup: 'primary',
  database: 'security_logs',
  outputLocation: 's3://example-athena-results/ir-bot/',
  tables: { cloudtrail: 'cloudtrail_logs', vpcflow: 'vpc_flow_logs' },
};
const FILE = { athena: ATHENA, access: { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: [] }, aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 }, hunts: { rowsInThread: 5 } };

function status(h: Harness, pred: (t: string) => boolean, what: string, timeoutMs?: number) {
  return waitFor(() => h.slack.channelMessages('C01ALERTS').filter((m) => pred(textOf(m))).at(-1), what, timeoutMs);
}

describe('hunts run from Slack: bound parameters, polling, results and CSV in the thread, pivots', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('binds the values as parameters, polls until done, shows the first rows escaped, uploads the full CSV, and offers pivots', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.queryRunMs = 1500;
    aws.queryRows = Array.from({ length: 1200 }, (_, i) => [
      i === 0 ? 'arn:aws:iam::123456789012:user/ci-deploy' : `arn:aws:iam::123456789012:user/u${i}`,
      i === 1 ? '<!channel> RunInstances' : 'RunInstances',
      '',
      i === 2 ? '=HYPERLINK("http://evil")' : String(1200 - i),
    ]);
    h = await startHarness({ file: FILE });
    await slash(h, `hunt ec2-calls instance=${INSTANCE} days=3`);
    const done = await status(h, (t) => t.includes('*Results*'), 'the hunt result', 20_000);
    const q = [...aws.queries.values()][0];
    expect(q.sql).not.toContain(INSTANCE);
    expect(q.params).toEqual(["'2026/11/20'".replace('2026/11/20', new Date(Date.now() - 2 * 86400_000).toISOString().slice(0, 10).replace(/-/g, '/')), `'${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}'`, `'${INSTANCE}'`, `'${INSTANCE}'`]);
    expect(aws.callsOf('StartQueryExecution')[0].input).toMatchObject({ WorkGroup: 'primary', QueryExecutionContext: { Database: 'security_logs' }, ResultConfiguration: { OutputLocation: 's3://example-athena-results/ir-bot/' } });
    // Polled until done, not every few milliseconds.
    const polls = aws.callsOf('GetQueryExecution').length;
    // Checked after one and two seconds: seen on the second check, not polled continuously.
    expect(polls).toBe(2);
    const t = textOf(done);
    expect(t).toContain('1200 row(s); 123.5 MB scanned');
    expect(t).toContain('First 5 of 1200 rows');
    expect(t).toContain('&lt;!channel&gt; RunInstances');
    expect(t).not.toContain('<!channel>');
    expect(t).toContain('query-editor/history/');
    // Two result pages were read.
    expect(aws.callsOf('GetQueryResults')).toHaveLength(2);
    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.filename?.startsWith('ec2-calls-') && f.content && f.channel), 'the CSV');
    const lines = file.content.split('\n');
    expect(lines).toHaveLength(1201);
    expect(lines[0]).toBe('principal,eventname,errorcode,calls');
    expect(file.content).toContain(`"'=HYPERLINK(""http://evil"")"`);
    // Pivot: hunt further on the principal in the first row.
    await click(h, done, 'ir_pivot_0', 'U01ANA');
    // The same principal can be contained from the results.
    expect(JSON.stringify(done.blocks)).toContain('Deny all arn:aws:iam::123456789012:user/ci-deploy');
    // The next hunt reports in the first one's thread.
    await waitFor(() => threadReplies(h, done.channel, done.ts).find((m) => textOf(m).includes('principal-calls')), 'the pivot hunt');
    const second = await waitFor(() => [...aws.queries.values()][1], 'the second query');
    expect(second.params.at(-1)).toBe("'arn:aws:iam::123456789012:user/ci-deploy'");
  });

  it("shows Athena's reason and the template name when a query fails", async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.queryFails = "TABLE_NOT_FOUND: line 2:6: Table 'awsdatacatalog.security_logs.cloudtrail_logs' does not exist";
    h = await startHarness({ file: FILE });
    await slash(h, 'hunt sg-changes');
    const failed = await status(h, (t) => t.includes(':x: failed'), 'the failure');
    expect(textOf(failed)).toContain('Athena failed the sg-changes query: TABLE_NOT_FOUND');
  });

  it('stops a query that runs past hunts.timeoutMinutes', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.queryRunMs = 60_000;
    h = await startHarness({ file: { ...FILE, hunts: { rowsInThread: 5, timeoutMinutes: 0.02 } } });
    await slash(h, 'hunt iam-creations');
    const failed = await status(h, (t) => t.includes(':x: failed'), 'the timed-out hunt', 15_000);
    expect(textOf(failed)).toContain('still running after 0.02 min; the query was stopped');
    expect(aws.callsOf('StopQueryExecution')).toHaveLength(1);
  });

  it('stops the query on Cancel', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.queryRunMs = 60_000;
    h = await startHarness({ file: FILE });
    await slash(h, 'hunt access-denied');
    const running = await status(h, (t) => t.includes('ir_hunt_cancel'), 'the running hunt with Cancel', 10_000);
    await click(h, running, 'ir_hunt_cancel', 'U01ANA');
    const failed = await status(h, (t) => t.includes('cancelled by U01ANA'), 'the cancelled hunt', 15_000);
    expect(textOf(failed)).toContain('the query was stopped');
    expect(aws.callsOf('StopQueryExecution')).toHaveLength(1);
    const audit = await new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).find([{ user: 'U01ANA' }]);
    expect(audit.map((e) => e.event)).toEqual(['requested', 'started', 'cancelled']);
  });

  it("opens the Hunt modal prefilled from the card's finding, puts input errors on the form, and runs the hunt into the card's thread", async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    aws.queryRows = [['arn:aws:iam::123456789012:user/ci-deploy', 'RunInstances', '', '3']];
    h = await startHarness({ file: FILE });
    expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the card');
    await click(h, card, 'ir_hunt', 'U01ANA');
    const open = await waitFor(() => h.slack.callsOf('views.open')[0], 'the modal');
    const view = (typeof open.args.view === 'string' ? JSON.parse(open.args.view) : open.args.view) as any;
    const field = (id: string) => view.blocks.find((b: any) => b.block_id === id).element;
    expect(field('template').initial_option.value).toBe('ec2-calls');
    expect(field('instance').initial_value).toBe(INSTANCE);
    expect(field('ip').initial_value).toBe('10.0.1.25');

    const submit = async (instance: string) =>
      sendToBot(h, viewSubmissionBody(view, {
        template: { value: { type: 'static_select', selected_option: { value: 'ec2-calls' } } },
        instance: { value: { type: 'plain_text_input', value: instance } },
        ip: { value: { type: 'plain_text_input', value: '10.0.1.25' } },
        principal: { value: { type: 'plain_text_input', value: null } },
        days: { value: { type: 'plain_text_input', value: '3' } },
      }));
    const refused = await submit("i-0a1b2c3d4e5f60718' OR 1=1 --");
    expect(JSON.parse(refused.text)).toEqual({ response_action: 'errors', errors: { instance: expect.stringContaining('is not an EC2 instance id') } });
    expect(aws.queries.size).toBe(0);

    const ok = await submit(INSTANCE);
    expect(ok.text).toBe('');
    const result = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('*Results*')), 'the hunt in the thread');
    expect(textOf(result)).toContain('1 row(s)');
    expect([...aws.queries.values()][0].params.slice(2)).toEqual([`'${INSTANCE}'`, `'${INSTANCE}'`]);
  });
});

import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/log';
import { createLogger } from '../../src/log';
import { RedisRecords } from '../../src/requests/records';
import { FakeAws } from '../support/fake-aws';
import { startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';
import { click, ephemeralsFor, slash, textOf } from '../support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const ATHENA = { workgroup: 'primary', database: 'security_logs', outputLocation: 's3://example-athena-results/ir-bot/', tables: { cloudtrail: 'cloudtrail_logs', vpcflow: 'vpc_flow_logs' } };
const DAY = 86_400_000;

describe('Redis does not grow without bound', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('keeps a hunt\'s full result in Athena\'s output location, not in the request hash or the audit stream', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    // 20,000 rows with long ARNs: about 3 MB of CSV.
    aws.queryRows = Array.from({ length: 20_000 }, (_, i) => [`arn:aws:iam::123456789012:role/${'r'.repeat(100)}/${'x'.repeat(40)}${i}`, 'RunInstances', '', String(i)]);
    h = await startHarness({ file: { athena: ATHENA, access: { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: [] }, aws: { maxAttempts: 1 }, hunts: { rowsInThread: 5 } } });
    await slash(h, `hunt ec2-calls instance=${INSTANCE} days=3`);
    const done = await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => textOf(m).includes('*Results*')), 'the hunt result', 20_000);
    const queryId = [...aws.queries.keys()][0];
    expect(textOf(done)).toContain(`s3://example-athena-results/ir-bot/${queryId}.csv`);
    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.content && f.channel), 'the CSV');
    expect(file.content.length).toBeLessThanOrEqual(1_000_200);
    expect(file.content).toContain(`full result is s3://example-athena-results/ir-bot/${queryId}.csv`);
    await waitFor(async () => {
      const keys = await h.redis.keys(`${h.config.redisPrefix}:req:hunt-*`);
      const hashes = await Promise.all(keys.map((k) => h.redis.type(k).then((t) => (t === 'hash' ? h.redis.hget(k, 'attachmentPosted') : null))));
      return hashes.includes('1');
    }, 'the file marked as posted');
    for (const k of await h.redis.keys(`${h.config.redisPrefix}:req:*`)) {
      if ((await h.redis.type(k)) !== 'hash') continue;
      expect(Number(await h.redis.hstrlen(k, 'result'))).toBeLessThan(20_000);
    }
    const audit = await h.redis.xrange(`${h.config.redisPrefix}:audit`, '-', '+');
    for (const [, fields] of audit) expect(fields.join('').length).toBeLessThan(20_000);
  }, 30_000);

  it('gives undo records a lifetime, and retired ones the retention period', async () => {
    h = await startHarness({ worker: false, file: { retentionDays: 30, undoRecordDays: 400 } });
    const records = new RedisRecords(h.redis, h.config.redisPrefix, { liveSeconds: 400 * 86400, retiredSeconds: 30 * 86400 });
    await records.putIfAbsent('isolation:i-1', { groups: ['sg-1'] });
    const live = `${h.config.redisPrefix}:rec:isolation:i-1`;
    expect(await h.redis.ttl(live)).toBeGreaterThan(399 * 86400);
    await records.retire('isolation:i-1', 1_700_000_000_000);
    const ttl = await h.redis.ttl(`${live}:retired:1700000000000`);
    expect(ttl).toBeGreaterThan(29 * 86400);
    expect(ttl).toBeLessThanOrEqual(30 * 86400);
  });

  it('keeps the lifetime when a record is replaced (a re-isolation, a second deny), and gives the replaced one the retention period', async () => {
    h = await startHarness({ worker: false });
    const records = new RedisRecords(h.redis, h.config.redisPrefix, { liveSeconds: 400 * 86400, retiredSeconds: 30 * 86400 });
    const live = `${h.config.redisPrefix}:rec:isolation:i-2`;
    await records.putIfAbsent('isolation:i-2', { groups: ['sg-1'] });
    await records.replace('isolation:i-2', { groups: ['sg-2'] }, 1_700_000_000_000);
    expect(await records.get('isolation:i-2')).toEqual({ groups: ['sg-2'] });
    expect(await h.redis.ttl(live)).toBeGreaterThan(399 * 86400);
    const history = await h.redis.ttl(`${live}:replaced:1700000000000`);
    expect(history).toBeGreaterThan(29 * 86400);
    expect(history).toBeLessThanOrEqual(30 * 86400);
    // A record written before it had a lifetime gets one at its next replacement.
    await h.redis.set(`${h.config.redisPrefix}:rec:deny:old`, '{}');
    await records.replace('deny:old', { requestId: 'r-1' }, 1_700_000_000_001);
    expect(await h.redis.ttl(`${h.config.redisPrefix}:rec:deny:old`)).toBeGreaterThan(0);
    expect(await h.redis.ttl(`${h.config.redisPrefix}:rec:deny:old:replaced:1700000000001`)).toBeGreaterThan(0);
  });

  it('exports whole days past audit.retentionDays to a JSONL file, then trims them and their indexes', async () => {
    h = await startHarness({ worker: false });
    const dir = mkdtempSync(join(tmpdir(), 'irbot-audit-'));
    const audit = new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent'));
    const now = Date.UTC(2026, 11, 1, 12);
    const old = Date.UTC(2026, 7, 1, 10);
    await audit.append({ event: 'requested', user: 'U01ANA', requestId: 'isolate-i-1-1', target: 'i-1' }, old, { backdateId: true });
    await audit.append({ event: 'approved', user: 'U02LEAD', requestId: 'isolate-i-1-1', target: 'i-1' }, old + 60_000, { backdateId: true });
    await audit.append({ event: 'requested', user: 'U01ANA', requestId: 'isolate-i-2-1', target: 'i-2' }, now - DAY, { backdateId: true });
    const res = await audit.exportAndTrim(dir, 90, now);
    expect(res.trimmed).toBe(2);
    expect(readdirSync(dir)).toEqual(['audit-2026-08-01.jsonl']);
    const lines = readFileSync(join(dir, 'audit-2026-08-01.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.event, l.user, l.requestId])).toEqual([['requested', 'U01ANA', 'isolate-i-1-1'], ['approved', 'U02LEAD', 'isolate-i-1-1']]);
    expect(await audit.find([{ requestId: 'isolate-i-1-1' }])).toEqual([]);
    expect(await h.redis.exists(`${h.config.redisPrefix}:audit:by:requestId:isolate-i-1-1`)).toBe(0);
    expect((await audit.find([{ user: 'U01ANA' }])).map((e) => e.requestId)).toEqual(['isolate-i-2-1']);
    // Run again (a crash after the export, or the next hourly tick): nothing more, nothing lost.
    expect(await audit.exportAndTrim(dir, 90, now)).toEqual({ files: [], trimmed: 0 });
  });

  it('records a user hammering a button they may not use once a minute, counting the rest', async () => {
    h = await startHarness({ worker: false, file: { access: { responders: ['U01ANA'], approvers: ['U02LEAD'] } } });
    const card = { channel: 'C01ALERTS', ts: '1700000000.000100', text: '', blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'ir_wf_suppress', value: JSON.stringify({ k: 'a'.repeat(24) }), text: { type: 'plain_text', text: 'Suppress' } }] }], updates: 0 };
    for (let i = 0; i < 50; i++) await click(h, card, 'ir_wf_suppress', 'U09MALLORY');
    await waitFor(() => ephemeralsFor(h, 'U09MALLORY').length >= 50, 'fifty refusals');
    const audit = await new AuditLog(h.redis, h.config.redisPrefix, createLogger('silent')).find([{ user: 'U09MALLORY' }]);
    expect(audit).toHaveLength(1);
    expect(audit[0].event).toBe('refused-requester');
    expect(await h.redis.get(`${h.config.redisPrefix}:audit:throttle:refused-requester:U09MALLORY:count`)).toBe('49');
  });
});

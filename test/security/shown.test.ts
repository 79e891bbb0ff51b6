import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';

const LONG_ARN = `arn:aws:iam::123456789012:role/${'a'.repeat(60)}/${'b'.repeat(400)}`;
const HOSTILE = [
  'click https://evil.example/login now',
  'or www.evil.example or evil.example',
  'join #general',
  'ping <!subteam^S01SOC|soc> <!here> @here @channel',
  'look-alikes ＜!channel＞ ＃general ｈｔｔｐｓ：／／evil．example',
  LONG_ARN,
].join(' · ');

/** Every mrkdwn text object in a message's blocks. */
function mrkdwnObjects(blocks: unknown): { text: string; verbatim?: boolean }[] {
  const out: { text: string; verbatim?: boolean }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push(o as { text: string; verbatim?: boolean });
      Object.values(o).forEach(walk);
    }
  };
  walk(blocks);
  return out;
}

describe('text from a finding never becomes a link, a channel or a mention', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  it('shows hostile titles, descriptions and tags as inert text on the card', async () => {
    h = await startHarness({ worker: true });
    const e = fixture('guardduty-crypto-dns');
    e.detail.title = HOSTILE;
    e.detail.description = HOSTILE;
    e.detail.resource.instanceDetails.tags = [{ key: '#general', value: 'https://evil.example' }];
    expect((await h.postEvents(e)).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the card');
    const objects = mrkdwnObjects(card.blocks);
    expect(objects.length).toBeGreaterThan(0);
    // Slack links nothing by itself in a verbatim text object: bare URLs and #names stay text.
    for (const o of objects) expect(o.verbatim).toBe(true);
    const text = objects.map((o) => o.text).join('\n');
    // Outside code spans, nothing Slack would read as a URL, a channel name or a mention.
    const outsideCode = text.replace(/`[^`]*`/g, '').replace(/<https:\/\/us-east-1\.console\.aws\.amazon\.com\/[^>]*>/g, '');
    expect(outsideCode).not.toMatch(/https?:\/\//);
    expect(outsideCode).not.toMatch(/(^|[^\u200B])#general/);
    expect(outsideCode).not.toMatch(/@(here|channel)\b/);
    // ir-bot's own <!date^…> timestamps are the only <!…> allowed.
    expect((outsideCode.match(/<[!@#][^>]*>/g) ?? []).filter((m) => !/^<!date\^\d+\^/.test(m))).toEqual([]);
    expect(outsideCode).not.toMatch(/[＜＞＃：／．]/);
    // The only live link is the console link ir-bot built.
    expect(text.match(/<https?:[^>]*>/g)?.every((l) => l.startsWith('<https://us-east-1.console.aws.amazon.com/'))).toBe(true);
    for (const o of objects) expect(o.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('region, account and partition are validated before use', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  it('shows findings whose region or partition would reshape a console link, a client key or an endpoint only with a warning: never as a link, client or endpoint', async () => {
    // Issue 14's contract: an odd finding still gets its card (an alert is never lost), with what was
    // odd noted; console links and AWS clients validate region, partition and account themselves.
    h = await startHarness({ worker: false });
    const bad = ['evil.example/#', 'us-east-1.evil.example', 'us-east-1#', '../../x', 'US-EAST-1'];
    for (const region of bad) {
      const e = fixture('guardduty-crypto-dns');
      e.detail.region = region;
      const res = await h.postEvents(e);
      expect(res.status).toBe(202);
      expect(res.body.accepted[0].notes.join(' ')).toContain('is not an AWS region');
    }
    const p = fixture('guardduty-crypto-dns');
    p.detail.partition = 'aws:evil';
    expect((await h.postEvents(p)).body.accepted[0].notes.join(' ')).toContain('is not an AWS partition');
  });
});

describe('intake bounds its work', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  async function timedPost(body: string) {
    const started = performance.now();
    const res = await fetch(`${h.baseUrl}/aws/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'test-ingest-key-0123456789abcdef' }, body });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - started };
  }

  it('answers a body of hundreds of thousands of empty findings at once, briefly, without parsing them', async () => {
    h = await startHarness({ worker: false });
    const body = JSON.stringify({ 'detail-type': 'Security Hub Findings - Imported', detail: { findings: new Array(330_000).fill({}) } });
    expect(body.length).toBeLessThan(1024 * 1024);
    const res = await timedPost(body);
    expect(res.status).toBe(413);
    expect(res.text.length).toBeLessThan(300);
    expect(JSON.parse(res.text).error).toContain('more than 50000 JSON objects and arrays');
  });

  it('caps findings per request, detail.findings included, and lists a bounded number of rejections', async () => {
    h = await startHarness({ worker: false });
    const many = await timedPost(JSON.stringify({ 'detail-type': 'Security Hub Findings - Imported', detail: { findings: new Array(10_000).fill({}) } }));
    expect(many.status).toBe(400);
    expect(JSON.parse(many.text).error).toBe('too many findings in one request: 10000 (at most 100); send them in several requests');
    // 100 broken findings: the answer names the first 20 and counts the rest.
    const broken = await timedPost(JSON.stringify({ 'detail-type': 'Security Hub Findings - Imported', detail: { findings: new Array(100).fill({ Id: 'x' }) } }));
    expect(broken.status).toBe(400);
    const b = JSON.parse(broken.text);
    expect(b.rejected).toHaveLength(20);
    expect(b.rejectedCount).toBeGreaterThanOrEqual(100);
    expect(broken.text.length).toBeLessThan(5000);
  });

  it('refuses deeply nested JSON before parsing it', async () => {
    h = await startHarness({ worker: false });
    const e = fixture('guardduty-crypto-dns');
    e.detail.service.additionalInfo = 'NEST';
    const res = await timedPost(JSON.stringify(e).replace('"NEST"', `${'{"a":['.repeat(5000)}1${']}'.repeat(5000)}`));
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text).error).toContain('nested deeper than 32 levels');
  });
});

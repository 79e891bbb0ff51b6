import type { Story } from '../src/actions/story';
import { parseIrCommand } from '../src/bot/commands';
import type { Finding } from '../src/findings/model';
import type { ActionRequest } from '../src/requests/model';
import { renderCard } from '../src/views/card';
import { escapeMrkdwn } from '../src/views/mrkdwn';
import { findingListCsv } from '../src/views/finding-list';
import { renderRequestStatus } from '../src/views/request-status';
import { renderCompactStories, renderStory } from '../src/views/story';
import { findingFrom } from './support/harness';
import { blockKitViolations } from './support/slack-limits';

const ROLE_120 = `arn:aws:iam::123456789012:role/${'r'.repeat(89)}`;

const finding = findingFrom;

const hex = (i: number, n = 8) => i.toString(16).padStart(n, '0');

/** A role's stolen credentials used outside AWS: a principal finding, no instance. */
function principalFinding(i: number, roleName: string): Finding {
  return finding('guardduty-credential-exfiltration', (e) => {
    e.detail.id = `${hex(i)}${'c'.repeat(24)}`;
    delete e.detail.resource.instanceDetails;
    e.detail.resource.resourceType = 'AccessKey';
    e.detail.resource.accessKeyDetails = { accessKeyId: `ASIA${hex(i, 16).toUpperCase()}`, userName: roleName, userType: 'AssumedRole', principalId: 'AROAEXAMPLE' };
  });
}

function minerFinding(i: number, mutate?: (e: any) => void): Finding {
  return finding('guardduty-crypto-dns', (e) => {
    e.detail.id = `${hex(i)}${'b'.repeat(24)}`;
    e.detail.resource.instanceDetails.instanceId = `i-${hex(i, 17)}`;
    mutate?.(e);
  });
}

function expectWithinLimits(view: { text: string; blocks: unknown[] }): void {
  expect(blockKitViolations(view.blocks, view.text)).toEqual([]);
}

describe('/ir isolate and /ir release', () => {
  it('take several instance ids, like snapshot and stop', () => {
    expect(parseIrCommand('isolate i-0123456789abcdef0 i-0fedcba9876543210 miners found')).toEqual({ kind: 'isolate', instanceIds: ['i-0123456789abcdef0', 'i-0fedcba9876543210'], reason: 'miners found' });
    expect(parseIrCommand('release i-0123456789abcdef0 i-0123456789abcdef0')).toEqual({ kind: 'release', instanceIds: ['i-0123456789abcdef0'], reason: undefined });
    expect(() => parseIrCommand('isolate i-xyz')).toThrow(/not an EC2 instance id/);
    expect(() => parseIrCommand('release web-1')).toThrow(/"web-1" is not an EC2 instance id; `\/ir release` needs one or more instance ids/);
    expect(() => parseIrCommand('isolate')).toThrow(/needs one or more instance ids/);
  });
});

describe('every view within Slack limits, with worst-case input', () => {
  it('a roll-up about principals with 120-character role ARNs keeps option values short and resolves the ARN from the finding', () => {
    const view = renderCard([principalFinding(1, 'r'.repeat(89)), principalFinding(2, 'r'.repeat(89))], { storm: false, listLimit: 15 });
    expectWithinLimits(view);
    const options = (view.blocks as any[]).flatMap((b) => b.accessory?.options ?? []);
    const labels = options.map((o: any) => o.text.text as string);
    // Cut in the middle, never at the end: the account stays whole and no shorter ARN is left to copy.
    expect(labels.filter((l: string) => /^Deny all arn:aws:iam::123456789012:role\/…r+$/.test(l))).toHaveLength(2);
    expect(labels.filter((l: string) => /^Revoke sessions arn:aws:iam::123456789012:(role\/)?…r+$/.test(l))).toHaveLength(2);
    // The ARN is not in the value: the listener reads it from the stored finding.
    for (const o of options) expect(o.value).not.toContain(ROLE_120);
  });

  it('a 100-finding roll-up with 3,000-character titles, 2,048-character ARNs and mixed types', () => {
    const findings = [
      ...Array.from({ length: 60 }, (_, i) =>
        minerFinding(i, (e) => {
          e.detail.title = 't'.repeat(3000);
          e.detail.description = '<!channel> '.repeat(400);
          e.detail.type = `CryptoCurrency:EC2/${'Type'.repeat(i % 3)}BitcoinTool.B!DNS`;
          e.detail.resource.instanceDetails.tags = [{ key: 'Name', value: 'n'.repeat(256) }];
        }),
      ),
      ...Array.from({ length: 40 }, (_, i) => principalFinding(100 + i, 'p'.repeat(2000))),
    ];
    for (const storm of [false, true]) {
      const view = renderCard(findings, { storm, listLimit: 40, rerouted: { channel: 'C0123456789', error: 'not_in_channel' } });
      expectWithinLimits(view);
      expect(JSON.stringify(view.blocks)).toContain('Show all 100');
      expect(JSON.stringify(view.blocks)).toContain('Isolate all 60');
    }
  });

  it('a single card with the longest title, description and principal', () => {
    const f = finding('guardduty-credential-exfiltration', (e) => {
      e.detail.title = 'x'.repeat(3000);
      e.detail.description = 'y'.repeat(10_000);
      e.detail.resource.accessKeyDetails.userName = 'u'.repeat(2000);
    });
    expectWithinLimits(renderCard([f], { storm: false, listLimit: 15 }));
  });

  it('a roll-up about one instance keeps that instance’s buttons on the card', () => {
    const a = minerFinding(7);
    const b = finding('guardduty-backdoor-cc', (e) => {
      e.detail.resource.instanceDetails.instanceId = a.instance!.id;
    });
    const view = renderCard([a, b], { storm: false, listLimit: 15 });
    expectWithinLimits(view);
    const buttons = (view.blocks as any[]).filter((bl) => bl.type === 'actions').flatMap((bl) => bl.elements.map((e: any) => e.text.text));
    expect(buttons).toEqual(expect.arrayContaining([`Isolate ${a.instance!.id}`, `Snapshot ${a.instance!.id}`, 'Hunt']));
    // One row for the one resource, naming both finding types.
    const rows = (view.blocks as any[]).filter((bl) => String(bl.block_id ?? '').startsWith('ir_row_'));
    expect(rows).toHaveLength(1);
    expect(rows[0].text.text).toContain(a.type);
    expect(rows[0].text.text).toContain(escapeMrkdwn(b.type));
    expect(rows[0].text.text).toContain('2 findings');
  });

  it('rows group findings per resource, most severe first', () => {
    const low = minerFinding(1, (e) => (e.detail.severity = 2));
    const high = minerFinding(2, (e) => (e.detail.severity = 8.5));
    const again = finding('guardduty-backdoor-cc', (e) => {
      e.detail.resource.instanceDetails.instanceId = low.instance!.id;
      e.detail.severity = 5;
    });
    const view = renderCard([low, again, high], { storm: false, listLimit: 15 });
    const rows = (view.blocks as any[]).filter((bl) => String(bl.block_id ?? '').startsWith('ir_row_')).map((bl) => bl.text.text as string);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain(high.instance!.id);
    expect(rows[1]).toContain(low.instance!.id);
    expect(rows[1]).toContain('2 findings');
  });

  const worstStory = (i: number): Story => ({
    instanceId: `i-${hex(i, 17)}`,
    name: 'n'.repeat(256),
    type: 'x'.repeat(100),
    state: 'running',
    launchTime: new Date().toISOString(),
    vpcId: 'vpc-0123456789abcdef0',
    subnetId: 'subnet-0123456789abcdef0',
    privateIps: Array.from({ length: 50 }, (_, j) => `10.0.${j}.1`),
    publicIps: ['203.0.113.1'],
    tags: Object.fromEntries(Array.from({ length: 50 }, (_, j) => [`k${j}${'k'.repeat(120)}`, 'v'.repeat(256)])),
    imdsV1: true,
    roleName: 'r'.repeat(64),
    ami: { id: 'ami-0123456789abcdef0', name: 'a'.repeat(128), ownerId: '444455556666' },
    securityGroups: Array.from({ length: 5 }, (_, j) => ({ id: `sg-${hex(j, 17)}`, name: 'g'.repeat(255), inbound: Array.from({ length: 60 }, () => 'tcp 0-65535 from 0.0.0.0/0'), openToWorld: true })),
    userData: { text: 'x', lines: 16_000, matches: Array.from({ length: 40 }, (_, j) => ({ line: j, text: `xmrig ${'`<!here>'.repeat(100)}`, indicator: 'miner' })) },
    launch: { principal: `arn:aws:sts::123456789012:assumed-role/${'p'.repeat(64)}/${'s'.repeat(64)}`, accessKeyId: 'ASIAEXAMPLE7QRSTUVWX', sourceIp: '198.51.100.1', userAgent: 'u'.repeat(1000), at: new Date().toISOString() },
    siblings: Array.from({ length: 200 }, (_, j) => ({ id: `i-${hex(1000 + j, 17)}`, state: 'running', launchTime: new Date().toISOString() })),
    flags: Array.from({ length: 20 }, () => 'f'.repeat(500)),
  });

  it('the full story and the compact story of a storm', () => {
    expectWithinLimits(renderStory(worstStory(1), 'a'.repeat(24)));
    const items = Array.from({ length: 20 }, (_, i) => (i % 5 === 0 ? { instanceId: `i-${hex(i, 17)}`, missing: 'm'.repeat(3000) } : { instanceId: `i-${hex(i, 17)}`, story: worstStory(i) }));
    const view = renderCompactStories(items, { from: 281, total: 300 });
    expectWithinLimits(view);
    for (const it of items) expect(JSON.stringify(view.blocks)).toContain(it.instanceId);
  });

  it('a bulk status message: 50 instances, every change and every verified result, long lines', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `i-${hex(i, 17)}`);
    const r: ActionRequest = {
      id: `isolate-${ids[0]}-1`,
      action: 'isolate',
      target: ids[0],
      targets: ids,
      channel: 'C01ALERTS',
      requestedBy: 'U01ANA',
      reason: 'r'.repeat(500),
      createdAt: Date.now(),
      state: 'awaiting-approval',
      version: 1,
      renderedVersion: 0,
      needsApproval: true,
      rev: 1,
      expiresAt: Date.now() + 60_000,
      plan: { summary: ['50 instance(s)', ...ids.map((id) => `${id}: ${'eni-0123456789abcdef0: sg-1, sg-2 → ir-quarantine; '.repeat(20)}`)], warnings: ids.map((id) => `${id}: ${'w'.repeat(600)}`), steps: ids, fingerprint: 'f' },
    };
    expectWithinLimits(renderRequestStatus(r));
    expectWithinLimits(renderRequestStatus({ ...r, state: 'running', progress: { step: 17, total: 50, label: `17 of 50 done; ${ids.map((id) => `${id} 3/9`).join(', ')}` } }));
    expectWithinLimits(renderRequestStatus({ ...r, state: 'done', result: { ok: true, lines: ids.map((id) => `${id}: verified: ${'✓ '.repeat(300)}`), notes: ['n'.repeat(5000)] } }));
    expectWithinLimits(renderRequestStatus({ ...r, state: 'failed', failure: { message: 'm'.repeat(5000), step: 3, stepLabel: 'l'.repeat(500), done: ids.map((id) => `${id} ${'d'.repeat(400)}`) } }));
  });

  it('the full list names every finding once, with spreadsheet formulas defused', () => {
    const findings = Array.from({ length: 300 }, (_, i) => minerFinding(i, (e) => (e.detail.title = '=HYPERLINK("http://evil")')));
    const csv = findingListCsv(findings);
    const lines = csv.trim().split('\n');
    expect(lines).toHaveLength(301);
    expect(lines[0]).toBe('finding_id,type,severity,resource,account,region,count,last_seen,console');
    for (const f of findings) expect(csv).toContain(`${f.id},${f.type},`);
    expect(csv).not.toMatch(/(^|,)=/m);
  });
});

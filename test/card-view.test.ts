import { incidentOf } from '../src/cards/incident';
import { renderCard, applicableResponses } from '../src/views/card';
import { escapeMrkdwn, code } from '../src/views/mrkdwn';
import { preview } from '../src/preview';
import { readFileSync } from 'node:fs';
import { findingFrom, fixture } from './support/harness';
import { mrkdwnTexts } from './support/block-kit';

const finding = findingFrom;

describe('escaping attacker-controlled text', () => {
  it('escapes &, < and > so mentions and links are shown, not acted on', () => {
    expect(escapeMrkdwn('<!channel> & <https://evil.example|click>')).toBe('&lt;!channel&gt; &amp; &lt;https:\u200B//evil.example|click&gt;');
    expect(code('a`b<c>')).toBe('`aˋb&lt;c&gt;`');
  });

  it('no finding string reaches the card as live mrkdwn', () => {
    const f = finding('guardduty-credential-exfiltration', (e) => {
      e.detail.title = 'Hi <!here> <@U02LEAD> & <https://evil.example|login>';
      e.detail.description = '<!channel> please click <https://evil.example/x|here>';
      e.detail.resource.instanceDetails.tags = [{ key: 'Name', value: '<!subteam^S01SOC>' }];
    });
    const view = renderCard([f], { storm: false, listLimit: 10 });
    const texts = mrkdwnTexts(view.blocks).join('\n') + view.text;
    expect(texts).not.toMatch(/<!(channel|here|subteam)/);
    expect(texts).not.toContain('<@U02LEAD>');
    expect(texts).not.toContain('<https://evil.example');
    expect(texts).toContain('&lt;!here&gt;');
    expect(texts).toContain('&lt;!channel&gt;');
    // The user agent is shown in a code span, its own <…> escaped.
    expect(texts).toContain('`aws-cli/2.15.0 Python/3.11 &lt;!channel&gt; &lt;https://evil.example|click me&gt;`');
    // Our own console links (the finding, its instance and role) are the only live links.
    expect(texts.match(/<https:\/\/[^>]+\|/g)).toEqual([
      '<https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#InstanceDetails:instanceId=i-0a1b2c3d4e5f60718|',
      '<https://console.aws.amazon.com/iam/home#/roles/details/web-app-role|',
      '<https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=5ef60718293a4b5c6d7e8f9012345678|',
    ]);
  });

  it('escapes ASFF titles on Security Hub cards', () => {
    const view = renderCard([finding('securityhub-inspector')], { storm: false, listLimit: 10 });
    expect(mrkdwnTexts(view.blocks).join()).toContain('openssh &lt;script&gt;alert(1)&lt;/script&gt; &amp; friends');
  });
});

describe('card contents', () => {
  it('offers only the responses that fit the resource', () => {
    expect(applicableResponses(finding('guardduty-crypto-dns')).map((r) => r.kind)).toEqual(['isolate', 'snapshot', 'memory', 'hunt']);
    // A temporary key (ASIA…) cannot be disabled: its role's sessions are revoked instead; its blast radius is still mapped by the key.
    expect(applicableResponses(finding('guardduty-credential-exfiltration')).map((r) => r.kind)).toEqual(['isolate', 'snapshot', 'memory', 'deny-principal', 'revoke-sessions', 'blast-radius', 'hunt']);
    // The role behind the exfiltrated credentials is named on its buttons.
    expect(applicableResponses(finding('guardduty-credential-exfiltration')).find((r) => r.kind === 'revoke-sessions')!.resource).toBe('arn:aws:iam::123456789012:role/web-app-role');
    const noResource = finding('guardduty-port-probe', (e) => {
      e.detail.resource = { resourceType: 'S3Bucket' };
      delete e.detail.service.action;
    });
    expect(applicableResponses(noResource)).toEqual([]);
    const blocks = renderCard([noResource], { storm: false, listLimit: 5 }).blocks as { type: string; block_id?: string; elements?: { action_id: string }[] }[];
    // No response buttons; only the case's own (Security Hub workflow, report, declare incident).
    expect(blocks.find((b) => b.block_id?.startsWith('ir_card_'))).toBeUndefined();
    expect(blocks.find((b) => b.block_id?.startsWith('ir_case_'))!.elements!.map((e) => e.action_id)).toEqual(['ir_wf_ack', 'ir_wf_resolve', 'ir_wf_suppress', 'ir_report', 'ir_incident_declare']);
  });

  it('shows severity, account/region, resource, remote, times and count', () => {
    const view = renderCard([finding('guardduty-ssh-bruteforce')], { storm: false, listLimit: 5 });
    const header = (view.blocks[0] as any).text.text;
    expect(header).toBe(':large_yellow_circle: LOW · UnauthorizedAccess:EC2/SSHBruteForce');
    const all = mrkdwnTexts(view.blocks).join('\n');
    expect(all).toContain('123456789012 / us-east-1');
    expect(all).toContain('*i-0b2c3d4e5f6071829* (bastion-1) m5.xlarge');
    expect(all).toContain('`198.51.100.44` (port 53412, Example Hosting, Netherlands)');
    expect(all).toContain('*230×*');
    expect(all).toContain('<!date^');
  });

  it('keeps a huge roll-up within Slack limits (50 blocks, 3,000 chars per text)', () => {
    const many = Array.from({ length: 400 }, (_, i) =>
      finding('guardduty-crypto-dns', (e) => {
        e.detail.id = `${i.toString(16).padStart(8, '0')}${'b'.repeat(24)}`;
        e.detail.resource.instanceDetails.instanceId = `i-${i.toString(16).padStart(8, '0')}`;
        e.detail.resource.instanceDetails.tags = [{ key: 'Name', value: 'x'.repeat(500) }];
      }),
    );
    const view = renderCard(many, { storm: false, listLimit: 40 });
    expect(view.blocks.length).toBeLessThanOrEqual(50);
    for (const t of mrkdwnTexts(view.blocks)) expect(t.length).toBeLessThanOrEqual(3000);
    expect((view.blocks[0] as any).text.text).toContain('400 findings');
    expect(JSON.stringify(view.blocks)).toContain('…and 360 more resources (360 findings), all recorded');
    for (const b of view.blocks as any[]) {
      for (const o of b.accessory?.options ?? []) expect(o.value.length).toBeLessThanOrEqual(150);
    }
  });
});

describe('npm run preview', () => {
  it('prints the route and the card for an event, using the example config', () => {
    const config = readFileSync('config/ir-bot.example.yaml', 'utf8');
    const { ok, output } = preview(JSON.stringify(fixture('guardduty-crypto-dns')), config) as any;
    expect(ok).toBe(true);
    expect(output.findings[0].route).toEqual({ channel: 'C02CRIT', matched: 'channels.routes[0]' });
    expect(output.findings[0].card.blocks[0].type).toBe('header');
  });

  it('explains bad input', () => {
    expect(preview('{', 'channels: { default: C01ALERTS }').output).toEqual({ error: expect.stringMatching(/^invalid JSON/) });
    expect((preview('{}', 'channels: { default: general }').output as any).problems[0]).toMatch(/channels.default: must be a Slack channel ID/);
  });
});

describe("the production line gathers the instances' stories", () => {
  it('counts instances per target group and Auto Scaling group, counts the unchecked ones apart, and escapes AWS names', () => {
    const ids = ['i-00000000000000a01', 'i-00000000000000a02', 'i-00000000000000a03'];
    const findings = ids.map((id, i) =>
      finding('guardduty-crypto-dns', (e) => {
        e.detail.id = `${i.toString(16).padStart(8, '0')}${'c'.repeat(24)}`;
        e.detail.resource.instanceDetails.instanceId = id;
        e.detail.resource.instanceDetails.tags = [{ key: 'Name', value: `w${i}` }];
      }),
    );
    const view = renderCard(findings, {
      storm: false,
      listLimit: 10,
      launches: {
        [ids[0]]: { autoScalingGroup: 'web-asg', targetGroups: ['web-tg', '<!here>-tg'] },
        [ids[1]]: { autoScalingGroup: 'web-asg', targetGroups: ['web-tg'] },
        [ids[2]]: { productionUnchecked: 'target groups: access denied: <@U1>' },
      },
    });
    const line = ((view.blocks as any[]).find((b) => b.block_id === 'ir_incident').text.text as string).split('\n')[0];
    expect(line).toBe(
      ':factory: *Production:* 2 instances in Auto Scaling group `web-asg` · 2 instances in target group `web-tg` · 1 instance in target group `&lt;!here&gt;-tg` · could not check 1 instance (target groups: access denied: &lt;@\u200BU1&gt;)',
    );
  });

  it('says "taken out of" only where the isolation verified it, "was in" for a terminated instance, and lists live groups first', () => {
    const ids = ['i-00000000000000b01', 'i-00000000000000b02', 'i-00000000000000b03', 'i-00000000000000b04'];
    const findings = ids.map((id, i) =>
      finding('guardduty-crypto-dns', (e) => {
        e.detail.id = `${i.toString(16).padStart(8, '0')}${'e'.repeat(24)}`;
        e.detail.resource.instanceDetails.instanceId = id;
        e.detail.resource.instanceDetails.tags = [];
      }),
    );
    const launches = Object.fromEntries(ids.map((id) => [id, { autoScalingGroup: 'web-asg', targetGroups: ['web-tg'] }]));
    const incident = incidentOf(findings, [], {}, { approvers: [], twoPersonRule: true });
    const done = (id: string) => incident.resources.find((r) => r.id === id)!.done;
    // Isolated by a request whose result verified both (a bulk result's line for it).
    done(ids[0]).isolated = { by: 'U1', at: 1, result: `${ids[0]}: verified: eni-1: sg-q only ✓; Auto Scaling group web-asg: detached ✓; target group web-tg port 80: deregistered ✓` };
    done(ids[1]).terminated = { by: 'U1', at: 1 };
    // Found already isolated (someone else's change): nothing says it left its groups.
    done(ids[2]).isolated = {};
    const line = ((renderCard(findings, { storm: false, listLimit: 10, incident, launches }).blocks as any[]).find((b) => b.block_id === 'ir_incident').text.text as string).split('\n')[0];
    expect(line).toBe(
      ':factory: *Production:* 2 instances in Auto Scaling group `web-asg` · 1 instance taken out of Auto Scaling group `web-asg` · 1 instance terminated, was in Auto Scaling group `web-asg` · 2 instances in target group `web-tg` · 1 instance taken out of target group `web-tg` · 1 instance terminated, was in target group `web-tg`',
    );
  });
});

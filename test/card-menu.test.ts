import { parseEvents } from '../src/findings/events';
import type { Finding } from '../src/findings/model';
import { renderCard } from '../src/views/card';
import { fixture } from './support/harness';

function finding(name: string, instanceId?: string): Finding {
  const event = fixture(name);
  // Rows group per resource: a second instance makes a second row.
  if (instanceId) event.detail.resource.instanceDetails.instanceId = instanceId;
  const parsed = parseEvents(event, 10);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.findings[0];
}

describe("a roll-up row's response menu stays within Slack's limits", () => {
  it('uses an overflow menu up to five responses and a select beyond (Slack refuses an overflow with more than five)', () => {
    const view = renderCard([finding('guardduty-crypto-dns'), finding('guardduty-credential-exfiltration', 'i-0fffffffffffffff1')], { storm: true, listLimit: 10 });
    const menus = (view.blocks as any[]).filter((b) => b.accessory).map((b) => b.accessory);
    expect(menus.map((m) => [m.type, m.options.length]).sort()).toEqual([
      ['overflow', 4],
      ['static_select', 7],
    ]);
    for (const m of menus) {
      expect(m.action_id).toBe('ir_finding_menu');
      for (const o of m.options) expect(o.value.length).toBeLessThanOrEqual(150);
    }
    const select = menus.find((m) => m.type === 'static_select');
    expect(select.options.map((o: any) => o.text.text)).toContain('Map blast radius ASIAEXAMPLE7QRSTUVWX');
  });
});

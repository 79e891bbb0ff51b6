import type { Incident } from '../src/incidents/store';
import { channelNameFor, statsText, timelineSafe } from '../src/incidents/view';

function incident(n: number, minutesToContain?: number, closed = false): Incident {
  const startedAt = Date.parse('2026-12-01T00:00:00Z');
  return {
    id: `inc-${n}`, number: n, title: 't', status: closed ? 'closed' : 'investigating', statusAt: {}, declaredBy: 'U1', declaredAt: startedAt, startedAt,
    milestones: { acknowledged: startedAt + 60_000, ...(minutesToContain !== undefined ? { contained: startedAt + minutesToContain * 60_000 } : {}) },
    origin: { channel: 'C1' }, findingKeys: [], requestIds: [], problems: [],
  };
}

describe('incident views', () => {
  it('/ir stats: median and p90 per milestone, and says which no incident reached', () => {
    const text = statsText([incident(1, 10), incident(2, 20), incident(3, 30), incident(4, 40), incident(5, 100, true)], 7);
    expect(text).toContain('5 incident(s) declared, 1 closed');
    expect(text).toContain('time to acknowledge: median 1 min, p90 1 min (n=5)');
    expect(text).toContain('time to contain: median 30 min, p90 1 h 40 min (n=5)');
    expect(text).toContain('time to eradicate: no incident reached it');
  });

  it('channel names as Slack allows them, whatever the title says', () => {
    expect(channelNameFor('inc-{number}-{slug}', { number: 12, title: 'CRITICAL Backdoor:EC2/C&CActivity.B!DNS <@U1> ', declaredAt: 0 })).toBe('inc-12-critical-backdoor-ec2-c-cactivity-b-dns');
    expect(channelNameFor('ir-{date}-{number}', { number: 3, title: '', declaredAt: Date.parse('2026-12-07T10:00:00Z') })).toBe('ir-20261207-3');
    expect(channelNameFor('inc-{number}-{slug}', { number: 1, title: 'x'.repeat(200), declaredAt: 0 }).length).toBeLessThanOrEqual(80);
  });

  it('timeline text keeps exact user mentions and nothing else that pings', () => {
    expect(timelineSafe('<@U03SAM> leads; <!channel> <@here> <https://evil.example|click>', 400)).toMatch(/^<@U03SAM> leads; &lt;!channel&gt;/);
    expect(timelineSafe('<!here>', 100)).not.toContain('<!here>');
  });
});

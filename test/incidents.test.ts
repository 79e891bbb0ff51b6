import { startHarness, tearDownAfterEach, waitFor, fixture, type Harness } from './support/harness';
import { click, textOf, threadReplies } from './support/slack-user';

const INCIDENTS = { incidents: { invite: ['S01SOC'], channelName: 'inc-{number}-{slug}' } };
const SOC = { S01SOC: ['U01ANA', 'U03SAM'] };

async function cardIn(h: Harness, channel: string) {
  return waitFor(() => h.slack.channelMessages(channel).find((m) => textOf(m).includes('ir_incident_declare')), 'the alert card', 30_000);
}

describe('incidents: declare from a card', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  it('makes one private channel, invites the group and the approvers, pins a summary, links the card; a double click declares once', async () => {
    h = await startHarness({ file: INCIDENTS, slackOptions: { userGroups: SOC } });
    // Someone's channel already has the name: Slack says name_taken and the incident takes a suffix.
    h.slack.addChannel('inc-1-low-unauthorizedaccess-ec2-sshbruteforce');
    expect((await h.postEvents(fixture('guardduty-ssh-bruteforce'))).status).toBe(202);
    const card = await cardIn(h, 'C01ALERTS');
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    await click(h, card, 'ir_incident_declare', 'U01ANA');
    const channel = await waitFor(() => [...h.slack.channels.values()].find((c) => c.creator === 'U0BOT' && c.pins.size > 0), 'the incident channel with its pinned summary');
    expect([...h.slack.channels.values()].filter((c) => c.creator === 'U0BOT')).toHaveLength(1);
    expect(channel.is_private).toBe(true);
    expect(channel.name).toBe('inc-1-low-unauthorizedaccess-ec2-sshbruteforce-2');
    expect([...channel.members].sort()).toEqual(['U01ANA', 'U02LEAD', 'U03SAM', 'U0BOT']);
    const summary = h.slack.messages.get(`${channel.id}/${[...channel.pins][0]}`)!;
    expect(summary.text).toMatch(/^INC-1 · INVESTIGATING · /);
    expect(textOf(summary)).toContain('*Commander:* <@U01ANA>');
    const link = await waitFor(() => threadReplies(h, card.channel, card.ts).find((m) => textOf(m).includes('part of *INC-1*')), 'the link in the card thread');
    expect(textOf(link)).toContain(`<#${channel.id}>`);
    expect(h.slack.channelMessages(channel.id)).toHaveLength(1);
  });
});

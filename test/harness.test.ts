import { startHarness, waitFor } from './support/harness';

// A test whose bot cannot start must fail with the reason, not hang the run on servers left open.
describe('test harness', () => {
  it('closes the Slack stand-in it opened when the bot refuses its config', async () => {
    const servers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = servers();
    await expect(startHarness({ file: { access: { responders: 'everyone' } } })).rejects.toThrow(/access\.responders/);
    await waitFor(() => servers() === before, 'the Slack stand-in to close', 2000);
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { INGEST_KEY, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';

const ROOT = join(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('the README a newcomer follows', () => {
  let h: Harness | undefined;
  tearDownAfterEach(() => ({ h }));

  test('leads with what it is, the demo, and the two commands, each a real script', () => {
    const top = README.split('\n').slice(0, 15).join('\n');
    expect(top).toMatch(/^# ir-bot\n\nir-bot is a Slack chat-ops bot for AWS EC2 incident response/);
    expect(top).toContain('**Try it now:** `npm ci && npm run demo`');
    expect(top).toContain('npm ci && npm start   # run the bot');
    expect(top).toContain('npm test              # run the tests');
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const s of ['start', 'test', 'demo', 'doctor']) expect(scripts[s]).toBeDefined();
    const steps = [...README.matchAll(/^(\d+)\. \*\*/gm)].map((m) => Number(m[1]));
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("step 8's curl, copied as it stands, puts the sample finding on a card", async () => {
    h = await startHarness();
    const block = /```sh\n(\s*curl[\s\S]*?)```/.exec(README)![1];
    const command = block.trim().split('\n').map((l) => l.trim()).join('\n').replace('http://127.0.0.1:3000', h.baseUrl);
    // A checkout as the newcomer has it: .env beside test/fixtures.
    const dir = mkdtempSync(join(tmpdir(), 'irbot-readme-'));
    writeFileSync(join(dir, '.env'), `SLACK_BOT_TOKEN=xoxb-x\nINGEST_API_KEY=${INGEST_KEY}\n`);
    symlinkSync(join(ROOT, 'test'), join(dir, 'test'));
    const { stdout } = await promisify(execFile)('sh', ['-c', `${command} -w '\\n%{http_code}'`], { cwd: dir, timeout: 20_000 });
    const [body, status] = [stdout.slice(0, stdout.lastIndexOf('\n')), stdout.slice(stdout.lastIndexOf('\n') + 1)];
    expect(status).toBe('202');
    expect(JSON.stringify(JSON.parse(body))).toContain('7cc4f1c3a4b2d5e6f708192a3b4c5d6e');
    const card = await waitFor(() => h!.slack.channelMessages('C02CRIT')[0], 'the card in the channel the route picks');
    expect(JSON.stringify(card.blocks)).toContain('CryptoCurrency:EC2/BitcoinTool.B!DNS');
  });
});

import { networkInterfaces } from 'node:os';
import { startDemo, type Demo } from '../demo/demo';
import { WEB_SERVER } from '../demo/scene';

jest.setTimeout(60_000);

async function until<T>(what: string, fn: () => T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An address of this machine that is not loopback, if it has one. */
function outsideAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

describe('npm run demo stays on this machine', () => {
  let demo: Demo | undefined;
  const before = process.env.AWS_ENDPOINT_URL;

  beforeAll(async () => {
    demo = await startDemo({ port: 0 });
  });
  afterAll(async () => {
    await demo?.stop();
  });

  it('listens on loopback only: the page and the bot refuse a connection to any other address of the machine', async () => {
    expect(new URL(demo!.url).hostname).toBe('127.0.0.1');
    const outside = outsideAddress();
    if (!outside) throw new Error('this machine has no non-loopback IPv4 address to try');
    for (const url of [demo!.url, demo!.botUrl]) {
      const port = new URL(url).port;
      const err = await fetch(`http://${outside}:${port}/healthz`).then(
        () => undefined,
        (e: Error & { cause?: { code?: string } }) => e.cause?.code,
      );
      expect([url, err]).toEqual([url, 'ECONNREFUSED']);
    }
    // Reachable where it should be.
    expect((await fetch(`${demo!.botUrl}/healthz`)).status).toBe(200);
  });

  it('captures memory through stand-ins for SSM and S3: our document only, the image verified, every URL pointing at a dead loopback port', async () => {
    const res = await fetch(`${demo!.url}/api/command`, { method: 'POST', body: JSON.stringify({ user: 'U01ANA', channel: 'C01SECOPS', text: `/ir memory ${WEB_SERVER}` }) });
    expect(res.status).toBe(200);
    // The image is tagged after its upload (PutObjectTagging), so wait for the tags too.
    const [key, object] = await until('the tagged image in the stand-in bucket', () => [...demo!.memory.objects].find(([k, o]) => k.includes(WEB_SERVER) && k.startsWith('demo-ir-evidence/') && o.tags?.['ir:sha256'] !== undefined));
    expect(object.tags?.['ir:sha256']).toBe(object.sha256);
    const result = await until('the verified result', () => [...demo!.slack.messages.values()].find((m) => JSON.stringify(m.blocks ?? m.text).includes(`${key.slice('demo-ir-evidence/'.length)}, version ${object.versionId}`)));
    expect(JSON.stringify(result.blocks)).toContain(`sha256 ${object.sha256} ✓`);
    expect(demo!.memory.commands.map((c) => [c.document, c.parameters.action[0]])).toEqual([
      ['ir-bot-memory-capture', 'capture'],
      ['ir-bot-memory-capture', 'upload'],
    ]);
    for (const c of demo!.memory.commands) {
      for (const url of [...(c.parameters.toolUrl ?? []), ...(c.parameters.uploadUrl ?? [])]) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:9\//);
    }
    expect(process.env.AWS_ACCESS_KEY_ID).toBe('AKIADEMODEMODEMODEMO');
  });

  it('gives the machine its own AWS settings back when it stops', async () => {
    await demo!.stop();
    demo = undefined;
    expect(process.env.AWS_ENDPOINT_URL).toBe(before);
  });
});

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_FILE_CONFIG, INGEST_KEY, SIGNING_SECRET, waitFor, writeConfigFile } from './support/harness';
import { freePort } from './support/redis-server';
import { SlackApiServer } from './support/slack-api-server';

// `npm start` builds dist/ and runs dist/main.js; so does this test.
const root = join(__dirname, '..');
const out = join(root, 'dist');

/** Running redis-servers on this port (Redis renames its process to `redis-server host:port`). */
function redisServersOn(port: number): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (/^\S*redis-server\b/.test(cmd) && new RegExp(`(:|--port )${port}\\b`).test(cmd)) found.push(`${pid}: ${cmd}`);
  }
  return found;
}

interface Started {
  proc: ChildProcess;
  port: number;
  dataDir: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

let slack: SlackApiServer;
const running: Started[] = [];

async function startBot(env: Record<string, string> = {}): Promise<Started> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'irbot-data-'));
  // No REDIS_URL, as on a newcomer's machine; everything else a filled .env would hold.
  const proc = spawn(process.execPath, [join(out, 'main.js'), 'all'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_MODE: 'http',
      SLACK_API_URL: slack.url,
      PORT: String(port),
      INGEST_API_KEY: INGEST_KEY,
      IR_CONFIG: writeConfigFile(BASE_FILE_CONFIG),
      REDIS_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
  const s = { proc, port, dataDir, stdout: () => stdout, stderr: () => stderr, exited };
  running.push(s);
  return s;
}

async function healthz(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
  } catch {
    return 0;
  }
}

beforeAll(async () => {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  slack = new SlackApiServer();
  await slack.start();
}, 180_000);

afterEach(async () => {
  for (const s of running.splice(0)) {
    if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
    await s.exited;
    rmSync(s.dataDir, { recursive: true, force: true });
  }
});

afterAll(async () => {
  await slack?.stop();
});

describe('npm start without REDIS_URL', () => {
  it('starts a private Redis, says so first, answers /healthz 200, and leaves no redis-server behind on SIGTERM', async () => {
    const bot = await startBot();
    await waitFor(async () => (await healthz(bot.port)) === 200, '/healthz 200', 20_000);

    const first = JSON.parse(bot.stdout().split('\n')[0]) as { msg: string; redisUrl: string };
    expect(first.msg).toMatch(/REDIS_URL is not set: using a private redis-server on redis:\/\/127\.0\.0\.1:\d+ \(AOF on, data in /);
    const redisPort = Number(/^redis:\/\/127\.0\.0\.1:(\d+)$/.exec(first.redisUrl)![1]);
    // Loopback only: the process title Redis sets names the address it is bound to.
    expect(redisServersOn(redisPort)).toEqual([expect.stringMatching(/redis-server 127\.0\.0\.1:\d+/)]);
    // AOF on: Redis 7 keeps it in appendonlydir inside the data folder.
    expect(existsSync(join(bot.dataDir, 'appendonlydir'))).toBe(true);

    bot.proc.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
    await waitFor(() => redisServersOn(redisPort).length === 0, 'the private redis-server to stop', 10_000);
  }, 60_000);

  it('leaves no redis-server behind when the bot is killed outright (a crash)', async () => {
    const bot = await startBot();
    await waitFor(async () => (await healthz(bot.port)) === 200, '/healthz 200', 20_000);
    const redisPort = Number(/127\.0\.0\.1:(\d+)/.exec(bot.stdout())![1]);
    expect(redisServersOn(redisPort)).toHaveLength(1);

    bot.proc.kill('SIGKILL');
    await bot.exited;
    await waitFor(() => redisServersOn(redisPort).length === 0, 'the orphaned redis-server to stop', 10_000);
  }, 60_000);

  it('stops cleanly when SIGTERM comes while it is still starting', async () => {
    const bot = await startBot();
    // The private Redis is up (first log line), the bot and worker are not yet.
    const first = await waitFor(() => /redis:\/\/127\.0\.0\.1:(\d+)/.exec(bot.stdout()), 'the first log line', 20_000);
    const redisPort = Number(first[1]);
    bot.proc.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
    await waitFor(() => redisServersOn(redisPort).length === 0, 'the private redis-server to stop', 10_000);
  }, 60_000);

  it('says exactly what to install when there is no redis-server binary', async () => {
    const bot = await startBot({ PATH: '/nonexistent' });
    expect(await bot.exited).toBe(1);
    expect(bot.stderr()).toContain('none was found on PATH');
    expect(bot.stderr()).toContain('sudo apt-get install redis-server');
    expect(bot.stderr()).toContain('or set REDIS_URL');
  }, 30_000);
});

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/run/embedded-redis';
import { waitFor } from '../support/harness';
import { freePort } from '../support/redis-server';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(url: string): Promise<string> {
  const r = new Redis(url, { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.set('probe', '1');
  } catch (err) {
    return (err as Error).message;
  } finally {
    r.disconnect();
  }
}

describe('the private redis-server (no REDIS_URL)', () => {
  const dirs: string[] = [];
  const started: EmbeddedRedis[] = [];
  const others: ChildProcess[] = [];
  const dataDir = () => {
    const d = join(mkdtempSync(join(tmpdir(), 'irbot-emb-')), 'redis');
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    for (const r of started.splice(0)) await r.stop();
    for (const p of others.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(join(d, '..'), { recursive: true, force: true });
  });

  it('needs a password only this process knows, and keeps its directory and files to the owner', async () => {
    const redis = await startEmbeddedRedis({ dataDir: dataDir() });
    started.push(redis);
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(await answers(redis.url)).toMatch(/NOAUTH/);
    expect(await answers(redis.connectionUrl)).toBe('OK');
    const pid = Number(readFileSync(join(redis.dataDir, 'redis.pid'), 'utf8'));
    const password = new URL(redis.connectionUrl).password;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(password);

    expect(mode(redis.dataDir)).toBe('700');
    await waitFor(() => existsSync(join(redis.dataDir, 'appendonlydir')), 'the AOF directory');
    expect(mode(join(redis.dataDir, 'appendonlydir'))).toBe('700');
    const files = readdirSync(join(redis.dataDir, 'appendonlydir'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(mode(join(redis.dataDir, 'appendonlydir', f))).toBe('600');
    for (const f of readdirSync(redis.dataDir).filter((n) => n !== 'appendonlydir')) expect([f, mode(join(redis.dataDir, f))]).toEqual([f, '600']);
  }, 30_000);

  it('tightens a data directory an earlier version left world-readable', async () => {
    const dir = dataDir();
    const first = await startEmbeddedRedis({ dataDir: dir });
    await first.stop();
    chmodSync(dir, 0o755);
    for (const f of readdirSync(join(dir, 'appendonlydir'))) chmodSync(join(dir, 'appendonlydir', f), 0o644);
    const again = await startEmbeddedRedis({ dataDir: dir });
    started.push(again);
    expect(mode(dir)).toBe('700');
    for (const f of readdirSync(join(dir, 'appendonlydir'))) expect(mode(join(dir, 'appendonlydir', f))).toBe('600');
  }, 30_000);

  it('stops its redis-server when the guard is killed, instead of leaving an orphan on the AOF', async () => {
    const redis = await startEmbeddedRedis({ dataDir: dataDir() });
    started.push(redis);
    const pid = Number(readFileSync(join(redis.dataDir, 'redis.pid'), 'utf8'));
    expect(alive(pid)).toBe(true);
    process.kill(redis.pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 'the redis-server to stop with its guard', 10_000);
    // Still this process's directory while it lives: another ir-bot would be refused.
    expect(readFileSync(join(redis.dataDir, 'ir-bot-redis.lock'), 'utf8').trim()).toBe(String(process.pid));
  }, 30_000);

  it('after a crash that left a redis-server running (bot and guard killed), a restart stops it first and never runs two on one AOF', async () => {
    const dir = dataDir();
    const first = await startEmbeddedRedis({ dataDir: dir });
    const password = new URL(first.connectionUrl).password;
    const port = first.port;
    const writer = new Redis(first.connectionUrl);
    await writer.set('acknowledged', 'before the crash');
    writer.disconnect();
    // As a crash of both would leave things: the redis-server is taken out of its guard's reach
    // (a copy started the same way, after the guard and its Redis are gone), and the lock names a dead bot.
    await first.stop();
    const orphan = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: 'ignore', detached: true });
    others.push(orphan);
    await waitFor(() => existsSync(join(dir, 'redis.pid')), 'the orphan\'s pid file');
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(join(dir, 'ir-bot-redis.lock'), `${dead.pid}\n`);
    expect(await answers(`redis://:${password}@127.0.0.1:${port}`)).toBe('OK');

    const next = await startEmbeddedRedis({ dataDir: dir, port: await freePort() });
    started.push(next);
    expect(alive(orphan.pid!)).toBe(false);
    expect(await answers(`redis://:${password}@127.0.0.1:${port}`)).not.toBe('OK');
    const reader = new Redis(next.connectionUrl);
    expect(await reader.get('acknowledged')).toBe('before the crash');
    reader.disconnect();
  }, 30_000);

  it('refuses to start a second server on a data directory another running ir-bot holds', async () => {
    const dir = dataDir();
    const first = await startEmbeddedRedis({ dataDir: dir });
    await first.stop();
    const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
    others.push(owner);
    writeFileSync(join(dir, 'ir-bot-redis.lock'), `${owner.pid}\n`);
    await expect(startEmbeddedRedis({ dataDir: dir })).rejects.toThrow(`REDIS_DATA_DIR ${dir} is in use by another ir-bot (process ${owner.pid})`);
    expect(existsSync(join(dir, 'redis.pid'))).toBe(false);
  }, 30_000);
});

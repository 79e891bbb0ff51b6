import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

import { freeLoopbackPort } from '../../src/run/embedded-redis';

export const freePort = freeLoopbackPort;

export interface RedisServer {
  url: string;
  port: number;
  /** SIGKILL, as a crash would: only what AOF already holds survives. */
  kill(): Promise<void>;
  /** Start again on the same port and data directory. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The running server's process id (benchmarks read its CPU time). */
  pid(): number | undefined;
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      if ((await r.ping()) === 'PONG') {
        r.disconnect();
        return;
      }
    } catch {
      // not up yet
    }
    r.disconnect();
    if (Date.now() > deadline) throw new Error(`redis-server at ${url} did not start within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * A private redis-server on a free port, for tests and benchmarks. `aof` turns on appendonly
 * with fsync on every write, so a SIGKILL loses nothing that Redis acknowledged.
 */
export async function startRedisServer(opts: { aof?: boolean; fsync?: 'always' | 'everysec' } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'irbot-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--maxmemory-policy', 'noeviction',
    ...(opts.aof ? ['--appendonly', 'yes', '--appendfsync', opts.fsync ?? 'always'] : ['--appendonly', 'no']),
  ];
  const start = async () => {
    proc = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', args, { stdio: 'ignore' });
    proc.on('error', (err) => {
      throw new Error(`cannot run redis-server (install it, or set REDIS_SERVER_BIN): ${err.message}`);
    });
    await waitForPing(url, 10_000);
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await start();
  return {
    url,
    port,
    kill,
    start,
    pid: () => proc?.pid,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

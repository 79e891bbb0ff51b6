import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

async function waitForPing(url: string, timeoutMs: number, ca?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, ...(ca ? { tls: { ca } } : {}) });
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
export async function startRedisServer(
  opts: {
    aof?: boolean;
    fsync?: 'always' | 'everysec';
    /** TLS only (no plain port), with this certificate and key; `ca` is what clients trust. */
    tls?: { cert: string; key: string; ca: string };
    /** The default user is switched off; only this ACL user may connect (the URL carries it). */
    acl?: { user: string; password: string };
  } = {},
): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'irbot-redis-'));
  const auth = opts.acl ? `${opts.acl.user}:${opts.acl.password}@` : '';
  const url = `${opts.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const args = [
    ...(opts.tls
      ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key, '--tls-ca-cert-file', opts.tls.ca, '--tls-auth-clients', 'no']
      : ['--port', String(port)]),
    '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--maxmemory-policy', 'noeviction',
    ...(opts.aof ? ['--appendonly', 'yes', '--appendfsync', opts.fsync ?? 'always'] : ['--appendonly', 'no']),
    ...(opts.acl ? ['--user', 'default', 'off', '--user', opts.acl.user, 'on', `>${opts.acl.password}`, '~*', '&*', '+@all', '-flushall', '-flushdb', '-debug', '-config', '-shutdown', '-acl', '-module'] : []),
  ];
  const start = async () => {
    proc = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', args, { stdio: 'ignore' });
    proc.on('error', (err) => {
      throw new Error(`cannot run redis-server (install it, or set REDIS_SERVER_BIN): ${err.message}`);
    });
    await waitForPing(url, 10_000, opts.tls ? readFileSync(opts.tls.ca, 'utf8') : undefined);
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

/**
 * A Redis connection to the tests' server and a fresh key prefix for each test, its keys removed
 * after it: for tests of one Redis-backed piece (budgets, single-flight) without a whole harness.
 */
export function scratchRedis(): { readonly redis: Redis; readonly prefix: string } {
  const s = { redis: undefined as unknown as Redis, prefix: '' };
  beforeEach(() => {
    s.redis = new Redis(process.env.TEST_REDIS_URL!);
    s.prefix = `t${randomBytes(5).toString('hex')}`;
  });
  afterEach(async () => {
    const keys = await s.redis.keys(`${s.prefix}:*`);
    if (keys.length) await s.redis.del(...keys);
    s.redis.disconnect();
  });
  return s;
}

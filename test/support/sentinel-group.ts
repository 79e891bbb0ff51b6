import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis-server';

export const MASTER_NAME = 'irbot';

export interface SentinelGroup {
  master: string;
  sentinels: { host: string; port: number }[];
  /** REDIS_SENTINELS as the bot reads it. */
  env: { REDIS_SENTINELS: string; REDIS_SENTINEL_MASTER: string };
  /** The port of the primary the sentinels name now. */
  primaryPort(): Promise<number>;
  /** SIGKILLs the current primary (no AOF: whatever was not yet replicated is gone); returns its port. */
  killPrimary(): Promise<number>;
  /** Polls the sentinels until they name a primary other than `oldPort`; returns its port. */
  waitForNewPrimary(oldPort: number, timeoutMs?: number): Promise<number>;
  /** Brings a killed node back, empty, as a replica of the current primary (what a node replacement does). */
  restartAsReplica(port: number): Promise<void>;
  /** Replicas the primary reports as connected and in sync. */
  replicasOnline(): Promise<number>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ping(port: number): Promise<boolean> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A primary, one replica and three sentinels (quorum 2) on free loopback ports, each in its own
 * temp directory. Failure is noticed after `downAfterMs` (default 1000), so a failover takes
 * about 2 s. Data nodes keep nothing on disk: a killed primary loses what it had not replicated,
 * which is the loss REDIS_WAIT_REPLICAS is about.
 */
export async function startSentinelGroup(opts: { downAfterMs?: number } = {}): Promise<SentinelGroup> {
  const dir = mkdtempSync(join(tmpdir(), 'irbot-sentinel-'));
  const procs = new Map<number, ChildProcess>();
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const run = (port: number, args: string[]) => {
    const p = spawn(bin, args, { stdio: 'ignore' });
    p.on('error', (err) => {
      throw new Error(`cannot run redis-server (install it, or set REDIS_SERVER_BIN): ${err.message}`);
    });
    procs.set(port, p);
  };
  const dataArgs = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', `dump-${port}.rdb`, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
    // A returning replica syncs at once (the default waits 5 s for more replicas to share the transfer).
    '--repl-diskless-sync-delay', '0'];
  const startData = async (port: number, replicaOf?: number) => {
    run(port, [...dataArgs(port), ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : [])]);
    await until(async () => ((await ping(port)) ? true : undefined), `redis-server on ${port}`, 10_000);
  };

  const primary = await freePort();
  const replica = await freePort();
  await startData(primary);
  await startData(replica, primary);
  const sentinelPorts = [await freePort(), await freePort(), await freePort()];
  for (const port of sentinelPorts) {
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${opts.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    run(port, [conf, '--sentinel']);
  }
  const sentinel = (port: number) => {
    const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    r.on('error', () => undefined);
    return r;
  };
  const sentinels = sentinelPorts.map(sentinel);
  const masterPort = async (): Promise<number | undefined> => {
    for (const s of sentinels) {
      const addr = (await s.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME).catch(() => null)) as [string, string] | null;
      if (addr) return Number(addr[1]);
    }
    return undefined;
  };
  // Every sentinel knows the replica and the two others before the group is handed out.
  await until(async () => {
    for (const s of sentinels) {
      const info = (await s.call('SENTINEL', 'master', MASTER_NAME)) as string[];
      const field = (k: string) => Number(info[info.indexOf(k) + 1]);
      if (field('num-slaves') < 1 || field('num-other-sentinels') < 2) return undefined;
    }
    return true;
  }, 'the sentinels to see the replica and each other', 30_000);
  await until(async () => ((await replicasOnlineAt(primary)) >= 1 ? true : undefined), 'the replica to sync', 10_000);

  return {
    master: MASTER_NAME,
    sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    env: { REDIS_SENTINELS: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','), REDIS_SENTINEL_MASTER: MASTER_NAME },
    primaryPort: () => until(masterPort, 'a primary', 10_000),
    async killPrimary() {
      const port = await until(masterPort, 'a primary', 10_000);
      const p = procs.get(port)!;
      await new Promise<void>((resolve) => {
        if (p.exitCode !== null) return resolve();
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      });
      return port;
    },
    waitForNewPrimary: (oldPort, timeoutMs = 30_000) =>
      until(async () => {
        const port = await masterPort();
        return port !== undefined && port !== oldPort && (await ping(port)) ? port : undefined;
      }, 'a new primary', timeoutMs),
    async restartAsReplica(port) {
      const now = await until(masterPort, 'a primary', 10_000);
      rmSync(join(dir, `dump-${port}.rdb`), { force: true });
      await startData(port, now);
    },
    replicasOnline: async () => replicasOnlineAt(await until(masterPort, 'a primary', 10_000)),
    async stop() {
      for (const s of sentinels) s.disconnect();
      await Promise.all(
        [...procs.values()].map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGKILL');
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function replicasOnlineAt(port: number): Promise<number> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    const info = await r.info('replication');
    return [...info.matchAll(/^slave\d+:.*state=online/gm)].length;
  } finally {
    r.disconnect();
  }
}

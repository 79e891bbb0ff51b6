import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { resolve } from 'node:path';

/** What to do when REDIS_URL is unset and no redis-server can be run. */
export const INSTALL_REDIS_HINT =
  'REDIS_URL is not set, so ir-bot would start its own redis-server, but none was found on PATH. ' +
  'Install Redis 7 or later (Debian/Ubuntu: `sudo apt-get install redis-server`; Fedora: `sudo dnf install redis`; ' +
  'macOS: `brew install redis`) or set REDIS_URL to a Redis you run (production: maxmemory-policy noeviction, appendonly yes).';

export class RedisNotInstalledError extends Error {
  constructor() {
    super(INSTALL_REDIS_HINT);
    this.name = 'RedisNotInstalledError';
  }
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  dataDir: string;
  pid: number;
  /** Stops redis-server (it writes its AOF and exits) and waits for it to be gone. */
  stop(): Promise<void>;
}

export interface EmbeddedRedisOptions {
  dataDir: string;
  /** 0 = a free port chosen at start. */
  port?: number;
  binary?: string;
  startTimeoutMs?: number;
}

/**
 * Runs redis-server under a tiny `sh` guard whose stdin is a pipe from this process: whenever the
 * pipe closes — a clean stop, a crash, even SIGKILL — `read` returns and the guard stops Redis, so
 * no redis-server outlives the bot. The guard runs in its own process group, so the Ctrl-C a
 * terminal sends to the bot's group does not stop Redis before the bot has finished its jobs.
 */
const GUARD = 'redis-server "$@" & r=$!; trap "" INT; read _; kill $r 2>/dev/null; wait $r';

export async function startEmbeddedRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const binary = opts.binary ?? 'redis-server';
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new RedisNotInstalledError();

  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const port = opts.port || (await freeLoopbackPort());
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--protected-mode', 'yes',
    '--dir', dataDir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
    '--loglevel', 'warning',
    '--logfile', 'redis.log',
  ];
  const guard: ChildProcess = spawn('sh', ['-c', GUARD.replace('redis-server', quote(binary)), 'ir-bot-redis', ...args], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  const exited = new Promise<void>((done) => guard.once('exit', () => done()));
  let gone = false;
  void exited.then(() => (gone = true));

  try {
    await waitForPort(port, opts.startTimeoutMs ?? 10_000, () => gone);
  } catch (err) {
    guard.stdin?.end();
    throw new Error(`redis-server did not start on 127.0.0.1:${port} (${(err as Error).message}); see ${dataDir}/redis.log`);
  }
  // The guard holds no event-loop reference of ours: a bot that exits for any reason closes the pipe.
  guard.unref();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dataDir,
    pid: guard.pid ?? 0,
    async stop() {
      if (gone) return;
      // Hold the event loop until Redis has written its AOF and exited.
      guard.ref();
      guard.stdin?.end();
      await exited;
    },
  };
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error('it exited');
    if (await pong(port)) return;
    if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One PING over a raw socket: true when Redis answers +PONG (it may still be loading its AOF). */
function pong(port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      sock.destroy();
      done(ok);
    };
    sock.setTimeout(1000, () => finish(false));
    sock.once('error', () => finish(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => finish(d.toString().startsWith('+PONG')));
  });
}

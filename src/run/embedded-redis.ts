import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { join, resolve } from 'node:path';

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
  /** Where it listens, safe to log: no password. */
  url: string;
  /** What clients connect with: `url` with the password only this process knows. */
  connectionUrl: string;
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

/** Another ir-bot is running a Redis on the same data directory: a second server would corrupt its AOF. */
export class DataDirInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `REDIS_DATA_DIR ${dataDir} is in use by another ir-bot (process ${pid}), whose private redis-server writes the AOF there; ` +
        `a second redis-server on the same AOF would corrupt it. Stop that ir-bot first, or give this one another REDIS_DATA_DIR. ` +
        `If no ir-bot is running, delete ${join(dataDir, LOCK_FILE)}.`,
    );
    this.name = 'DataDirInUseError';
  }
}

const LOCK_FILE = 'ir-bot-redis.lock';
/** redis-server writes its own pid here (and removes it on a clean exit): how an orphan is found. */
const PID_FILE = 'redis.pid';
const CONF_FILE = 'redis.conf';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Where /proc says what a process is (Linux), whether it is a redis-server; elsewhere the pid file is trusted. */
function isRedisServer(pid: number): boolean {
  try {
    return /redis-server/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return !existsSync('/proc/self');
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * Takes the data directory for this process. A lock held by a live ir-bot refuses; a lock left by
 * a dead one is taken over, after stopping the redis-server it may have left behind (its guard
 * killed with it): SIGTERM makes Redis finish its AOF and exit, so nothing acknowledged is lost
 * and two servers never write the same AOF.
 */
async function lockDataDir(dataDir: string): Promise<() => void> {
  const lock = join(dataDir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        if (readPid(lock) === process.pid) unlinkSync(lock);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
    }
    const owner = readPid(lock);
    // A container restarts with the same pid: a lock naming this very process is a leftover.
    if (owner && owner !== process.pid && alive(owner)) throw new DataDirInUseError(dataDir, owner);
    const orphan = readPid(join(dataDir, PID_FILE));
    if (orphan && alive(orphan) && isRedisServer(orphan)) {
      process.kill(orphan, 'SIGTERM');
      if (!(await waitGone(orphan, 15_000))) throw new Error(`a redis-server left running on ${dataDir} (process ${orphan}) did not stop on SIGTERM within 15 s; stop it, then start ir-bot again`);
    }
    unlinkSync(lock);
  }
}

/** Owner-only: the AOF holds every finding, request and audit entry; Redis writes new files with the guard's umask 077. */
function restrict(dataDir: string): void {
  chmodSync(dataDir, 0o700);
  for (const name of readdirSync(dataDir)) {
    const path = join(dataDir, name);
    const st = statSync(path);
    chmodSync(path, st.isDirectory() ? 0o700 : 0o600);
    if (st.isDirectory()) for (const inner of readdirSync(path)) chmodSync(join(path, inner), 0o600);
  }
}

/**
 * Runs redis-server under a tiny `sh` guard whose stdin is a pipe from this process: whenever the
 * pipe closes — a clean stop, a crash, even SIGKILL — `read` returns and the guard stops Redis, so
 * no redis-server outlives the bot. The guard runs in its own process group, so the Ctrl-C a
 * terminal sends to the bot's group does not stop Redis before the bot has finished its jobs.
 */
const GUARD = 'umask 077; redis-server "$@" & r=$!; trap "" INT; read _; kill $r 2>/dev/null; wait $r';

export async function startEmbeddedRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const binary = opts.binary ?? 'redis-server';
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new RedisNotInstalledError();

  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  restrict(dataDir);
  const unlock = await lockDataDir(dataDir);
  const port = opts.port || (await freeLoopbackPort());
  // Any local user can reach a loopback port: a fresh password each start, in an owner-only file
  // (a command-line argument would be readable by everyone in /proc).
  const password = randomBytes(24).toString('hex');
  const conf = [
    `port ${port}`,
    'bind 127.0.0.1',
    'protected-mode yes',
    `requirepass ${password}`,
    `dir ${confString(dataDir)}`,
    `pidfile ${confString(join(dataDir, PID_FILE))}`,
    'appendonly yes',
    'appendfsync everysec',
    'save ""',
    'maxmemory-policy noeviction',
    'daemonize no',
    'loglevel warning',
    'logfile redis.log',
  ];
  writeFileSync(join(dataDir, CONF_FILE), `${conf.join('\n')}\n`, { mode: 0o600 });
  chmodSync(join(dataDir, CONF_FILE), 0o600);
  const guard: ChildProcess = spawn('sh', ['-c', GUARD.replace('redis-server', quote(binary)), 'ir-bot-redis', join(dataDir, CONF_FILE)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  let stopping = false;
  const exited = new Promise<void>((done) =>
    guard.once('exit', () => {
      if (stopping) unlock();
      // The guard was killed under a running Redis: stop its process group (Redis with it) rather
      // than leave an orphan on the AOF. The lock stays while this process lives: its Redis is gone,
      // but a second ir-bot on the same directory is still refused until it exits.
      else if (guard.pid) killGroup(guard.pid);
      done();
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));

  try {
    await waitForPort(port, password, opts.startTimeoutMs ?? 10_000, () => gone);
  } catch (err) {
    stopping = true;
    guard.stdin?.end();
    throw new Error(`redis-server did not start on 127.0.0.1:${port} (${(err as Error).message}); see ${dataDir}/redis.log`);
  }
  // The guard holds no event-loop reference of ours: a bot that exits for any reason closes the pipe.
  guard.unref();
  return {
    url: `redis://127.0.0.1:${port}`,
    connectionUrl: `redis://:${password}@127.0.0.1:${port}`,
    port,
    dataDir,
    pid: guard.pid ?? 0,
    async stop() {
      if (gone) return;
      stopping = true;
      // Hold the event loop until Redis has written its AOF and exited.
      guard.ref();
      guard.stdin?.end();
      await exited;
    },
  };
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}

/** A path as a double-quoted redis.conf string. */
function confString(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`;
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

async function waitForPort(port: number, password: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error('it exited');
    if (await pong(port, password)) return;
    if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** AUTH and one PING over a raw socket: true when Redis answers +PONG (it may still be loading its AOF). */
function pong(port: number, password: string): Promise<boolean> {
  return new Promise((done) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      sock.destroy();
      done(ok);
    };
    sock.setTimeout(1000, () => finish(false));
    sock.once('error', () => finish(false));
    sock.once('connect', () => sock.write(`AUTH ${password}\r\nPING\r\n`));
    let answer = '';
    sock.on('data', (d) => {
      answer += d.toString();
      if (answer.includes('+PONG') || answer.startsWith('-')) finish(answer.includes('+PONG'));
    });
  });
}

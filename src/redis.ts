import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './log';

/**
 * Where Redis is: one URL (a single server, or a managed Redis that fails over behind one DNS
 * name such as ElastiCache's primary endpoint), or a set of Sentinels that name the current
 * primary of `master`.
 */
export type RedisEndpoint =
  | {
      kind: 'url';
      /** `redis://` or `rediss://` (TLS), credentials in the URL: `rediss://user:password@host:6380`. */
      url: string;
      /** REDIS_TLS_CA_FILE: a private CA for a rediss:// server's certificate. */
      tlsCa?: string;
    }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      master: string;
      /** ACL user and password of the data nodes (Sentinel hands out addresses, never credentials). */
      username?: string;
      password?: string;
      /** `requirepass` of the sentinels themselves. */
      sentinelPassword?: string;
      /** TLS to the data nodes and the sentinels alike; `ca` unset = the system CAs. */
      tls?: { ca?: string };
    };

/**
 * What a connection is for. Producers in request handlers fail fast when Redis is down (the
 * caller answers 503 and the sender retries); workers wait for Redis to come back instead of
 * failing jobs. The intake connection is a producer that sends every command issued in one
 * event-loop turn as one write: under a storm, many requests' Lua steps share one round trip.
 * BullMQ's connections keep plain writes (auto-pipelining is not supported there).
 */
export type RedisRole = 'producer' | 'intake' | 'worker';

/**
 * A primary demoted to replica (a failover the client did not see as a dropped connection, e.g.
 * a partition, or a managed Redis's DNS still naming the old node) answers writes with READONLY.
 * Reconnecting asks Sentinel (or DNS) again. Workers resend the command on the new primary;
 * producers let it fail, so the request is answered 503 and the sender retries.
 */
const isReadonly = (err: Error) => err.message.startsWith('READONLY');

/** The arguments of `new Redis(...)` for an endpoint and role: the one place connection options are decided. */
export function ioredisArgs(endpoint: RedisEndpoint, role: RedisRole): [string, RedisOptions] | [RedisOptions] {
  const producer: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, reconnectOnError: (err) => isReadonly(err) && 1 };
  const byRole: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, reconnectOnError: (err) => isReadonly(err) && 2 }
      : role === 'intake'
        ? { ...producer, enableAutoPipelining: true }
        : producer;
  if (endpoint.kind === 'url') {
    // rediss:// turns TLS on by itself (verified against the system CAs); the CA file adds a private one.
    return [endpoint.url, { ...byRole, ...(endpoint.tlsCa ? { tls: { ca: endpoint.tlsCa } } : {}) }];
  }
  const tls = endpoint.tls ? (endpoint.tls.ca ? { ca: endpoint.tls.ca } : {}) : undefined;
  return [
    {
      ...byRole,
      sentinels: endpoint.sentinels,
      name: endpoint.master,
      username: endpoint.username,
      password: endpoint.password,
      sentinelPassword: endpoint.sentinelPassword,
      ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
      // No failoverDetector: its sentinel subscriptions can outlive a connection closed while it
      // reconnects (a process that never exits). A failover is seen anyway: the dead primary's
      // sockets drop, Sentinel kills the clients of a node it demotes, and READONLY reconnects.
      // Each attempt asks the sentinels where the primary is now: cheap, so try often (at most
      // every 500 ms) and shorten the time without a primary after a failover.
      retryStrategy: (times) => Math.min(times * 50, 500),
    },
  ];
}

export function redisConnection(endpoint: RedisEndpoint, role: RedisRole, log: Logger): Redis {
  const args = ioredisArgs(endpoint, role);
  const conn = args.length === 2 ? new Redis(args[0], { ...args[1], lazyConnect: false }) : new Redis({ ...args[0], lazyConnect: false });
  let lastError = '';
  conn.on('error', (err: Error) => {
    // ioredis repeats the same error on every reconnect attempt; log each distinct one.
    if (err.message !== lastError) log.warn({ err: err.message, role }, 'redis connection error');
    lastError = err.message;
  });
  conn.on('ready', () => {
    if (lastError) log.info({ role }, 'redis connection restored');
    lastError = '';
  });
  return conn;
}

/**
 * Waits (up to `ms`) until a fail-fast connection is connected, so a process that starts
 * serving right after start-up does not refuse its first requests. Redis still down after that:
 * requests get 503s until it is back, and /healthz says so.
 */
export async function whenReady(conn: Redis, ms: number): Promise<void> {
  if (conn.status === 'ready') return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      conn.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    conn.once('ready', done);
  });
}

/** Taken before a request's writes; `confirm()` after them says whether enough replicas hold them. */
export interface ReplicaMark {
  confirm(): Promise<boolean>;
}

/** With REDIS_WAIT_REPLICAS 0: nothing is waited for. */
export const NO_REPLICA_WAIT: ReplicaMark = { confirm: async () => true };

/**
 * REDIS_WAIT_REPLICAS: before an acknowledgement (202, "queued", "approved") goes out, makes sure
 * `replicas` replicas hold everything this process wrote so far. Redis's WAIT only covers the
 * writes of the connection it is sent on, and ours are spread over several (intake, queues); but
 * a primary replicates in the order it executed, so one small write on a connection of its own,
 * sent after the caller's writes were answered, followed by WAIT on that connection, covers them
 * all. Callers arriving while a WAIT is out share the next one, so a lagging replica costs at most
 * two WAITs in a row, never one per request.
 *
 * That reasoning holds only while the WAIT's connection stays on the server the caller wrote to.
 * If it dropped after the caller began (a failover), the WAIT (or ioredis's resend of it) may
 * have run on a new primary that never saw the caller's writes, with replicas of its own that
 * answer it: so a mark taken before the writes is only confirmed when the connection did not
 * drop in between.
 */
export class ReplicaWait {
  private running?: Promise<boolean>;
  private queued?: Promise<boolean>;
  /** Bumped whenever the WAIT connection closes: a mark from before then can no longer be confirmed. */
  private incarnation = 0;

  constructor(
    private readonly conn: Redis | undefined,
    private readonly key: string,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {
    conn?.on('close', () => {
      this.incarnation += 1;
    });
  }

  /** Call before writing; the mark's `confirm()` after the writes. */
  mark(): ReplicaMark {
    if (this.replicas === 0 || !this.conn) return NO_REPLICA_WAIT;
    const at = this.incarnation;
    return {
      confirm: async () => {
        const held = await this.waitForReplicas();
        return held && this.incarnation === at;
      },
    };
  }

  /** True when enough replicas hold every write made before the call; false when they did not within the timeout. Throws when Redis is unreachable. */
  private waitForReplicas(): Promise<boolean> {
    if (!this.running) return this.start();
    this.queued ??= this.running.then(noop, noop).then(() => {
      this.queued = undefined;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<boolean> {
    const p = this.conn!.pipeline()
      .set(this.key, String(Date.now()), 'PX', 60_000)
      .wait(this.replicas, this.timeoutMs)
      .exec()
      .then((rows) => {
        const [setErr] = rows?.[0] ?? [new Error('no reply')];
        const [waitErr, acked] = rows?.[1] ?? [new Error('no reply')];
        if (setErr || waitErr) throw setErr ?? waitErr;
        return Number(acked) >= this.replicas;
      });
    this.running = p;
    const clear = () => {
      if (this.running === p) this.running = undefined;
    };
    p.then(clear, clear);
    return p;
  }
}

function noop(): void {}

/** Thrown where an acknowledgement would go out but the write is not yet on enough replicas. */
export class NotReplicatedError extends Error {
  constructor(replicas: number) {
    super(`fewer than ${replicas} replica(s) confirmed the write in time (REDIS_WAIT_REPLICAS)`);
    this.name = 'NotReplicatedError';
  }
}

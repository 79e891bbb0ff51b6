import type { Redis } from 'ioredis';
import { createLogger } from '../src/log';
import { ReplicaWait, redisConnection, whenReady, type RedisEndpoint } from '../src/redis';
import { startSentinelGroup, type SentinelGroup } from './support/sentinel-group';

// REDIS_WAIT_REPLICAS: an acknowledgement may only say "held by a replica" when the WAIT ran on
// the server the caller wrote to. A primary with one replica, reached through Sentinel.
describe('ReplicaWait', () => {
  let group: SentinelGroup;
  let waitConn: Redis;
  let writer: Redis;
  let replicas: ReplicaWait;

  beforeAll(async () => {
    group = await startSentinelGroup();
    const endpoint: RedisEndpoint = { kind: 'sentinel', sentinels: group.sentinels, master: group.master };
    const log = createLogger('silent');
    waitConn = redisConnection(endpoint, 'producer', log);
    writer = redisConnection(endpoint, 'producer', log);
    await Promise.all([whenReady(waitConn, 10_000), whenReady(writer, 10_000)]);
    replicas = new ReplicaWait(waitConn, 'test:replicated', 1, 2000);
  }, 60_000);

  afterAll(async () => {
    waitConn?.disconnect();
    writer?.disconnect();
    await group?.stop();
  });

  it('confirms writes made on another connection once the replica holds them', async () => {
    const written = replicas.mark();
    await writer.set('test:finding', 'stored');
    expect(await written.confirm()).toBe(true);
  });

  it('does not confirm writes made before its connection dropped and came back (it may be on another primary now)', async () => {
    const written = replicas.mark();
    await writer.set('test:finding', 'stored again');
    waitConn.disconnect(true);
    await new Promise((r) => setTimeout(r, 50));
    await whenReady(waitConn, 10_000);
    expect(waitConn.status).toBe('ready');
    expect(await written.confirm()).toBe(false);
    // Writes begun after the reconnect are confirmed as usual.
    const next = replicas.mark();
    await writer.set('test:finding', 'stored a third time');
    expect(await next.confirm()).toBe(true);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';
import { startRedisServer, type RedisServer } from '../support/redis-server';

/** A throw-away CA-less self-signed certificate for 127.0.0.1. */
function certificate(): { cert: string; key: string; ca: string } {
  const dir = mkdtempSync(join(tmpdir(), 'irbot-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key, ca: cert };
}

describe('Redis holds executable plans: it needs a password, and TLS works', () => {
  let h: Harness;
  let server: RedisServer | undefined;
  tearDownAfterEach(() => ({ h }));
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('docker-compose runs Redis with the default user off and an ACL user whose password the bot uses', () => {
    const compose = parse(readFileSync(join(__dirname, '../../docker-compose.yml'), 'utf8')) as any;
    const command = (compose.services.redis.command as string[]).join(' ');
    expect(command).toContain('--user default off');
    expect(command).toMatch(/--user irbot on >\$\{REDIS_PASSWORD/);
    for (const svc of ['bot', 'worker']) expect(compose.services[svc].environment.REDIS_URL).toBe('redis://irbot:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@redis:6379');
    expect(readFileSync(join(__dirname, '../../.env.example'), 'utf8')).toMatch(/^REDIS_PASSWORD=/m);
  });

  it('works end to end over rediss:// with an ACL user and a private CA, and Redis refuses a client without the password', async () => {
    const tls = certificate();
    server = await startRedisServer({ tls, acl: { user: 'irbot', password: 'redis-password-0123456789' } });
    expect(server.url).toMatch(/^rediss:\/\/irbot:/);
    h = await startHarness({ env: { REDIS_URL: server.url, REDIS_TLS_CA_FILE: tls.ca } });
    expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
    await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the card, queued and rendered through TLS Redis');

    const anonymous = new Redis(`rediss://127.0.0.1:${server.port}`, { tls: { ca: readFileSync(tls.ca, 'utf8') }, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    const errors: string[] = [];
    anonymous.on('error', (err: Error) => errors.push(err.message));
    await expect(anonymous.connect().then(() => anonymous.ping())).rejects.toThrow();
    expect(errors.join(' ')).toMatch(/NOAUTH|WRONGPASS|disabled/i);
    anonymous.disconnect();
  });
});

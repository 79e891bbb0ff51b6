import { createServer, type AddressInfo } from 'node:net';
import { RedisNotInstalledError } from '../src/run/embedded-redis';
import { startDemo } from './demo';

/** The first port after `port` that can be listened on now (any free one if the next 100 are taken). */
async function freePortAfter(port: number): Promise<number> {
  const tryPort = (p: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(p, () => {
        const got = (server.address() as AddressInfo).port;
        server.close(() => resolve(got));
      });
    });
  for (let p = port + 1; p <= Math.min(port + 100, 65535); p++) {
    const ok = await tryPort(p);
    if (ok) return ok;
  }
  return (await tryPort(0)) ?? port + 1;
}

/** `npm run demo`: the whole incident in a browser, with stand-ins for Slack and AWS. */
async function main(): Promise<void> {
  const port = Number(process.env.DEMO_PORT ?? 3030);
  let demo;
  try {
    demo = await startDemo({ port, logLevel: process.env.LOG_LEVEL ?? 'warn' });
  } catch (err) {
    if (err instanceof RedisNotInstalledError) {
      process.stderr.write(`The demo needs a redis-server binary: ${err.message}\n`);
      process.exit(1);
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      const free = await freePortAfter(port);
      process.stderr.write(`Port ${port} is taken; ${free} is free: DEMO_PORT=${free} npm run demo\n`);
      process.exit(1);
    }
    throw err;
  }
  process.stdout.write(
    [
      '',
      `  ir-bot demo: open ${demo.url}`,
      '',
      '  The real bot and worker are running, on 127.0.0.1 only; Slack, AWS (EC2, IAM, CloudTrail, SSM, S3), Athena and GuardDuty are local stand-ins.',
      `  The bot itself (HTTP mode): ${demo.botUrl}/slack/events, /aws/events, /healthz, /metrics`,
      '  Eleven GuardDuty findings (a web server and ten crypto miners) were just replayed into /aws/events.',
      '  Work the incident as Ana (responder) and Lee (approver). Ctrl-C stops everything.',
      '',
    ].join('\n') + '\n',
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await demo.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: Error) => {
  process.stderr.write(`the demo failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigOrExit } from './config/load';
import { createLogger } from './log';
import { Metrics } from './metrics';
import { startBot, type Running } from './run/bot';
import { RedisNotInstalledError, startEmbeddedRedis, type EmbeddedRedis } from './run/embedded-redis';
import { StartupError, checkRedis, checkSlackToken, placeholderWarning } from './run/startup-checks';
import { startWorker } from './run/worker';

/** The repository (or image) root: src/.. under tsx, dist/.. when built. */
const ROOT = join(__dirname, '..');

function readIfThere(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

type Mode = 'all' | 'bot' | 'worker';

async function main(mode: Mode): Promise<void> {
  let config = loadConfigOrExit(process.env);
  const log = createLogger(config.logLevel);
  const placeholders = placeholderWarning(process.env, {
    envExample: readIfThere(join(ROOT, '.env.example')),
    configExample: readIfThere(join(ROOT, 'config/ir-bot.example.yaml')),
    configText: readIfThere(config.configPath),
    configPath: config.configPath,
  });
  if (config.embeddedRedis && mode !== 'all') {
    // A private Redis per process would leave the bot's queues without a worker.
    process.stderr.write(`ir-bot cannot start: REDIS_URL (or REDIS_SENTINELS) is required when the bot and the worker run as separate processes ("${mode}")\n`);
    process.exit(1);
  }
  const metrics = new Metrics();
  const running: Running[] = [];
  let redis: EmbeddedRedis | undefined;

  // Signals are handled from the first moment: a SIGTERM during start-up waits for the start to
  // finish, then stops everything in order (the default action would kill the process outright).
  let startup: Promise<void> = Promise.resolve();
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing running jobs');
    const force = setTimeout(() => {
      log.warn('shutdown took too long; unfinished jobs will be re-run by another worker');
      process.exit(1);
    }, 25_000);
    force.unref();
    await startup.catch(() => undefined);
    for (const r of running) await r.stop();
    await redis?.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  startup = (async () => {
    if (config.embeddedRedis) {
      try {
        redis = await startEmbeddedRedis({ dataDir: config.embeddedRedis.dataDir });
      } catch (err) {
        if (err instanceof RedisNotInstalledError) {
          process.stderr.write(`ir-bot cannot start: ${err.message}\n`);
          process.exit(1);
        }
        throw err;
      }
      config = { ...config, redis: { kind: 'url' as const, url: redis.connectionUrl } };
      log.info(
        { redisUrl: redis.url, dataDir: redis.dataDir },
        `REDIS_URL is not set: using a private redis-server on ${redis.url} (AOF on, data in ${redis.dataDir}), stopped with the bot. Set REDIS_URL in production.`,
      );
    }
    // After the private Redis line, which is the first thing a newcomer's `npm start` says.
    if (placeholders) log.warn({ placeholders: true }, placeholders);
    // A refused token or a Redis that never answers stops here, in one line, instead of a
    // process that listens and then logs the same failure many times a second.
    await checkSlackToken(config.slackApp.botToken, config.slackApp.apiUrl);
    if (!config.embeddedRedis) await checkRedis(config.redis, config.redisStartupTimeoutMs);
    if (mode !== 'worker') running.push(await startBot(config, log, metrics));
    if (mode !== 'bot') running.push(await startWorker(config, log, metrics, { serveHttp: mode === 'worker' }));
  })();
  try {
    await startup;
  } catch (err) {
    await redis?.stop();
    throw err;
  }
}

const mode = (process.argv[2] ?? 'all') as Mode;
if (!['all', 'bot', 'worker'].includes(mode)) {
  process.stderr.write(`usage: node dist/main.js [all|bot|worker] (got "${mode}")\n`);
  process.exit(2);
}
main(mode).catch((err: Error) => {
  if (err instanceof StartupError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`ir-bot failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

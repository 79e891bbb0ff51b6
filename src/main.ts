import { ConfigError, loadConfig } from './config/load';
import { createLogger } from './log';
import { Metrics } from './metrics';
import { startBot, type Running } from './run/bot';
import { startWorker } from './run/worker';

type Mode = 'all' | 'bot' | 'worker';

async function main(mode: Mode): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const metrics = new Metrics();
  const running: Running[] = [];
  if (mode !== 'worker') running.push(await startBot(config, log, metrics));
  if (mode !== 'bot') running.push(await startWorker(config, log, metrics, { serveHttp: mode === 'worker' }));

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
    for (const r of running) await r.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

const mode = (process.argv[2] ?? 'all') as Mode;
if (!['all', 'bot', 'worker'].includes(mode)) {
  process.stderr.write(`usage: node dist/main.js [all|bot|worker] (got "${mode}")\n`);
  process.exit(2);
}
main(mode).catch((err: Error) => {
  process.stderr.write(`ir-bot failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

import type { ChildProcess } from 'node:child_process';
import { loadConfig } from '../../src/config/load';
import { createLogger } from '../../src/log';
import { Metrics } from '../../src/metrics';
import { startWorker, type WorkerOptions } from '../../src/run/worker';

/**
 * The body of a worker child process for the fault and kill suites: the real worker, configured
 * from the environment the parent passes (IR_CONFIG, REDIS_URL, …), with the given options.
 * Prints READY once it takes jobs; SIGTERM stops it the way production does.
 */
export function runWorkerProcess(name: string, opts: Omit<WorkerOptions, 'serveHttp'>): void {
  void (async () => {
    const config = loadConfig(process.env);
    const worker = await startWorker(config, createLogger(config.logLevel), new Metrics(false), { serveHttp: false, ...opts });
    process.stdout.write('READY\n');
    process.on('SIGTERM', () => {
      void worker.stop().finally(() => process.exit(0));
    });
  })().catch((err: Error) => {
    process.stderr.write(`${name} failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}

/** SIGTERM, then SIGKILL if the child has not exited after `graceMs`; resolves once it has exited. */
export async function terminate(p: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((done) => {
    const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
    p.once('exit', () => {
      clearTimeout(t);
      done();
    });
    p.kill('SIGTERM');
  });
}
